"""The directory as a CSV file: validated whole, imported all rows or none, exported back.

Operators keep their verified directory in a spreadsheet and import it as CSV. A file is
applied whole or not at all: every row is validated first, and every error is reported
as `line N: column: message`, so one round of fixes is enough. Nothing here invents a
contact detail: an empty cell stays empty. Nothing here commits: the caller owns the transaction.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Association
from storage.places import places

# -- columns ---------------------------------------------------------------

REQUIRED = ("slug", "name", "departements", "city", "latitude", "longitude", "accredited_until", "intake_open")
COLUMNS = (
    "slug",
    "name",
    "departements",
    "city",
    "latitude",
    "longitude",
    "accreditation_ref",
    "accredited_until",
    "intake_open",
    "languages",
    "services",
    "phone",
    "email",
    "website",
    "hours",
    "source",
    "verified_on",
    "notice_locale",
)
"""The export order (the model's); an import accepts the columns in any order."""
OPTIONAL = tuple(name for name in COLUMNS if name not in REQUIRED)

_LIST_FIELDS = ("departements", "languages", "services")
_REAL_DEPARTEMENTS = frozenset(
    [f"{n:02d}" for n in range(1, 96) if n != 20] + ["2A", "2B", "971", "972", "973", "974", "976"]
)
"""The 101 départements: metropolitan 01-95 (Corsica as 2A/2B) and the five overseas ones.
The place table also knows overseas collectivities (975, 977, ...), which are not départements."""

_TRUE = frozenset({"true", "yes", "1", "oui", "vrai", "y", "o"})
_FALSE = frozenset({"false", "no", "0", "non", "faux", "n"})
_SLUG = re.compile(r"^[a-z0-9-]{2,64}$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_LOCALE = re.compile(r"^[a-z]{2,3}([_-][A-Za-z0-9]{2,8})*$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_WEBSITE = re.compile(r"^https?://[^\s/]+\.[^\s]+$", re.IGNORECASE)
_PHONE = re.compile(r"^\+?[0-9 ().-]{4,30}$")
_TOKEN = re.compile(r"^[\w.-]{1,64}$")
_CONTACTS = {
    "phone": (_PHONE, 31, "a phone number"),
    "email": (_EMAIL, 200, "an e-mail address"),
    "website": (_WEBSITE, 300, "a web address starting with https://"),
}
"""Contact columns: the pattern, the size (the phone's is its pattern's), and what the cell should be."""
_WORD_LISTS = {
    "languages": (_LOCALE, "locale codes (e.g. fr, en, zh_Hans)"),
    "services": (_TOKEN, "service keywords (letters, digits, '-', '_')"),
}
"""Columns of words: the pattern of each word, and what they should be."""
_LIST_SPLIT = re.compile(r"[\s,]+")


class DirectoryErrors(Exception):
    """A CSV file was refused; `errors` lists every problem, as `line N: column: message`."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__(f"{len(errors)} error(s) in the directory file")
        self.errors = errors


# -- one row -------------------------------------------------------------------


def _words(value: str) -> list[str]:
    """Space-separated cells (commas tolerated), duplicates dropped, order kept."""
    return list(dict.fromkeys(word for word in _LIST_SPLIT.split(value.strip()) if word))


def _iso_date(value: str) -> dt.date:
    if not _ISO_DATE.match(value):
        raise ValueError(f"{value!r} is not a date written YYYY-MM-DD (e.g. 2027-06-30)")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a real date") from None


def _number(value: str, low: float, high: float) -> float:
    """A decimal, also with a decimal comma (French spreadsheets write 48,8566)."""
    try:
        number = float(value.replace(",", ".").replace(" ", ""))
    except ValueError:
        raise ValueError(f"{value!r} is not a number") from None
    if not math.isfinite(number) or not low <= number <= high:
        raise ValueError(f"{value} is out of range: it must be between {low:g} and {high:g}")
    return number


def _departement(code: str) -> str:
    """A real département code, normalised ("2a" -> "2A", "1" -> "01": spreadsheets drop zeros)."""
    found = places().departement(code) if re.fullmatch(r"\d{1,3}|2[abAB]", code) else None
    if found is None or found.code not in _REAL_DEPARTEMENTS:
        named = places().departement(code)
        hint = f" (did you mean {named.code}?)" if named is not None and named.code in _REAL_DEPARTEMENTS else ""
        raise ValueError(f"{code!r} is not a French département code{hint}")
    return found.code


TEXT_LIMITS = {"name": 200, "city": 100, "accreditation_ref": 200, "hours": 300, "source": 500}
"""The column sizes of storage.models.Association, checked before the database sees them."""


def _bounded(value: str, limit: int) -> str:
    if len(value) > limit:
        raise ValueError(f"too long: {len(value)} characters, at most {limit}")
    return value


class Row(BaseModel):
    """One validated CSV row; cells arrive as stripped strings, empty meaning absent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    slug: str
    name: str
    departements: list[str]
    city: str
    latitude: float
    longitude: float
    accredited_until: dt.date
    intake_open: bool
    accreditation_ref: str = ""
    languages: list[str] = []
    services: list[str] = []
    phone: str = ""
    email: str = ""
    website: str = ""
    hours: str = ""
    source: str = ""
    verified_on: dt.date | None = None
    notice_locale: str = "fr"

    @field_validator(*TEXT_LIMITS, mode="before")
    @classmethod
    def _bounded_text(cls, value: str, info: ValidationInfo) -> str:
        return _bounded(value, TEXT_LIMITS[info.field_name or ""])

    @field_validator("slug", mode="before")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _SLUG.match(value):
            raise ValueError(f"{value!r} must be 2 to 64 characters among a-z, 0-9 and '-'")
        return value

    @field_validator("departements", mode="before")
    @classmethod
    def _departements(cls, value: str) -> list[str]:
        codes, problems = [], []
        for word in _words(value):
            try:
                codes.append(_departement(word))
            except ValueError as exc:
                problems.append(str(exc))
        if problems:
            raise ValueError("; ".join(problems))
        if not codes:
            raise ValueError("no département code")
        return list(dict.fromkeys(codes))

    @field_validator("latitude", mode="before")
    @classmethod
    def _latitude(cls, value: str) -> float:
        return _number(value, -90, 90)

    @field_validator("longitude", mode="before")
    @classmethod
    def _longitude(cls, value: str) -> float:
        return _number(value, -180, 180)

    @field_validator("accredited_until", mode="before")
    @classmethod
    def _accredited_until(cls, value: str) -> dt.date:
        return _iso_date(value)

    @field_validator("verified_on", mode="before")
    @classmethod
    def _verified_on(cls, value: str | None) -> dt.date | None:
        return _iso_date(value) if value else None

    @field_validator("intake_open", mode="before")
    @classmethod
    def _intake_open(cls, value: str) -> bool:
        word = value.casefold()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        raise ValueError(f"{value!r} is neither true nor false (also accepted: yes/no, 1/0)")

    @field_validator(*_WORD_LISTS, mode="before")
    @classmethod
    def _word_list(cls, value: str, info: ValidationInfo) -> list[str]:
        pattern, what = _WORD_LISTS[info.field_name or ""]
        words = _words(value)
        wrong = [word for word in words if not pattern.match(word)]
        if wrong:
            raise ValueError(f"not {what}: {' '.join(wrong)}")
        return words

    @field_validator(*_CONTACTS, mode="before")
    @classmethod
    def _contact(cls, value: str, info: ValidationInfo) -> str:
        pattern, limit, what = _CONTACTS[info.field_name or ""]
        if value and (len(value) > limit or not pattern.match(value)):
            raise ValueError(f"{value!r} does not look like {what}")
        return value

    @field_validator("notice_locale", mode="before")
    @classmethod
    def _notice_locale(cls, value: str) -> str:
        if not value:
            return "fr"
        if len(value) > 16 or not _LOCALE.match(value):
            raise ValueError(f"{value!r} is not a locale code (e.g. fr)")
        return value


# -- the file ------------------------------------------------------------------


def _column_key(header: str) -> str:
    """'Départements ' -> 'departements': accents, case and spaces in headers are forgiven."""
    decomposed = unicodedata.normalize("NFKD", header.strip())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    return re.sub(r"[\s-]+", "_", plain)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DirectoryErrors([f"line {line}: encoding: the file is not UTF-8; save it as CSV UTF-8"]) from None


def _delimiter(text: str) -> str:
    """';' when the header has more of them than commas (Excel in French), else ','."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    return ";" if header.count(";") > header.count(",") else ","


def _header(cells: list[str]) -> tuple[list[str], list[str]]:
    """The column keys, and the header errors (unknown, repeated or missing columns)."""
    keys = [_column_key(cell) for cell in cells]
    errors = []
    for index, key in enumerate(keys):
        if not key:
            continue  # a nameless column is fine while it stays empty (spreadsheets leave some)
        if key not in COLUMNS:
            errors.append(f"line 1: {cells[index].strip()}: unknown column (known: {', '.join(COLUMNS)})")
        elif key in keys[:index]:
            errors.append(f"line 1: {key}: the column appears twice")
    errors += [f"line 1: {name}: required column is missing" for name in REQUIRED if name not in keys]
    return keys, errors


def _row_errors(line: int, exc: ValidationError) -> list[str]:
    errors = []
    for error in exc.errors():
        column = str(error["loc"][0]) if error["loc"] else "row"
        if error["type"] == "missing":
            message = "required, but the cell is empty"
        else:
            message = error["msg"].removeprefix("Value error, ")
        errors.append(f"line {line}: {column}: {message}")
    return errors


def _records(text: str) -> list[tuple[int, list[str]]]:
    """(first line number, cells) for each record; quoted cells may span lines."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    records, previous = [], 0
    try:
        for cells in reader:
            records.append((previous + 1, cells))
            previous = reader.line_num
    except csv.Error as exc:
        raise DirectoryErrors([f"line {reader.line_num}: row: unreadable CSV ({exc})"]) from None
    return records


def _validate(line: int, keys: list[str], cells: list[str]) -> Row | list[str]:
    """One record -> a Row, or its errors."""
    if len(cells) > len(keys) and any(cell.strip() for cell in cells[len(keys) :]):
        return [f"line {line}: row: {len(cells)} cells, but the header has {len(keys)} columns"]
    nameless = [
        index + 1 for index, (key, cell) in enumerate(zip(keys, cells, strict=False)) if not key and cell.strip()
    ]
    if nameless:
        return [f"line {line}: column {index}: a value under a column without a name" for index in nameless]
    values = {key: cell.strip() for key, cell in zip(keys, cells, strict=False) if key and cell.strip()}
    try:
        return Row.model_validate(values)
    except ValidationError as exc:
        return _row_errors(line, exc)


def parse_csv(data: bytes) -> list[Row]:
    """Every row validated, or DirectoryErrors listing every problem of the file."""
    text = _decode(data)
    if not text.strip():
        raise DirectoryErrors(["line 1: file: the file is empty"])
    records = _records(text)
    while not any(cell.strip() for cell in records[0][1]):
        records.pop(0)  # blank lines above the header
    (_, header_cells), *records = records
    keys, errors = _header(header_cells)
    if errors:
        raise DirectoryErrors(errors)  # row errors would only repeat the header's
    rows: list[Row] = []
    seen: dict[str, int] = {}
    for line, cells in records:
        if not any(cell.strip() for cell in cells):
            continue  # blank lines and Excel's trailing ";;;;" rows
        result = _validate(line, keys, cells)
        if isinstance(result, list):
            errors += result
        elif result.slug in seen:
            errors.append(f"line {line}: slug: {result.slug!r} is already used on line {seen[result.slug]}")
        else:
            seen[result.slug] = line
            rows.append(result)
    if errors:
        raise DirectoryErrors(errors)
    if not rows:
        raise DirectoryErrors(["line 2: file: the file has a header but no rows"])
    return rows


# -- import and export ---------------------------------------------------------


@dataclass(frozen=True)
class ImportResult:
    """What an import did, by slug. Associations absent from the file are kept, not deleted."""

    created: tuple[str, ...]
    updated: tuple[str, ...]
    unchanged: tuple[str, ...]
    kept: tuple[str, ...]
    """In the database but not in the file: left as they are (an import never deletes)."""

    def summary(self) -> list[str]:
        lines = [f"{len(self.created)} created, {len(self.updated)} updated, {len(self.unchanged)} unchanged"]
        if self.kept:
            lines.append(
                f"{len(self.kept)} association(s) in the database but not in the file, left as they are: "
                + ", ".join(self.kept)
            )
        return lines


async def import_csv(session: AsyncSession, data: bytes) -> ImportResult:
    """Validate the whole file, then upsert by slug in the caller's transaction (all rows or none).

    Raises DirectoryErrors before touching the database.
    """
    rows = parse_csv(data)
    existing = {a.slug: a for a in (await session.scalars(select(Association))).all()}
    created: list[str] = []
    updated: list[str] = []
    unchanged: list[str] = []
    for row in rows:
        values = row.model_dump()
        association = existing.get(row.slug)
        if association is None:
            session.add(Association(**values))
            created.append(row.slug)
            continue
        changed = {name: value for name, value in values.items() if getattr(association, name) != value}
        for name, value in changed.items():
            setattr(association, name, value)
        (updated if changed else unchanged).append(row.slug)
    await session.flush()
    in_file = {row.slug for row in rows}
    kept = tuple(sorted(slug for slug in existing if slug not in in_file))
    return ImportResult(tuple(created), tuple(updated), tuple(unchanged), kept)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return " ".join(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


async def list_associations(session: AsyncSession) -> list[Association]:
    """All associations, by slug."""
    return list((await session.scalars(select(Association).order_by(Association.slug))).all())


async def export_csv(session: AsyncSession) -> str:
    """The directory as CSV (',' and UTF-8, no BOM); importing it back changes nothing."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for association in await list_associations(session):
        writer.writerow([_cell(getattr(association, name)) for name in COLUMNS])
    return out.getvalue()
