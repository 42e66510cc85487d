"""Script validation: each kind of defect is caught, named with its file and node."""

from __future__ import annotations

import pytest

from dialogs.loader import ScriptInvalid, load_scripts, parse_script

HEADER = """
id: t
title: Test
start: a
emergency: sos
nodes:
  - id: sos
    kind: info
    text: Urgence
    next: a
"""


def problems(body: str) -> list[str]:
    with pytest.raises(ScriptInvalid) as caught:
        parse_script(HEADER + body, "t.yaml")
    return [str(p) for p in caught.value.problems]


def test_shipped_scripts_are_valid() -> None:
    scripts = load_scripts()
    assert "orientation" in scripts
    assert len(scripts["orientation"].version) == 8


def test_valid_minimal_script() -> None:
    loaded = parse_script(HEADER + "  - {id: a, kind: action, action: end, text: Fin}\n", "t.yaml")
    assert loaded.script.start == "a"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "  - {id: a, kind: choice, text: Q, options: [{id: o, label: L, next: nowhere}]}\n",
            "[a]: leads to unknown node 'nowhere'",
        ),
        (
            "  - {id: a, kind: action, action: end, text: Fin}\n  - {id: lost, kind: action, action: end, text: X}\n",
            "[lost]: unreachable node",
        ),
        (
            "  - {id: a, kind: choice, text: Q, options: [{id: o, label: L, next: b}]}\n"
            "  - {id: b, kind: info, text: loop, next: a}\n",
            "[a]: dead end",
        ),
        (
            "  - {id: a, kind: action, action: end, text: Fin}\n  - {id: a, kind: action, action: end, text: X}\n",
            "[a]: duplicate node id",
        ),
        (
            "  - {id: a, kind: choice, text: Q, options: [{id: o, label: L, next: z}, {id: o, label: M, next: z}]}\n"
            "  - {id: z, kind: action, action: end, text: Fin}\n",
            "[a]: duplicate option id",
        ),
        ("  - {id: a, kind: action, action: end, text: " + "x" * 4097 + "}\n", "[a]: text over 4096 characters"),
        ("  - {id: a, kind: action, action: end, text: " + "😀" * 2049 + "}\n", "[a]: text over 4096 characters"),
        (
            "  - {id: a, kind: choice, text: Q, options: [{id: " + "o" * 30 + ", label: L, next: " + "z" * 30 + "}]}\n"
            "  - {id: " + "z" * 30 + ", kind: choice, text: Q, options: [{id: " + "p" * 30 + ", label: L, next: e}]}\n"
            "  - {id: e, kind: action, action: end, text: Fin}\n",
            "button data over 64 bytes",
        ),
        ("  - {id: a, kind: input, text: Q, store: x, parser: nope, ambiguous: W, next: a}\n", "unknown parser 'nope'"),
        ("  - {id: a, kind: route, routes: [{when: {x: y}, next: a}]}\n", "a route needs a last branch without 'when'"),
        ("  - {id: a, kind: choice, text: Q, colour: red}\n", "[a]: colour: Extra inputs are not permitted"),
        ("  - {id: A-1, kind: action, action: end, text: Fin}\n", "id: String should match pattern"),
    ],
)
def test_each_defect_is_reported(body: str, expected: str) -> None:
    found = problems(body)
    assert any(expected in p for p in found), found
    assert all(p.startswith("t.yaml") for p in found)


def test_yaml_syntax_error_names_the_line() -> None:
    with pytest.raises(ScriptInvalid) as caught:
        parse_script("id: t\nnodes: [\n  - a: b\n", "bad.yaml")
    assert "bad.yaml: YAML syntax error at line" in str(caught.value)


def test_version_is_a_content_hash() -> None:
    one = parse_script(HEADER + "  - {id: a, kind: action, action: end, text: Fin}\n", "t.yaml")
    reindented = parse_script(HEADER + "  - id: a\n    kind: action\n    action: end\n    text: Fin\n", "t.yaml")
    changed = parse_script(HEADER + "  - {id: a, kind: action, action: end, text: Fin.}\n", "t.yaml")
    assert one.digest == reindented.digest != changed.digest


def test_a_schema_error_points_to_a_file_that_exists() -> None:
    """The hint named dialogs/README.md, which never existed."""
    import re
    from pathlib import Path

    found = problems("  - {id: a, kind: choice, text: Q, colour: red}\n")
    named = [m for p in found for m in re.findall(r"see (\S+) for the schema", p)]
    assert named, found
    root = Path(__file__).resolve().parents[1]
    assert all((root / path).is_file() for path in named), named
