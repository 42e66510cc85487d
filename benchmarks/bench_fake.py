"""The benchmark's fake Bot API, in a process of its own, steered by the driver over a socket.

    python -m benchmarks.bench_fake

Prints one JSON line, ``{"base_url": ..., "control_port": ...}``, then serves until SIGTERM.
The bot polls ``base_url`` as it would poll Telegram. The driver (benchmarks/bench_driver.py)
connects to ``control_port`` and sends one command a line:

    s CHAT TEXT     the person of CHAT sends TEXT
    p CHAT LABEL    they press the button labelled LABEL on the bot's latest keyboard
    x CHAT          they press a button with data "x" on the bot's latest message (bare floors)
    ?               answer one JSON line: refused calls, callback queries answered or not

and is told ``r CHAT`` each time the bot sends or edits a message in CHAT (the reply it
waits for), or ``e CHAT WHY`` when a command cannot be carried out.

The fake itself is tests/support/fake_telegram/, unchanged and just as strict; this wrapper only
remembers each chat's latest bot message, so that finding the button to press does not
scan a chat's whole history (which grows for the whole run and would slow the harness,
not the bot, more for the floors, which send a new message every step).
"""

from __future__ import annotations

import asyncio
import gc
import json
import signal
from typing import Any

from tests.support.fake_telegram import FakeTelegram, FakeUser


class Harness:
    def __init__(self) -> None:
        self.fake = FakeTelegram(keep_requests=False)
        self.users: dict[int, FakeUser] = {}
        self.latest: dict[int, dict[str, Any]] = {}
        """Each chat's latest bot message (sent or edited)."""
        self.latest_keyboard: dict[int, dict[str, Any]] = {}
        """Each chat's latest bot message with an inline keyboard."""
        self.writer: asyncio.StreamWriter | None = None
        for name in ("sendMessage", "editMessageText"):
            self.fake._handlers[name] = self._watch(self.fake._handlers[name])

    def _watch(self, original: Any) -> Any:
        def handler(spec: Any, params: dict[str, Any]) -> Any:
            result = original(spec, params)  # raises (and is refused) exactly as before
            if isinstance(result, dict):
                chat = result["chat"]["id"]
                self.latest[chat] = result
                if (result.get("reply_markup") or {}).get("inline_keyboard"):
                    self.latest_keyboard[chat] = result
                if self.writer is not None:
                    self.writer.write(b"r %d\n" % chat)
            return result

        return handler

    def user(self, chat: int) -> FakeUser:
        user = self.users.get(chat)
        if user is None:
            user = self.users[chat] = FakeUser(self.fake, chat)
        return user

    def carry_out(self, line: str) -> None:
        kind, _, rest = line.partition(" ")
        chat_text, _, argument = rest.partition(" ")
        chat = int(chat_text)
        user = self.user(chat)
        if kind == "s":
            message = self.fake.add_user_message(chat, user.user, self._text_fields(argument))
            self.fake.push({"message": message})
        elif kind == "x":
            self.fake.push({"callback_query": self.fake.new_callback_query(user.user, self.latest[chat], "x")})
        elif kind == "p":
            message = self.latest_keyboard[chat]
            wanted = argument.casefold()
            buttons = [b for row in message["reply_markup"]["inline_keyboard"] for b in row]
            found = [b for b in buttons if b["text"].casefold() == wanted] or [
                b for b in buttons if wanted in b["text"].casefold()
            ]
            if len(found) != 1:
                raise LookupError(f"{len(found)} buttons match {argument!r}")
            query = self.fake.new_callback_query(user.user, message, found[0]["callback_data"])
            self.fake.push({"callback_query": query})
        else:
            raise ValueError(f"unknown command {kind!r}")

    @staticmethod
    def _text_fields(text: str) -> dict[str, Any]:
        fields: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            fields["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split(maxsplit=1)[0])}]
        return fields

    def report(self) -> dict[str, Any]:
        answered = len(self.fake.callback_answers)
        return {
            "refused": len(self.fake.refused),
            "refusals": sorted({f"{c.method}: {c.description}" for c in self.fake.refused})[:10],
            "callback_queries": answered + len(self.fake.unanswered_callback_queries()),
            "callbacks_answered": answered,
        }

    async def serve_control(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        while line := (await reader.readline()).decode().rstrip("\n"):
            if line == "?":
                writer.write(json.dumps(self.report()).encode() + b"\n")
                continue
            try:
                self.carry_out(line)
            except Exception as exc:  # noqa: BLE001  (the driver reports it and stops)
                writer.write(f"e {line.split(' ')[1] if ' ' in line else 0} {exc!r}\n".encode())


async def main() -> None:
    harness = Harness()
    base_url = await harness.fake.start()
    control = await asyncio.start_server(harness.serve_control, "127.0.0.1", 0)
    port = control.sockets[0].getsockname()[1]
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    # The harness's own collections must not show up as the bot's latency.
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
    print(json.dumps({"base_url": base_url, "control_port": port}), flush=True)
    await stop.wait()
    control.close()
    await harness.fake.stop()


if __name__ == "__main__":
    asyncio.run(main())
