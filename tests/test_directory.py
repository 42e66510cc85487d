"""The directory: CSV import/export, "nearest", enrollment, and the operator's CLI, on a real SQLite file.

Every association here is fictional ("Association Test ...", slugs test-*).
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.cli.associations import add_parser, run
from storage.db import sessions
from storage.directory.csvfile import COLUMNS, DirectoryErrors, export_csv, import_csv, list_associations
from storage.directory.enrollment import UnknownAssociation, create_enrollment_code, enroll, unenroll
from storage.directory.nearest import Candidate, load_candidates, nearest
from storage.models import EnrolledChat, EnrollmentCode
from storage.places import places

EXAMPLE = Path(__file__).resolve().parent.parent / "storage" / "data" / "associations.example.csv"
TODAY = dt.date(2026, 1, 15)

HEADER = "slug,name,departements,city,latitude,longitude,accredited_until,intake_open,phone,website,languages"
NORD = "test-nord,Association Test Nord,59 62,Lille,50.63,3.06,2027-12-31,true,,,fr en"
SUD = "test-sud,Association Test Sud,13,Marseille,43.30,5.37,2027-12-31,yes,+33 0 00 00 00 00,https://example.org,"
CORSE = "test-corse,Association Test Corse,2A 2B,Ajaccio,41.92,8.74,2027-06-30,0,,,"


def csv_bytes(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


VALID = csv_bytes(HEADER, NORD, SUD, CORSE)


async def errors_of(session: AsyncSession, data: bytes) -> list[str]:
    """The import's errors; also checks that nothing was applied."""
    before = await export_csv(session)
    with pytest.raises(DirectoryErrors) as caught:
        await import_csv(session, data)
    assert await export_csv(session) == before
    return caught.value.errors


# -- import ----------------------------------------------------------------------


async def test_a_valid_file_imports(session: AsyncSession) -> None:
    result = await import_csv(session, VALID)
    assert (result.created, result.updated, result.unchanged, result.kept) == (
        ("test-nord", "test-sud", "test-corse"),
        (),
        (),
        (),
    )
    stored = {a.slug: a for a in await list_associations(session)}
    assert stored["test-nord"].departements == ["59", "62"]
    assert stored["test-nord"].languages == ["fr", "en"]
    assert stored["test-nord"].phone == ""  # empty stays empty
    assert stored["test-sud"].intake_open is True
    assert stored["test-sud"].website == "https://example.org"
    assert stored["test-corse"].intake_open is False
    assert stored["test-corse"].departements == ["2A", "2B"]
    assert stored["test-corse"].accredited_until == dt.date(2027, 6, 30)
    assert stored["test-corse"].notice_locale == "fr"
    assert stored["test-corse"].verified_on is None


async def test_reimport_changes_nothing_and_absent_ones_are_kept(session: AsyncSession) -> None:
    await import_csv(session, VALID)
    again = await import_csv(session, VALID)
    assert (again.created, again.updated, len(again.unchanged)) == ((), (), 3)

    changed = await import_csv(session, csv_bytes(HEADER, NORD.replace("Lille", "Roubaix"), SUD))
    assert changed.updated == ("test-nord",)
    assert changed.unchanged == ("test-sud",)
    assert changed.kept == ("test-corse",)
    assert any("left as they are: test-corse" in line for line in changed.summary())
    slugs = [a.slug for a in await list_associations(session)]
    assert slugs == ["test-corse", "test-nord", "test-sud"]


async def test_missing_required_column_is_one_error(session: AsyncSession) -> None:
    header = HEADER.replace(",city", "")
    row = NORD.replace(",Lille", "")
    assert await errors_of(session, csv_bytes(header, row, row)) == ["line 1: city: required column is missing"]


async def test_unknown_column_is_an_error(session: AsyncSession) -> None:
    errors = await errors_of(session, csv_bytes(HEADER + ",address", NORD + ",1 rue Test"))
    assert len(errors) == 1
    assert errors[0].startswith("line 1: address: unknown column")


async def test_bad_date_is_reported_with_its_line(session: AsyncSession) -> None:
    errors = await errors_of(session, csv_bytes(HEADER, NORD, SUD.replace("2027-12-31", "31/12/2027")))
    assert len(errors) == 1
    assert errors[0].startswith("line 3: accredited_until: '31/12/2027' is not a date written YYYY-MM-DD")
    errors = await errors_of(session, csv_bytes(HEADER, NORD.replace("2027-12-31", "2027-02-30")))
    assert errors == ["line 2: accredited_until: '2027-02-30' is not a real date"]


async def test_coordinates_out_of_range(session: AsyncSession) -> None:
    errors = await errors_of(session, csv_bytes(HEADER, NORD.replace("50.63,3.06", "95,200")))
    assert [e.split(":")[:2] for e in errors] == [["line 2", " latitude"], ["line 2", " longitude"]]
    assert "between -90 and 90" in errors[0]
    assert "between -180 and 180" in errors[1]


async def test_duplicate_slugs(session: AsyncSession) -> None:
    errors = await errors_of(session, csv_bytes(HEADER, NORD, SUD, NORD.replace("Lille", "Douai")))
    assert errors == ["line 4: slug: 'test-nord' is already used on line 2"]


async def test_not_utf8(session: AsyncSession) -> None:
    data = csv_bytes(HEADER, NORD, SUD).replace(b"Marseille", "Marseillé".encode("latin-1"))
    assert await errors_of(session, data) == ["line 3: encoding: the file is not UTF-8; save it as CSV UTF-8"]


@pytest.mark.parametrize("data", [b"", b"\n \n", "\ufeff".encode()])
async def test_empty_file(session: AsyncSession, data: bytes) -> None:
    assert await errors_of(session, data) == ["line 1: file: the file is empty"]


async def test_header_without_rows(session: AsyncSession) -> None:
    assert await errors_of(session, csv_bytes(HEADER)) == ["line 2: file: the file has a header but no rows"]


async def test_every_error_is_reported_with_the_file_line(session: AsyncSession) -> None:
    multiline = SUD.replace("https://example.org,", 'https://example.org,"fr\nen"').replace("test-sud", "test-sud-bis")
    data = csv_bytes(
        HEADER,
        NORD.replace("59 62", "59 99 Paris"),  # line 2
        SUD.replace(",yes,", ",maybe,").replace("+33 0 00 00 00 00", "call us"),  # line 3
        multiline,  # lines 4-5: a quoted cell spans two lines; the row is valid
        "",  # line 6: blank, skipped
        CORSE.replace("test-corse", "Test Corse").replace(",,,", ",,https//nowhere,"),  # line 7
        "test-y,Association Test Y,75,,48.8,2.3,2027-01-01,true,,,",  # line 8
        "test-x,Association Test X,,Paris,48.8,2.3,2027-01-01,true,,,,extra",  # line 9
    )
    errors = await errors_of(session, data)
    assert errors[0] == (
        "line 2: departements: '99' is not a French département code; 'Paris' is not a French département code"
        " (did you mean 75?)"
    )
    assert errors[1] == "line 3: intake_open: 'maybe' is neither true nor false (also accepted: yes/no, 1/0)"
    assert errors[2] == "line 3: phone: 'call us' does not look like a phone number"
    assert errors[3].startswith("line 7: slug: 'Test Corse' must be")
    assert errors[4].startswith("line 7: website: 'https//nowhere'")
    assert errors[5] == "line 8: city: required, but the cell is empty"
    assert errors[-1] == "line 9: row: 12 cells, but the header has 11 columns"


async def test_a_bad_row_applies_nothing(session: AsyncSession) -> None:
    await import_csv(session, VALID)
    before = await export_csv(session)
    bad = csv_bytes(HEADER, NORD.replace("Lille", "Roubaix"), SUD.replace("43.30", "143.30"))
    with pytest.raises(DirectoryErrors):
        await import_csv(session, bad)
    assert await export_csv(session) == before


async def test_semicolons_bom_and_french_spreadsheet_habits(session: AsyncSession) -> None:
    header = "Slug;Name;Départements;City;Latitude;Longitude;Accredited_until;Intake_open;Hours"
    row = "test-est;Association Test Est;1 2a 971;Bourg;46,2;5,22;2027-12-31;VRAI;lundi, mardi"
    result = await import_csv(session, "\ufeff".encode() + csv_bytes(header, row, ";;;;;;;;"))
    assert result.created == ("test-est",)
    (stored,) = await list_associations(session)
    assert stored.departements == ["01", "2A", "971"]
    assert (stored.latitude, stored.longitude) == (46.2, 5.22)
    assert stored.intake_open is True
    assert stored.hours == "lundi, mardi"


async def test_blank_lines_above_and_nameless_empty_columns_are_tolerated(session: AsyncSession) -> None:
    result = await import_csv(session, csv_bytes("", HEADER + ",,", NORD + ",,"))
    assert result.created == ("test-nord",)
    errors = await errors_of(session, csv_bytes(HEADER + ",,", SUD + ",,oops"))
    assert errors == ["line 2: column 13: a value under a column without a name"]


async def test_export_round_trips(session: AsyncSession) -> None:
    data = csv_bytes(
        HEADER + ",hours,source,verified_on,notice_locale,services,accreditation_ref,email",
        NORD + ',"lun–ven, 9h-17h","Fictional, for tests; ""quoted""",2025-12-01,en,accueil hebergement,TEST-1,a@b.fr',
        SUD + ",,,,,,,",
    )
    await import_csv(session, data)
    exported = await export_csv(session)
    assert exported.splitlines()[0] == ",".join(COLUMNS)
    again = await import_csv(session, exported.encode())
    assert (again.created, again.updated, len(again.unchanged)) == ((), (), 2)
    assert await export_csv(session) == exported


async def test_the_example_imports_cleanly_and_is_honest(session: AsyncSession) -> None:
    data = EXAMPLE.read_bytes()
    result = await import_csv(session, data)
    assert len(result.created) == 4
    assert (await export_csv(session)).encode() == data  # the file is exactly what an export writes
    for association in await list_associations(session):
        assert association.source.startswith("EXAMPLE")
        assert "29 Nov 2017" in association.source and "unverified" in association.source
        empty = ("phone", "email", "website", "hours", "accreditation_ref")
        assert all(getattr(association, name) == "" for name in empty), association.slug
        assert association.verified_on is None
        assert association.departements == ["75"]
        assert (association.latitude, association.longitude) == places().point("75")
        assert association.accredited_until == dt.date(2020, 11, 29)
    candidates = await load_candidates(session)
    point = places().point("75")
    assert nearest(candidates, "75", point, dt.date.today(), require_enrolled=False) is None  # expired: no handoff
    assert nearest(candidates, "75", point, dt.date(2020, 11, 29), require_enrolled=False) is not None


# -- nearest -----------------------------------------------------------------------


def candidate(slug: str, departements: str, lat: float, lon: float, **changes: object) -> Candidate:
    fields: dict[str, object] = {
        "slug": slug,
        "name": f"Association Test {slug}",
        "city": "Testville",
        "departements": frozenset(departements.split()),
        "latitude": lat,
        "longitude": lon,
        "accredited_until": dt.date(2027, 1, 1),
        "intake_open": True,
        "enrolled": True,
    }
    fields.update(changes)
    return Candidate(**fields)  # type: ignore[arg-type]  # fields given by name, as a test's overrides


PARIS = (48.853, 2.349)
LILLE = (50.63, 3.06)


def test_nearest_prefers_a_covering_one_over_a_closer_one() -> None:
    close = candidate("test-close", "92", 48.86, 2.35)
    covering = candidate("test-covering", "75 93", 49.5, 2.35)
    match = nearest([close, covering], "75", PARIS, TODAY)
    assert match is not None
    assert (match.candidate.slug, match.covers) == ("test-covering", True)
    assert match.distance_km == pytest.approx(72.3, abs=0.5)


def test_nearest_closest_among_covering_ones() -> None:
    far = candidate("test-far", "75", 49.5, 2.35)
    near = candidate("test-near", "75", 48.9, 2.35)
    match = nearest([far, near], "75", PARIS, TODAY)
    assert match is not None and match.candidate.slug == "test-near"


def test_nearest_falls_back_to_the_closest_overall() -> None:
    lille = candidate("test-lille", "59", *LILLE)
    lyon = candidate("test-lyon", "69", 45.76, 4.84)
    match = nearest([lyon, lille], "75", PARIS, TODAY)
    assert match is not None
    assert (match.candidate.slug, match.covers) == ("test-lille", False)
    assert match.distance_km == pytest.approx(204, abs=2)


def test_nearest_skips_expired_closed_and_not_enrolled() -> None:
    expired = candidate("test-expired", "75", *PARIS, accredited_until=TODAY - dt.timedelta(days=1))
    closed = candidate("test-closed", "75", *PARIS, intake_open=False)
    lonely = candidate("test-lonely", "75", *PARIS, enrolled=False)
    valid_today = candidate("test-last-day", "59", *LILLE, accredited_until=TODAY)
    match = nearest([expired, closed, lonely, valid_today], "75", PARIS, TODAY)
    assert match is not None
    assert (match.candidate.slug, match.covers) == ("test-last-day", False)
    relaxed = nearest([expired, closed, lonely], "75", PARIS, TODAY, require_enrolled=False)
    assert relaxed is not None and relaxed.candidate.slug == "test-lonely"
    assert nearest([expired, closed, lonely], "75", PARIS, TODAY) is None


def test_nearest_exclude() -> None:
    one = candidate("test-one", "75", 48.86, 2.35)
    two = candidate("test-two", "75", 48.95, 2.35)
    match = nearest([one, two], "75", PARIS, TODAY, exclude=frozenset({"test-one"}))
    assert match is not None and match.candidate.slug == "test-two"
    assert nearest([one, two], "75", PARIS, TODAY, exclude=frozenset({"test-one", "test-two"})) is None


def test_nearest_without_a_point_or_a_departement() -> None:
    b = candidate("test-b", "75", 48.86, 2.35)
    a = candidate("test-a", "75 92", 49.9, 2.35)
    lille = candidate("test-lille", "59", *LILLE)
    match = nearest([b, a, lille], "75", None, TODAY)
    assert match is not None
    assert (match.candidate.slug, match.distance_km, match.covers) == ("test-a", None, True)
    assert nearest([b, a, lille], "13", None, TODAY) is None  # no point: no "closest overall"
    assert nearest([b, a, lille], None, None, TODAY) is None
    anywhere = nearest([b, a, lille], None, LILLE, TODAY)
    assert anywhere is not None and (anywhere.candidate.slug, anywhere.covers) == ("test-lille", False)
    corsica = nearest([candidate("test-corse", "2A", 41.9, 8.7)], "2a", None, TODAY)
    assert corsica is not None and corsica.covers


def test_nearest_ties_go_to_the_smaller_slug() -> None:
    twins = [candidate("test-z", "75", *PARIS), candidate("test-m", "75", *PARIS)]
    match = nearest(twins, "75", PARIS, TODAY)
    assert match is not None and match.candidate.slug == "test-m"
    assert match.distance_km == pytest.approx(0.0, abs=1e-6)


async def test_load_candidates_knows_who_is_enrolled(session: AsyncSession) -> None:
    await import_csv(session, VALID)
    code = await create_enrollment_code(session, "test-nord")
    await enroll(session, code, chat_id=-100_001)
    candidates = {c.slug: c for c in await load_candidates(session)}
    assert candidates["test-nord"].enrolled and not candidates["test-sud"].enrolled
    assert candidates["test-nord"].departements == frozenset({"59", "62"})
    assert candidates["test-nord"].languages == ("fr", "en")
    match = nearest(list(candidates.values()), "62", places().point("62"), TODAY)
    assert match is not None and match.candidate.slug == "test-nord" and match.covers


# -- enrollment -----------------------------------------------------------------


async def chat_of(session: AsyncSession, slug: str) -> int | None:
    chats = {a.slug: a for a in await list_associations(session)}
    return await session.scalar(select(EnrolledChat.chat_id).where(EnrolledChat.association_id == chats[slug].id))


async def test_a_code_works_once(session: AsyncSession) -> None:
    await import_csv(session, VALID)
    code = await create_enrollment_code(session, "test-nord")
    assert len(code) == 11 and code[5] == "-"
    association = await enroll(session, code, chat_id=-100_001)
    assert association is not None and association.slug == "test-nord"
    assert await chat_of(session, "test-nord") == -100_001
    assert await enroll(session, code, chat_id=-100_002) is None
    assert await chat_of(session, "test-nord") == -100_001
    stored = (await session.scalars(select(EnrollmentCode.code_hash))).all()
    assert all(code.replace("-", "") not in digest for digest in stored) and len(stored[0]) == 64


async def test_a_code_typed_loosely_still_works(session: AsyncSession) -> None:
    await import_csv(session, VALID)
    code = await create_enrollment_code(session, "test-sud")
    assert await enroll(session, f"  {code.replace('-', '').lower()} ", chat_id=-100_003) is not None


async def test_wrong_and_expired_codes_are_refused(session: AsyncSession) -> None:
    await import_csv(session, VALID)
    code = await create_enrollment_code(session, "test-nord")
    assert await enroll(session, "AAAAA-AAAAA", chat_id=-100_001) is None
    assert await enroll(session, "not a code", chat_id=-100_001) is None
    await session.execute(update(EnrollmentCode).values(expires_at=dt.datetime(2020, 1, 1)))
    await session.commit()
    assert await enroll(session, code, chat_id=-100_001) is None
    assert await chat_of(session, "test-nord") is None


async def test_a_new_code_voids_the_previous_one(session: AsyncSession) -> None:
    await import_csv(session, VALID)
    first = await create_enrollment_code(session, "test-nord")
    second = await create_enrollment_code(session, "test-nord")
    assert await enroll(session, first, chat_id=-100_001) is None
    assert await enroll(session, second, chat_id=-100_001) is not None


