"""Logging that says what happened, never to whom.

aiogram's own error paths format exceptions and objects that can hold a chat id or a
name (a `TelegramBadRequest` carries its method, a validation error its input). Every
record therefore passes through one filter, and tracebacks keep their frames but lose
their messages.
"""

from __future__ import annotations

import logging
import sys
import traceback
from types import TracebackType
from typing import TextIO

from aiogram.methods.base import TelegramMethod
from aiogram.types.base import TelegramObject

WITHHELD = "(withheld)"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _safe(value: object) -> object:
    if isinstance(value, BaseException):
        return type(value).__name__
    if isinstance(value, (TelegramObject, TelegramMethod)):
        return type(value).__name__
    return value


class IdentityFilter(logging.Filter):
    """Replaces exceptions and Telegram objects in a record's arguments by their type name."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_safe(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _safe(v) for k, v in record.args.items()}
        elif isinstance(record.msg, BaseException | TelegramObject | TelegramMethod):
            record.msg = _safe(record.msg)
        return True


class SafeFormatter(logging.Formatter):
    """Keeps where an exception was raised, drops what it says."""

    def formatException(  # noqa: N802
        self, ei: tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]
    ) -> str:
        kind, _, tb = ei
        name = "NoneType" if kind is None else kind.__name__  # log.exception() outside an except, as logging says
        frames = "".join(traceback.format_tb(tb))
        return f"Traceback (most recent call last):\n{frames}{name}: {WITHHELD}"

    def formatStack(self, stack_info: str) -> str:  # noqa: N802
        return stack_info


def setup_logging(level: str = "INFO", stream: TextIO | None = None) -> logging.Handler:
    """Install the one root handler. Returns it so tests can capture the same output."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(SafeFormatter(FORMAT))
    handler.addFilter(IdentityFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # aiogram.event logs every update at INFO; aiosqlite logs SQL parameters at DEBUG;
    # alembic describes its migration context at INFO on every start.
    for noisy in ("aiogram.event", "aiosqlite", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.getLevelName(level), logging.WARNING))
    return handler
