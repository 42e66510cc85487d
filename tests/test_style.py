"""What ruff and mypy do not check: every `type: ignore` says why.

mypy's `warn_unused_ignores` catches an ignore that is no longer needed in `bot`, `dialogs`
and `storage`; nothing checks the tests and benchmarks, and nothing asks for a reason.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FOLDERS = ("bot", "dialogs", "storage", "tests", "benchmarks")
IGNORE = re.compile(r"#\s*type:\s*ignore(\[[^\]]*\])?(?P<after>.*)$")


def unexplained(source: str) -> list[int]:
    """Lines whose `type: ignore` has no `# reason` after it, nor a comment on the line above."""
    lines = source.splitlines()
    found = []
    for number, line in enumerate(lines, 1):
        match = IGNORE.search(line)
        if match is None:
            continue
        reason_after = re.match(r"\s*#\s*\S", match.group("after"))
        reason_above = number > 1 and lines[number - 2].strip().startswith("#")
        if not (reason_after or reason_above):
            found.append(number)
    return found


def test_the_check_can_fail() -> None:
    assert unexplained("x = f()  # type: ignore[arg-type]\n") == [1]
    assert unexplained("x = f()  # type: ignore\n") == [1]
    assert unexplained("x = f()  # type: ignore[arg-type]  # f is untyped\n") == []
    assert unexplained("# f is untyped\nx = f()  # type: ignore[arg-type]\n") == []


def test_every_type_ignore_says_why() -> None:
    missing = [
        f"{path.relative_to(REPO)}:{number}"
        for folder in FOLDERS
        for path in sorted((REPO / folder).rglob("*.py"))
        if "migrations" not in path.parts and path != Path(__file__).resolve()
        for number in unexplained(path.read_text(encoding="utf-8"))
    ]
    assert missing == [], "add `# why` after each: " + ", ".join(missing)
