"""The Bot API spec (bot-api.json), read once and indexed: what each method takes and returns."""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

JSON = dict[str, Any]

SPEC_ENV = "TELEGRAM_BOT_API_SPEC"
VENDORED_SPEC = Path(__file__).resolve().parents[1] / "telegram" / "bot-api.json"
"""Bot API 10.1, from PaulSonOfLars/telegram-bot-api-spec (MIT): see its README beside it."""
INT_RE = re.compile(r"-?\d+")
"""An Integer of the spec, written as text (a form value, an HTML attribute)."""
_CAMEL_RE = re.compile(r"(?<!^)(?=[A-Z])")
_QUOTED_RE = re.compile(r'"([^"]+)"')


@dataclass(frozen=True, slots=True)
class MethodSpec:
    """What the fake needs about one method, precomputed so requests never scan the spec."""

    name: str
    required: tuple[str, ...]
    kinds: dict[str, str]  # field -> str | int | bool | float | int_or_str | file | json
    returns: tuple[str, ...]


def default_spec_path() -> Path:
    """``$TELEGRAM_BOT_API_SPEC``, else the copy vendored in ``tests/support/telegram/``."""
    override = os.environ.get(SPEC_ENV)
    if override:
        path = Path(override)
        if not path.is_file():
            raise FileNotFoundError(f"{SPEC_ENV}={override!r} is not a file")
        return path
    path = VENDORED_SPEC
    if not path.is_file():
        raise FileNotFoundError(
            f"Telegram Bot API spec not found at {path}: set {SPEC_ENV} to the path of bot-api.json"
        )
    return path


def _field_kind(types: Iterable[str]) -> str:
    """How a form value of this spec type is decoded (aiogram JSON-encodes non-strings)."""
    key = tuple(types)
    simple = {
        ("String",): "str",
        ("Integer",): "int",
        ("Boolean",): "bool",
        ("Float",): "float",
        ("Integer", "String"): "int_or_str",
    }
    if key in simple:
        return simple[key]
    if "InputFile" in key:
        return "file"
    return "json"


class ApiSpec:
    """The Bot API spec, indexed for O(1) lookups (method names are case-insensitive)."""

    def __init__(self, raw: JSON):
        self.version: str = raw.get("version", "")
        self.types: dict[str, JSON] = raw["types"]
        self.methods: dict[str, MethodSpec] = {}
        for name, method in raw["methods"].items():
            fields = method.get("fields", [])
            self.methods[name.lower()] = MethodSpec(
                name=name,
                required=tuple(f["name"] for f in fields if f.get("required")),
                kinds={f["name"]: _field_kind(f["types"]) for f in fields},
                returns=tuple(method.get("returns", ())),
            )
        update_fields = [f["name"] for f in self.types["Update"]["fields"]]
        self.update_types: frozenset[str] = frozenset(update_fields) - {"update_id"}
        self.message_fields: dict[str, tuple[str, ...]] = {
            f["name"]: tuple(f["types"]) for f in self.types["Message"]["fields"]
        }
        # sendPhoto -> "photo", sendVideoNote -> "video_note": the Message field it fills.
        self.media_fields: dict[str, str] = {}
        for spec in self.methods.values():
            if spec.name.startswith("send") and spec.returns == ("Message",):
                snake = _CAMEL_RE.sub("_", spec.name[4:]).lower()
                if snake in self.message_fields:
                    self.media_fields[spec.name] = snake

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None) -> ApiSpec:
        """Read and index ``bot-api.json``, once per file version.

        Why cached: the parsed spec is large (~200k objects) and read-only; sharing it keeps
        fixture setup at ~1 ms and spares the garbage collector. Nothing mutable is shared.
        """
        spec_path = Path(path) if path is not None else default_spec_path()
        if not spec_path.is_file():
            raise FileNotFoundError(f"Telegram Bot API spec not found at {spec_path}")
        resolved = spec_path.resolve()
        return _load_spec(str(resolved), resolved.stat().st_mtime_ns)

    def method(self, name: str) -> MethodSpec | None:
        """The method, whatever the case of ``name`` (Telegram ignores it)."""
        return self.methods.get(name.lower())

    def stub(self, type_name: str, _depth: int = 0) -> Any:
        """A minimal valid value of a spec type: its required fields, filled with defaults.

        Why: methods without real behaviour still have to return something aiogram can
        parse. Strings take the first quoted word of their description (so that
        discriminators such as ``status: always "creator"`` are right).
        """
        if type_name.startswith("Array of "):
            return []
        scalars: dict[str, Any] = {
            "Integer": 0,
            "String": "",
            "Boolean": False,
            "True": True,
            "Float": 0.0,
        }
        if type_name in scalars:
            return scalars[type_name]
        spec = self.types.get(type_name)
        if spec is None or _depth > 6:
            return {}
        if spec.get("subtypes"):
            return self.stub(spec["subtypes"][0], _depth + 1)
        value: JSON = {}
        for f in spec.get("fields", []):
            if not f.get("required"):
                continue
            first = f["types"][0]
            if first == "String":
                quoted = _QUOTED_RE.search(f.get("description", ""))
                value[f["name"]] = quoted.group(1) if quoted else ""
            else:
                value[f["name"]] = self.stub(first, _depth + 1)
        return value


@functools.lru_cache(maxsize=4)
def _load_spec(path: str, _mtime_ns: int) -> ApiSpec:
    with open(path, encoding="utf-8") as handle:
        return ApiSpec(json.load(handle))
