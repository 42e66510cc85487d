"""How Telegram refuses (status, ``error_code``, its exact texts), and the record of each call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.support.fake_telegram.spec import JSON

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"
GET_UPDATES_CONFLICT = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
)
WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
)
SET_WEBHOOK_CONFLICT = "Conflict: terminated by setWebhook request"
DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


class TelegramError(Exception):
    """A refusal, answered as ``{"ok": false, ...}`` with ``error_code`` as HTTP status."""

    def __init__(
        self,
        error_code: int,
        description: str,
        retry_after: int | None = None,
        migrate_to_chat_id: int | None = None,
    ):
        super().__init__(f"{error_code} {description}")
        self.error_code = error_code
        self.description = description
        self.retry_after = retry_after
        self.migrate_to_chat_id = migrate_to_chat_id

    def payload(self) -> JSON:
        """The response body Telegram would send."""
        body: JSON = {"ok": False, "error_code": self.error_code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        if self.migrate_to_chat_id is not None:
            body["parameters"] = {"migrate_to_chat_id": self.migrate_to_chat_id}
        return body


def bad_request(detail: str) -> TelegramError:
    """400 with Telegram's ``Bad Request: `` prefix."""
    return TelegramError(400, f"Bad Request: {detail}")


@dataclass(slots=True)
class ApiCall:
    """One call the bot made, as tests see it in ``fake.requests``/``fake.refused``."""

    method: str
    params: JSON
    ok: bool
    error_code: int | None = None
    description: str | None = None
    result: Any = None
    injected: bool = False  # the failure came from fail_next/drop_next, not from validation
    at: int = 0  # fake clock, unix seconds


@dataclass(slots=True)
class WebhookDelivery:
    """One failed POST of an update to the bot's webhook, in ``fake.webhook_failures``."""

    update_id: int
    attempt: int
    status: int | None  # None: no HTTP answer (refused connection, timeout...)
    error: str  # "HTTP 401", or the client exception's type name
    at: int = 0  # fake clock, unix seconds
