"""HTML parse mode as Telegram reads it, stricter on purpose; lengths in UTF-16 code units."""

from __future__ import annotations

import re

from tests.support.fake_telegram.spec import INT_RE, JSON

_HTML_ENTITY_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
    "tg-time": "date_time",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HTML_SPECIAL = re.compile(r"[<>&]")
_TAG_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9-]*")
_ATTR_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_:-]*")


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units: the unit of MessageEntity offsets."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _byte_offset(source: str, index: int) -> int:
    return len(source[:index].encode("utf-8"))


def _decode_entity(source: str, index: int) -> tuple[str, int]:
    """Decode the ``&...;`` at ``index``; return (character, index after it)."""
    end = source.find(";", index + 1, index + 12)
    if end < 0:
        raise ValueError(
            f'Character "&" is reserved and must be escaped as "&amp;" at byte offset {_byte_offset(source, index)}'
        )
    name = source[index + 1 : end]
    if name in _NAMED_ENTITIES:
        return _NAMED_ENTITIES[name], end + 1
    code: int | None = None
    if name[:2] in ("#x", "#X") and len(name) > 2:
        try:
            code = int(name[2:], 16)  # noqa: FURB166  (the prefix is '#x', not '0x')
        except ValueError:
            code = None
    elif name[:1] == "#" and name[1:].isdigit():
        code = int(name[1:])
    if code is None or not (0 < code <= 0x10FFFF) or 0xD800 <= code <= 0xDFFF:
        raise ValueError(f'Unsupported HTML entity "&{name};" at byte offset {_byte_offset(source, index)}')
    return chr(code), end + 1


def _decode_attr(source: str, value: str, at: int) -> str:
    """Attribute values may carry entities too (``href="?a=1&amp;b=2"``)."""
    if "&" not in value:
        return value
    out: list[str] = []
    i = 0
    while i < len(value):
        if value[i] == "&":
            try:
                ch, i = _decode_entity(value, i)
            except ValueError:
                raise ValueError(
                    f"Unsupported HTML entity in an attribute value at byte offset {_byte_offset(source, at)}"
                ) from None
            out.append(ch)
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def _parse_start_tag(source: str, index: int) -> tuple[str, dict[str, str], int]:
    """Parse ``<name attr="v" flag>`` at ``index``; return (name, attributes, index after)."""
    n = len(source)
    match = _TAG_NAME.match(source, index + 1)
    if match is None:
        raise ValueError(f'Unsupported start tag "" at byte offset {_byte_offset(source, index)}')
    name = match.group().lower()
    if name not in _HTML_ENTITY_TYPES:
        raise ValueError(f'Unsupported start tag "{name}" at byte offset {_byte_offset(source, index)}')
    attrs: dict[str, str] = {}
    i = match.end()
    while True:
        while i < n and source[i].isspace():
            i += 1
        if i >= n:
            raise ValueError(f"Unclosed start tag at byte offset {_byte_offset(source, index)}")
        if source[i] == ">":
            return name, attrs, i + 1
        attr = _ATTR_NAME.match(source, i)
        if attr is None:
            raise ValueError(
                f'Expected equal sign in declaration of an attribute of the tag "{name}" at '
                f"byte offset {_byte_offset(source, index)}"
            )
        attr_name = attr.group().lower()
        i = attr.end()
        while i < n and source[i].isspace():
            i += 1
        if i < n and source[i] == "=":
            i += 1
            while i < n and source[i].isspace():
                i += 1
            if i < n and source[i] in "\"'":
                quote = source[i]
                end = source.find(quote, i + 1)
                if end < 0:
                    raise ValueError(f"Unclosed end of attribute value at byte offset {_byte_offset(source, i)}")
                raw = source[i + 1 : end]
                i = end + 1
            else:
                start = i
                while i < n and not source[i].isspace() and source[i] != ">":
                    i += 1
                raw = source[start:i]
            attrs[attr_name] = _decode_attr(source, raw, index)
        else:
            attrs[attr_name] = ""  # a flag, e.g. <blockquote expandable>


