"""A fake Telegram Bot API server, and scripted users to talk to a bot through it.

Why: the bot's tests should run the real aiogram ``Bot``/``Dispatcher`` end to end, and a
mistake Telegram would refuse (a 65-byte callback_data, unescaped ``<`` under HTML, an
edit to identical content...) must fail in the tests, not in front of a person.

The server speaks the Bot API over HTTP (``POST {base}/bot{token}/{method}``), knows every
method of the machine-readable spec in ``tests/support/telegram/bot-api.json`` and refuses what
Telegram refuses, with Telegram's HTTP status, ``error_code`` and ``description``.

Usage::

    async with FakeTelegram() as fake:
        bot = fake.make_bot()            # or Bot(token, session=AiohttpSession(api=...))
        user = FakeUser(fake, 42)
        ... start the dispatcher polling with handle_as_tasks=False ...
        await user.send("/start")        # returns once the bot has handled the update
        await user.press("Oui")
        assert fake.refused == []

Webhook mode: once the bot calls ``setWebhook`` with a URL, ``push`` POSTs each update to
it as Telegram does (JSON body, ``X-Telegram-Bot-Api-Secret-Token`` when a secret token
was set, one update at a time per chat, up to ``max_connections`` at once), retries a
non-2xx answer or a network error ``webhook_attempts`` times ``webhook_retry_delay``
apart (every failed attempt is in ``webhook_failures``), and runs a method the bot
returns in its answer. ``processed`` then resolves on the 2xx answer; ``getUpdates`` is
refused with 409 while a webhook is set. ``FakeUser`` works the same in both modes.

Methods with real behaviour: getMe, getUpdates, set/delete/getWebhook(Info), logOut, close,
sendMessage, editMessageText, editMessageCaption, editMessageReplyMarkup, deleteMessage,
deleteMessages, answerCallbackQuery, set/get/deleteMyCommands, set/getMy(Short)Description,
set/getMyName, set/getChatMenuButton, sendChatAction, getChat, getChatMember,
forwardMessage(s), copyMessage(s).  Every other ``send*`` method that returns a Message
stores a message whose media field is a placeholder built from the spec.  Any other method
of the spec is validated (required fields, known chat), recorded, and answered with
``True`` when it returns a Boolean, ``[]`` when it returns an Array, or else a placeholder
object carrying the spec's required fields (so that aiogram can parse it).

Differences from Telegram, on purpose: the HTML parser is stricter (a bare ``>``, or an
``&`` that does not start ``&lt;``/``&gt;``/``&amp;``/``&quot;``/``&#N;``/``&#xH;``, is refused);
Markdown/MarkdownV2 text is stored as sent, unparsed; text length is counted in UTF-16 code
units of the text after entity parsing (what the person sees: an emoji or a CJK character
outside the BMP counts 2), the unit of Telegram's entity offsets and the stricter reading of
its "characters"; URLs, mentions and hashtags are not auto-detected as entities. A message
sent with ``protect_content`` carries ``has_protected_content``, and keeps it when edited.

The parts, one module each (``FakeTelegram`` mixes them and holds their state):
``spec`` reads and indexes bot-api.json; ``errors`` has Telegram's refusals and the call
records; ``parse_mode`` parses HTML as Telegram does; ``server`` is the HTTP endpoint and
the dispatch; ``updates`` the getUpdates queue; ``webhook`` webhook mode; ``faults`` the
failures a test schedules; ``chats``, ``messages``, ``callbacks`` and ``bot_settings`` the
methods with real behaviour; ``users`` the scripted ``FakeUser``.
"""

from tests.support.fake_telegram.server import FakeTelegram
from tests.support.fake_telegram.users import FakeUser

__all__ = ["FakeTelegram", "FakeUser"]
