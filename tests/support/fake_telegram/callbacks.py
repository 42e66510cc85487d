"""Callback queries: made when a user presses a button, answered by the bot exactly once."""

from __future__ import annotations

import itertools

from tests.support.fake_telegram.errors import QUERY_TOO_OLD, bad_request
from tests.support.fake_telegram.parse_mode import utf16_len
from tests.support.fake_telegram.spec import JSON, MethodSpec

CALLBACK_ANSWER_LIMIT = 200


class Callbacks:
    """Callback queries: part of ``FakeTelegram``, which sets up the state."""

    callback_answers: dict[str, JSON]
    _callback_queries: dict[str, JSON]
    _query_ids: itertools.count[int]

    def new_callback_query(self, user: JSON, message: JSON, data: str) -> JSON:
        """A CallbackQuery the bot may answer exactly once."""
        query_id = str(4_000_000_000_000_000_000 + next(self._query_ids))
        chat_id = message["chat"]["id"]
        self._callback_queries[query_id] = {"answered": False, "at": self.now()}
        return {
            "id": query_id,
            "from": user,
            "message": message,
            "chat_instance": str((chat_id * 2654435761) % 10**18),
            "data": data,
        }

    def unanswered_callback_queries(self) -> list[str]:
        """Ids of callback queries the bot never answered (the user sees a spinner)."""
        return [qid for qid, q in self._callback_queries.items() if not q["answered"]]

    def _answer_callback_query(self, _spec: MethodSpec, params: JSON) -> bool:
        query = self._callback_queries.get(params.get("callback_query_id", ""))
        if query is None or query["answered"]:
            raise bad_request(QUERY_TOO_OLD)
        if utf16_len(params.get("text") or "") > CALLBACK_ANSWER_LIMIT:
            raise bad_request("MESSAGE_TOO_LONG")
        query["answered"] = True
        self.callback_answers[params["callback_query_id"]] = {
            k: v for k, v in params.items() if k != "callback_query_id"
        }
        return True
