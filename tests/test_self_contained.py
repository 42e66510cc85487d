"""A fresh clone runs its own tests: nothing is read from beside the repository."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.support.fake_telegram.spec import SPEC_ENV, VENDORED_SPEC, default_spec_path
from tests.support.self_contained import REPO, OutsideRepository, forbidden


def test_reading_beside_the_repository_fails() -> None:
    """The guard is live: any folder beside the clone is off limits, whether it exists or not
    (the hook refuses before the file system is asked)."""
    with pytest.raises(OutsideRepository, match="outside the repository"):
        open(REPO.parent / "a-folder-beside-the-clone" / "bot-api.json")  # noqa: SIM115


def test_reading_inside_the_repository_and_elsewhere_is_allowed(tmp_path: os.PathLike[str]) -> None:
    assert (REPO / "pyproject.toml").read_text().startswith("[build-system]")
    scratch = os.path.join(tmp_path, "x")
    with open(scratch, "w") as handle:
        handle.write("ok")
    with open(scratch) as handle:
        assert handle.read() == "ok"


def test_the_bot_api_spec_is_vendored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SPEC_ENV, raising=False)
    path = default_spec_path()
    assert path == VENDORED_SPEC and path.is_relative_to(REPO)
    assert (path.parent / "LICENSE").read_text().startswith("MIT License")


def test_the_spec_loads_in_a_process_without_the_override() -> None:
    """What a fresh clone does: no environment variable, nothing beside the repository."""
    env = {k: v for k, v in os.environ.items() if k != SPEC_ENV}
    code = (
        "from tests.support.self_contained import install; install();"
        "from tests.support.fake_telegram.spec import ApiSpec; spec = ApiSpec.load();"
        "print(len(spec.methods))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.strip()) > 100


@pytest.mark.parametrize("parent", [tempfile.gettempdir(), str(Path.home())])
def test_a_clone_in_the_temp_folder_or_the_home_folder_may_use_both(parent: str) -> None:
    """A clone at /tmp/passerelle or ~/passerelle: the tests' scratch files (pytest's
    `tmp_path`, `tempfile`), a virtual environment beside the clone and dotfiles such as
    ~/.pgpass are not a sibling checkout; a folder beside the clone still is."""
    clone = Path(parent) / "passerelle"
    scratch = Path(tempfile.gettempdir())
    for allowed in (
        scratch / "pytest-of-someone" / "pytest-3" / "test_x0" / "db.sqlite3",
        scratch / "tmpab12cd34" / "file",
        Path(parent) / ".pgpass",
        Path(sys.prefix) / "lib" / "module.py",
        clone / "tests" / "support" / "telegram" / "bot-api.json",
    ):
        assert forbidden(allowed, clone) is None, allowed
    assert forbidden(Path(parent) / "reference-material" / "telegram" / "bot-api.json", clone)
    assert forbidden(Path(parent) / "other-checkout" / "README.md", clone)


def test_a_clone_inside_the_interpreters_folder_is_still_guarded() -> None:
    """A clone at <venv>/src/passerelle: the venv holds the clone, it does not open its siblings."""
    clone = Path(sys.prefix) / "src" / "passerelle"
    assert forbidden(Path(sys.prefix) / "src" / "reference-material" / "bot-api.json", clone)
