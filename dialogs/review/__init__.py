"""What moderators read before approving: a transcript, a review sheet, and a diff.

`common` describes a script's strings in words; `transcript` (Markdown) and `sheet` (HTML)
render them in one language; `diff` compares two versions. Nothing here imports the bot:
the command line hands the sheet the bot's own texts and screens.
"""

from dialogs.review.diff import Change, diff, format_diff

__all__ = ["Change", "diff", "format_diff"]
