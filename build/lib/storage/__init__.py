"""Persistence: SQLAlchemy 2 async models and repositories (the "mailroom" side).

Nothing here holds anything about a person seeking help: only association staff,
directory data and anonymous tickets may be stored.
"""