def _start_entity(name: str, attrs: dict[str, str], source: str, at: int) -> JSON | None:
    """The MessageEntity a start tag opens (None: the tag only contributes a language)."""
    kind = _HTML_ENTITY_TYPES[name]
    entity: JSON = {"type": kind}
    if name == "span" and attrs.get("class") != "tg-spoiler":
        raise ValueError(f'Tag "span" must have class "tg-spoiler" at byte offset {_byte_offset(source, at)}')
    if name == "a":
        href = attrs.get("href", "")
        if href.startswith("tg://user?id="):
            user_id = href.removeprefix("tg://user?id=")
            if user_id.isdigit():
                return {
                    "type": "text_mention",
                    "user": {"id": int(user_id), "is_bot": False, "first_name": ""},
                }
        if not href:
            return None  # Telegram keeps the text, without a link
        entity["url"] = href
    elif name == "tg-emoji":
        emoji_id = attrs.get("emoji-id")
        if not emoji_id:
            raise ValueError(f'Tag "tg-emoji" must have attribute "emoji-id" at byte offset {_byte_offset(source, at)}')
        entity["custom_emoji_id"] = emoji_id
    elif name == "tg-time":
        unix = attrs.get("unix", "")
        if not INT_RE.fullmatch(unix):
            raise ValueError(
                f'Tag "tg-time" must have an integer attribute "unix" at byte offset {_byte_offset(source, at)}'
            )
        entity["unix_time"] = int(unix)
        if attrs.get("format"):
            entity["date_time_format"] = attrs["format"]
    elif name == "blockquote" and "expandable" in attrs:
        entity["type"] = "expandable_blockquote"
    return entity


def parse_html(source: str) -> tuple[str, list[JSON]]:
    """Parse Telegram's HTML parse mode strictly; return (plain text, entities).

    Raises ValueError with a Telegram-like message ("Unsupported start tag \\"br\\" at byte
    offset 5", "Can't find end tag corresponding to start tag \\"b\\"", ...). Entity offsets
    and lengths are in UTF-16 code units, as in the Bot API.
    """
    out: list[str] = []
    pos16 = 0  # UTF-16 length of the text produced so far
    stack: list[tuple[str, JSON | None, int]] = []  # (tag, entity, start offset)
    entities: list[JSON] = []
    n = len(source)
    i = 0
    while i < n:
        special = _HTML_SPECIAL.search(source, i)
        stop = special.start() if special else n
        if stop > i:
            chunk = source[i:stop]
            out.append(chunk)
            pos16 += utf16_len(chunk)
            i = stop
            continue
        ch = source[i]
        if ch == "&":
            decoded, i = _decode_entity(source, i)
            out.append(decoded)
            pos16 += utf16_len(decoded)
        elif ch == ">":
            raise ValueError(
                f'Character ">" is reserved and must be escaped as "&gt;" at byte offset {_byte_offset(source, i)}'
            )
        elif source.startswith("</", i):
            end = source.find(">", i)
            if end < 0:
                raise ValueError(f"Unclosed end tag at byte offset {_byte_offset(source, i)}")
            name = source[i + 2 : end].strip().lower()
            if not stack:
                raise ValueError(f"Unexpected end tag at byte offset {_byte_offset(source, i)}")
            open_name, entity, start = stack.pop()
            if name != open_name:
                raise ValueError(
                    f"Unmatched end tag at byte offset {_byte_offset(source, i)}, expected "
                    f'"</{open_name}>", found "</{name}>"'
                )
            if entity is not None and pos16 > start:
                entity["offset"] = start
                entity["length"] = pos16 - start
                entities.append(entity)
            i = end + 1
        else:
            name, attrs, after = _parse_start_tag(source, i)
            entity = _start_entity(name, attrs, source, i)
            if name == "code" and stack and stack[-1][0] == "pre":
                language = attrs.get("class", "")
                pre_entity = stack[-1][1]
                if language.startswith("language-") and pre_entity is not None:
                    pre_entity["language"] = language.removeprefix("language-")
            stack.append((name, entity, pos16))
            i = after
    if stack:
        raise ValueError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def strip_text(text: str, entities: list[JSON] | None) -> tuple[str, list[JSON] | None]:
    """Trim surrounding whitespace like Telegram, moving entities along."""
    stripped = text.strip()
    if stripped == text or not entities:
        return stripped, entities
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    total = utf16_len(stripped)
    kept: list[JSON] = []
    for entity in entities:
        start = max(int(entity.get("offset", 0)) - lead, 0)
        end = min(int(entity.get("offset", 0)) + int(entity.get("length", 0)) - lead, total)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept
