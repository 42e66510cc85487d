"""Pure dialogue engine and the moderated YAML scripts.

This package is the "goflow" of Passerelle: it knows nothing of Telegram or of the
database, so the same scripts can be tried in a terminal, linted in CI, or served by
another channel.
"""
