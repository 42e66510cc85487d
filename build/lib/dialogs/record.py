"""The release's approval record: `dialogs/approved.json`.

A fresh install has no approvals in its database; it serves exactly what this file
covers, when the files' content hashes match it. `passerelle dialogs approve` writes it,
so a release carries the moderators' approval of its own scripts and catalogues.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

RECORD = Path(__file__).resolve().parent / "approved.json"


@dataclass(frozen=True)
class Entry:
    digest: str
    by: str
    at: str
    note: str = ""


@dataclass
class Record:
    script: dict[str, Entry] = field(default_factory=dict)
    """script id -> its approved script."""
    catalogues: dict[str, dict[str, Entry]] = field(default_factory=dict)
    """script id -> locale -> its approved catalogue."""


def read_record(path: Path = RECORD) -> Record:
    if not path.exists():
        return Record()
    data = json.loads(path.read_text(encoding="utf-8"))
    return Record(
        script={sid: Entry(**entry["script"]) for sid, entry in data.items() if "script" in entry},
        catalogues={
            sid: {loc: Entry(**e) for loc, e in entry.get("catalogues", {}).items()} for sid, entry in data.items()
        },
    )


def write_record(record: Record, path: Path = RECORD) -> None:
    data = {
        sid: {
            "script": asdict(record.script[sid]),
            "catalogues": {loc: asdict(e) for loc, e in sorted(record.catalogues.get(sid, {}).items())},
        }
        for sid in sorted(record.script)
    }
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
