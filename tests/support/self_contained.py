"""The test run reads nothing beside the repository: a plain clone must pass on its own.

An audit hook, installed by conftest for the whole run, refuses to open any file that lies
in the repository's parent folder but outside the repository (a sibling data folder, a sibling
checkout...). Such a read would pass on a machine that happens to have that folder and fail
on every fresh clone, so it fails here, at once, in the test that made it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
_OUTSIDE = REPO.parent
_installed = False


class OutsideRepository(PermissionError):
    """A test opened a file beside the repository instead of in it."""


def forbidden(path: object) -> str | None:
    """The path, if opening it would read beside the repository."""
    if not isinstance(path, (str, bytes, os.PathLike)):
        return None  # a file descriptor
    raw = os.fsdecode(path)
    if not raw:
        return None
    resolved = os.path.normpath(os.path.abspath(raw))
    if os.path.commonpath([resolved, str(_OUTSIDE)]) != str(_OUTSIDE):
        return None  # elsewhere on the machine: the interpreter, site-packages, /tmp
    if os.path.commonpath([resolved, str(REPO)]) == str(REPO):
        return None
    return resolved


def _hook(event: str, args: tuple[object, ...]) -> None:
    if event == "open" and args:
        path = forbidden(args[0])
        if path is not None:
            raise OutsideRepository(f"tests must not read outside the repository: {path}")


def install() -> None:
    """Once per process: audit hooks cannot be removed."""
    global _installed
    if not _installed:
        sys.addaudithook(_hook)
        _installed = True
