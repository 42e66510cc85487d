"""CPU caps for benchmark processes: one cgroup per instance, as `CPUQuota=` would give.

cgroup v2 (`/sys/fs/cgroup/cgroup.controllers` exists): `cpu.max`, usage from `cpu.stat`.
cgroup v1: `cpu/<group>/cpu.cfs_quota_us` and `cpu.cfs_period_us`, usage from
`cpuacct/<group>/cpuacct.usage`, throttling from `cpu/<group>/cpu.stat`.
A process joins its group in `preexec_fn`, before it runs anything, so its children (py-spy's
target) are capped too.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
PERIOD_US = 100_000


@dataclass
class CpuGroup:
    name: str
    cpus: float

    @property
    def v2(self) -> bool:
        return (ROOT / "cgroup.controllers").exists()

    def _dirs(self) -> list[Path]:
        if self.v2:
            return [ROOT / self.name]
        return [ROOT / "cpu" / self.name, ROOT / "cpuacct" / self.name]

    def create(self) -> None:
        for folder in self._dirs():
            folder.mkdir(exist_ok=True)
        quota = int(self.cpus * PERIOD_US)
        if self.v2:
            (ROOT / "cgroup.subtree_control").write_text("+cpu")
            (ROOT / self.name / "cpu.max").write_text(f"{quota} {PERIOD_US}")
        else:
            (ROOT / "cpu" / self.name / "cpu.cfs_period_us").write_text(str(PERIOD_US))
            (ROOT / "cpu" / self.name / "cpu.cfs_quota_us").write_text(str(quota))

    def join(self) -> None:
        """Moves the calling process into the group (use as `preexec_fn`)."""
        for folder in self._dirs():
            (folder / "cgroup.procs").write_text(str(os.getpid()))

    def usage_seconds(self) -> float:
        """CPU time used by the group's processes so far."""
        if self.v2:
            return self._stat(ROOT / self.name / "cpu.stat")["usage_usec"] / 1e6
        return int((ROOT / "cpuacct" / self.name / "cpuacct.usage").read_text()) / 1e9

    def throttled_periods(self) -> int:
        folder = ROOT / self.name if self.v2 else ROOT / "cpu" / self.name
        return self._stat(folder / "cpu.stat")["nr_throttled"]

    @staticmethod
    def _stat(path: Path) -> dict[str, int]:
        return {key: int(value) for key, value in (line.split() for line in path.read_text().splitlines())}

    def remove(self) -> None:
        for folder in self._dirs():
            with contextlib.suppress(OSError):  # a process still in it, or gone: left for the next run
                folder.rmdir()


def cgroups_writable() -> str | None:
    """None if CPU groups can be made here, else why not, in one line."""
    if os.geteuid() != 0:
        return "not root: cannot create CPU cgroups, running uncapped"
    probe = CpuGroup(f"passerelle-bench-probe-{os.getpid()}", 1.0)
    try:
        probe.create()
    except OSError as exc:
        return f"no writable CPU cgroup ({exc.strerror}): running uncapped"
    probe.remove()
    return None
