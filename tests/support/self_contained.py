"""The test run reads nothing beside the repository: a plain clone must pass on its own.

An audit hook, installed by conftest for the whole run, refuses to open any file that lies
in the repository's parent folder but outside the repository (a sibling data folder, a sibling
checkout...). Such a read would pass on a machine that happens to have that folder and fail
on every fresh clone, so it fails here, at once, in the test that made it.

Beside a clone also lie things that are not a checkout, and those stay open: the scratch
files of pytest and `tempfile` when the clone sits in the temp folder (`/tmp/passerelle`),
the interpreter or virtual environment the tests run in, and hidden entries such as
`~/.pgpass` when it sits in the home folder (`~/passerelle`).
"""

from __future__ import annotations

import os
import site
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
_OUTSIDE = REPO.parent
_installed = False


class OutsideRepository(PermissionError):
    """A test opened a file beside the repository instead of in it."""


def _normal(path: str | os.PathLike[str]) -> str:
    return os.path.normpath(os.path.abspath(path))


def _within(path: str, folder: str) -> bool:
    return os.path.commonpath([path, folder]) == folder


_TEMP = _normal(tempfile.gettempdir())
# pytest's `tmp_path` lives under pytest-of-<user>; `tempfile` names its files tmp*.
_SCRATCH_PREFIXES = ("pytest-of-", "tmp")
_INTERPRETER = tuple(
    {_normal(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, *site.getsitepackages()) if p}
    | {_normal(site.getusersitepackages())}
)


def forbidden(path: object, repo: Path = REPO) -> str | None:
    """The path, if opening it would read beside the repository."""
    if not isinstance(path, (str, bytes, os.PathLike)):
        return None  # a file descriptor
    raw = os.fsdecode(path)
    if not raw:
        return None
    resolved = _normal(raw)
    inside, beside = _normal(repo), _normal(repo.parent)
    if not _within(resolved, beside) or _within(resolved, inside):
        return None  # elsewhere on the machine, or the repository itself
    top = os.path.relpath(resolved, beside).split(os.sep)[0]
    if top.startswith("."):
        return None  # a dotfile of the home folder, not a checkout
    if beside == _TEMP and top.startswith(_SCRATCH_PREFIXES):
        return None  # the tests' own scratch files
    if any(_within(resolved, root) and _within(root, beside) and root != beside for root in _INTERPRETER):
        return None  # the interpreter, or a virtual environment beside the clone
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
