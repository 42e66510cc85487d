"""The Telegram channel: aiogram routers, rendering, middlewares, CLI and start-up.

Nothing imports this package; it imports `dialogs` and `storage`.
"""
