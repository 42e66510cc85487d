"""`passerelle`, the one command of operators, moderators and developers: one module per group
of subcommands. No aiogram at import time here, so these commands start in a blink."""