async def test_reenrolling_moves_the_binding(session: AsyncSession) -> None:
    await import_csv(session, VALID)
    await enroll(session, await create_enrollment_code(session, "test-nord"), chat_id=-100_001)
    # The team moves to a new group: the association has one chat, the new one.
    await enroll(session, await create_enrollment_code(session, "test-nord"), chat_id=-100_002)
    assert await chat_of(session, "test-nord") == -100_002
    # The same group now serves another association: it moves there.
    await enroll(session, await create_enrollment_code(session, "test-sud"), chat_id=-100_002)
    assert await chat_of(session, "test-sud") == -100_002
    assert await chat_of(session, "test-nord") is None
    assert len((await session.scalars(select(EnrolledChat))).all()) == 1


async def test_unenroll(session: AsyncSession) -> None:
    await import_csv(session, VALID)
    await enroll(session, await create_enrollment_code(session, "test-nord"), chat_id=-100_001)
    pending = await create_enrollment_code(session, "test-nord")
    assert await unenroll(session, "test-nord") == 0, "enrolled, with nothing waiting for its chat"
    assert await chat_of(session, "test-nord") is None
    assert await unenroll(session, "test-nord") is None, "no chat any more"
    assert await enroll(session, pending, chat_id=-100_001) is None  # pending codes die with it
    with pytest.raises(UnknownAssociation):
        await unenroll(session, "test-nowhere")
    with pytest.raises(UnknownAssociation):
        await create_enrollment_code(session, "test-nowhere")


# -- the CLI -------------------------------------------------------------------


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="passerelle")
    add_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["associations", *argv])


@pytest.fixture
def url(database_url: str, engine: AsyncEngine) -> str:
    return database_url


async def test_cli_import_list_export(tmp_path: Path, url: str, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "directory.csv"
    source.write_bytes(VALID)
    assert await run(parse("import", str(source)), url) == 0
    assert "3 created, 0 updated, 0 unchanged" in capsys.readouterr().out

    assert await run(parse("import", str(source)), url) == 0
    assert "0 created, 0 updated, 3 unchanged" in capsys.readouterr().out

    assert await run(parse("list"), url) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["slug", "name", "départements", "accredited", "until", "intake", "open", "enrolled"]
    nord = next(line for line in lines if line.startswith("test-nord"))
    assert "59 62" in nord and nord.split()[-2:] == ["yes", "no"]

    exported = tmp_path / "out.csv"
    assert await run(parse("export", "-o", str(exported)), url) == 0
    assert await run(parse("import", str(exported)), url) == 0
    assert "3 unchanged" in capsys.readouterr().out

    assert await run(parse("export"), url) == 0
    assert capsys.readouterr().out.splitlines()[0] == ",".join(COLUMNS)


async def test_cli_list_marks_expired(tmp_path: Path, url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert await run(parse("import", str(EXAMPLE)), url) == 0
    capsys.readouterr()
    assert await run(parse("list"), url) == 0
    out = capsys.readouterr().out
    assert out.count("2020-11-29 EXPIRED") == 4
    assert await run(parse("enroll", "amicale-du-nid"), url) == 0
    assert "accreditation of amicale-du-nid ended on 2020-11-29" in capsys.readouterr().err


async def test_cli_import_errors_apply_nothing(tmp_path: Path, url: str, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "bad.csv"
    source.write_bytes(csv_bytes(HEADER, NORD, NORD))
    assert await run(parse("import", str(source)), url) == 1
    err = capsys.readouterr().err
    assert f"{source}: line 3: slug: 'test-nord' is already used on line 2" in err
    assert "nothing was imported" in err
    assert await run(parse("list"), url) == 0
    assert "directory is empty" in capsys.readouterr().out
    assert await run(parse("import", str(tmp_path / "missing.csv")), url) == 1


async def test_cli_enroll_prints_the_code_last(
    tmp_path: Path, url: str, engine: AsyncEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "directory.csv"
    source.write_bytes(VALID)
    await run(parse("import", str(source)), url)
    capsys.readouterr()
    assert await run(parse("enroll", "test-nord"), url) == 0
    lines = capsys.readouterr().out.splitlines()
    code = lines[-1]
    assert f"/enroll {code}" in lines[-2] and "48 hours" in lines[-2]
    async with sessions(engine).begin() as session:
        association = await enroll(session, code, chat_id=-100_001)
    assert association is not None and association.slug == "test-nord"

    assert await run(parse("list"), url) == 0
    nord = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("test-nord"))
    assert nord.split()[-1] == "yes"
    assert await run(parse("unenroll", "test-nord"), url) == 0
    assert "unenrolled" in capsys.readouterr().out

    assert await run(parse("enroll", "test-nowhere"), url) == 1
    assert "no association with slug 'test-nowhere'" in capsys.readouterr().err
