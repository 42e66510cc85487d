"""`passerelle run`: one App, served by polling or by the webhook server, then closed.

Apart from bot.app so that the App knows nothing of how it is served (bot.webhook builds on
the App; the App never imports it back).
"""

from __future__ import annotations

from bot.app import App
from bot.config import Settings


async def run(settings: Settings) -> None:
    """`passerelle run`."""
    app = await App.create(settings)
    try:
        if settings.webhook_url:
            from bot.webhook import run_webhook  # aiohttp's server only where it serves

            await run_webhook(app)
        else:
            await app.run_polling()
    finally:
        await app.close()
