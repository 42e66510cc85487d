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


def extract_script(
    fileobj: BinaryIO, keywords: Any, comment_tags: Any, options: dict[str, Any]
) -> Iterator[tuple[int, str | None, str, list[str]]]:
    root = yaml.compose(fileobj.read().decode("utf-8"))
    if root is not None:
        yield from _walk(root, context="script", parent_key="", translator_note=None)


def _walk(node: yaml.Node, context: str, parent_key: str, translator_note: str | None) -> Iterator[tuple[int, str | None, str, list[str]]]:
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
            translatable = name in TRANSLATABLE or (parent_key == "labels" and name in LABEL_KEYS)
            if translatable and isinstance(value, yaml.ScalarNode) and value.value.strip():
                comments = [context] + ([translator_note] if translator_note else [])
                if name in BUTTON_KEYS:
                    comments.append(BUTTON_NOTE)
                yield value.start_mark.line + 1, None, value.value.strip(), comments
            else:
                yield from _walk(value, context, name, translator_note if name in ("options", "skip", "routes") else None)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _walk(item, context, parent_key, translator_note)
