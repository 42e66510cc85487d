"""Babel extractor for YAML scripts: every text a person may see becomes a msgid.

Declared in babel.cfg, so `pybabel extract -F babel.cfg` collects scripts and code
into one template. Each entry carries the node id as a comment for translators.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

import yaml

TRANSLATABLE = frozenset({"text", "label", "continue_label", "error", "summary", "title", "ambiguous"})
LABEL_KEYS = frozenset({"back", "next", "done", "restart"})
BUTTON_KEYS = frozenset({"label", "continue_label"}) | LABEL_KEYS
BUTTON_NOTE = "button: at most 40 characters"
"""Marks button labels for translators and for the catalogue checks (tests/test_catalogues.py)."""
CODE_KEYS = frozenset({"flags", "routes"})
"""Mappings whose keys are answer keys and whose values are codes or node ids, never texts,
even when an answer key happens to be called `text` or `label`."""


def is_translatable(key: str, parent_key: str) -> bool:
    """Whether the value under `key`, in a mapping found under `parent_key`, is a text a person
    may see. Shared with dialogs.versions, so the catalogues and the review tools agree."""
    return key in TRANSLATABLE or (parent_key == "labels" and key in LABEL_KEYS)


def is_button(key: str) -> bool:
    """Whether a translatable value under `key` is a button label (40 characters at most)."""
    return key in BUTTON_KEYS


def extract_script(
    fileobj: BinaryIO, keywords: Any, comment_tags: Any, options: dict[str, Any]
) -> Iterator[tuple[int, str | None, str, list[str]]]:
    root = yaml.compose(fileobj.read().decode("utf-8"))
    if root is not None:
        yield from _walk(root, context="script", parent_key="", translator_note=None)


def _walk(
    node: yaml.Node, context: str, parent_key: str, translator_note: str | None
) -> Iterator[tuple[int, str | None, str, list[str]]]:
    if isinstance(node, yaml.MappingNode):
        pairs = {k.value: v for k, v in node.value if isinstance(k, yaml.ScalarNode)}
        node_id = pairs.get("id")
        if isinstance(node_id, yaml.ScalarNode) and parent_key in ("nodes", ""):
            context = f"node: {node_id.value}"
        note = pairs.get("comment")
        if isinstance(note, yaml.ScalarNode):
            translator_note = note.value.strip()
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else ""
            if name in CODE_KEYS:
                continue
            if is_translatable(name, parent_key) and isinstance(value, yaml.ScalarNode) and value.value.strip():
                comments = [context] + ([translator_note] if translator_note else [])
                if is_button(name):
                    comments.append(BUTTON_NOTE)
                yield value.start_mark.line + 1, None, value.value.strip(), comments
            else:
                yield from _walk(
                    value, context, name, translator_note if name in ("options", "skip", "routes") else None
                )
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _walk(item, context, parent_key, translator_note)
