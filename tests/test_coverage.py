"""Coverage as an operator checks it (`passerelle associations check`) and the warnings before
an accreditation ends, on a real database (issue 15, item 2).

Every association here is fictional ("Association Test ...", slugs test-*), except the shipped
example directory, which is read as it is.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.cli.associations import add_parser, run
from storage.coverage import ENDING_WITHIN_DAYS, audit, warnings_due
from storage.db import sessions
from storage.directory.csvfile import import_csv
from storage.directory.enrollment import create_enrollment_code, enroll
from storage.models import Association
from storage.places import places

EXAMPLE = Path(__file__).resolve().parent.parent / "storage" / "data" / "associations.example.csv"
TODAY = dt.date(2026, 1, 15)
HEADER = "slug,name,departements,city,latitude,longitude,accredited_until,intake_open"
EVERYWHERE = " ".join(d.code for d in places().departements())


def csv_bytes(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


async def enrolled(session: AsyncSession, slug: str, chat_id: int) -> None:
    assert await enroll(session, await create_enrollment_code(session, slug), chat_id=chat_id) is not None


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="passerelle")
    add_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["associations", *argv])


# -- the audit -------------------------------------------------------------------


async def test_a_healthy_directory_has_nothing_to_report(session: AsyncSession) -> None:
    await import_csv(
        session, csv_bytes(HEADER, f"test-france,Association Test France,{EVERYWHERE},Paris,48.85,2.35,2027-12-31,true")
    )
    await enrolled(session, "test-france", -100_001)
    found = await audit(session, TODAY, places())
    assert not found.problems(), found
    assert found.lines() == []


async def test_every_kind_of_problem_is_named(session: AsyncSession) -> None:
    soon = TODAY + dt.timedelta(days=ENDING_WITHIN_DAYS)
    await import_csv(
        session,
        csv_bytes(
            HEADER,
            f"test-france,Association Test France,{EVERYWHERE},Paris,48.85,2.35,{soon.isoformat()},true",
            "test-ended,Association Test Ended,13,Marseille,43.30,5.37,2026-01-14,true",
            "test-paused,Association Test Paused,59,Lille,50.63,3.06,2027-12-31,false",
            "test-gone,Association Test Gone,69,Lyon,45.76,4.84,2027-12-31,true",
            "test-nochat,Association Test No Chat,33,Bordeaux,44.84,-0.58,2027-12-31,true",
        ),
    )
    for n, slug in enumerate(("test-france", "test-ended", "test-paused", "test-gone")):
        await enrolled(session, slug, -100_010 - n)
    await session.execute(
        update(Association).where(Association.slug == "test-gone").values(unreachable_since=dt.datetime(2026, 1, 10))
    )
    found = await audit(session, TODAY, places())
    assert [(e.slug, e.until) for e in found.ending] == [("test-france", soon)]
    assert [(e.slug, e.until) for e in found.ended] == [("test-ended", dt.date(2026, 1, 14))]
    assert found.paused == ("test-paused",)
    assert found.unreachable == ("test-gone",)
    assert found.not_enrolled == ("test-nochat",)
    assert found.uncovered == (), "test-france still covers every département until its date"
    assert found.problems()
    text = "\n".join(found.lines())
    for slug in ("test-france", "test-ended", "test-paused", "test-gone", "test-nochat"):
        assert slug in text


async def test_one_day_past_the_window_is_not_ending(session: AsyncSession) -> None:
    later = TODAY + dt.timedelta(days=ENDING_WITHIN_DAYS + 1)
    await import_csv(
        session,
        csv_bytes(
            HEADER, f"test-france,Association Test France,{EVERYWHERE},Paris,48.85,2.35,{later.isoformat()},true"
        ),
    )
    await enrolled(session, "test-france", -100_001)
    assert (await audit(session, TODAY, places())).ending == ()


async def test_a_departement_is_uncovered_when_its_only_association_cannot_take_anyone(session: AsyncSession) -> None:
    others = " ".join(code for code in EVERYWHERE.split() if code != "13")
    await import_csv(
        session,
        csv_bytes(
            HEADER,
            f"test-france,Association Test France,{others},Paris,48.85,2.35,2027-12-31,true",
            "test-sud,Association Test Sud,13,Marseille,43.30,5.37,2027-12-31,false",
        ),
    )
    await enrolled(session, "test-france", -100_001)
    await enrolled(session, "test-sud", -100_002)
    found = await audit(session, TODAY, places())
    assert found.uncovered == (("13", "Bouches-du-Rhône"),)
    assert any("13" in line and "Bouches-du-Rhône" in line for line in found.lines())


# -- the command -----------------------------------------------------------------


async def test_check_on_the_example_directory_fails_and_says_why(
    database_url: str, engine: AsyncEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    """The shipped example: four Paris associations whose accreditation ended on 2020-11-29."""
    assert await run(parse("import", str(EXAMPLE)), database_url) == 0
    capsys.readouterr()
    assert await run(parse("check", "--on", "2026-12-01"), database_url) == 1
    out = capsys.readouterr().out
    assert out.count("2020-11-29") == 4
    assert "amicale-du-nid" in out
    total = len(places().departements())
    assert f"{total} département(s) with no eligible association" in out
    assert "75 Paris" in out


async def test_check_exits_zero_when_all_is_well(
    database_url: str, session: AsyncSession, capsys: pytest.CaptureFixture[str]
) -> None:
    await import_csv(
        session, csv_bytes(HEADER, f"test-france,Association Test France,{EVERYWHERE},Paris,48.85,2.35,2027-12-31,true")
    )
    await enrolled(session, "test-france", -100_001)
    await session.commit()
    assert await run(parse("check", "--on", TODAY.isoformat()), database_url) == 0
    assert "nothing to report" in capsys.readouterr().out


async def test_check_refuses_a_bad_date(database_url: str, engine: AsyncEngine) -> None:
    with pytest.raises(SystemExit) as exited:
        parse("check", "--on", "15/01/2026")
    assert exited.value.code == 2


# -- the warnings before the end ---------------------------------------------------


async def test_a_warning_at_30_days_and_another_at_7_and_no_more(session: AsyncSession) -> None:
    until = TODAY + dt.timedelta(days=40)
    await import_csv(
        session, csv_bytes(HEADER, f"test-nord,Association Test Nord,59,Lille,50.63,3.06,{until.isoformat()},true")
    )
    await session.commit()

    def on(days_left: int) -> dt.date:
        return until - dt.timedelta(days=days_left)

    assert await warnings_due(session, on(31)) == []
    first = await warnings_due(session, on(30))
    assert [(w.slug, w.until, w.days) for w in first] == [("test-nord", until, 30)]
    for days_left in (30, 29, 8):
        assert await warnings_due(session, on(days_left)) == [], f"warned again {days_left} days before"
    second = await warnings_due(session, on(7))
    assert [(w.slug, w.days) for w in second] == [("test-nord", 7)]
    for days_left in (6, 1, 0):
        assert await warnings_due(session, on(days_left)) == []
    assert await warnings_due(session, until + dt.timedelta(days=1)) == [], "ended: `check` says so, not a warning"


async def test_a_late_start_sends_one_warning_not_two(session: AsyncSession) -> None:
    """A bot started 5 days before the end warns once, at the 7-day level."""
    until = TODAY + dt.timedelta(days=5)
    await import_csv(
        session, csv_bytes(HEADER, f"test-nord,Association Test Nord,59,Lille,50.63,3.06,{until.isoformat()},true")
    )
    assert [w.days for w in await warnings_due(session, TODAY)] == [7]
    assert await warnings_due(session, TODAY) == []


async def test_a_renewed_accreditation_is_warned_again_before_its_new_end(session: AsyncSession) -> None:
    until = TODAY + dt.timedelta(days=20)
    await import_csv(
        session, csv_bytes(HEADER, f"test-nord,Association Test Nord,59,Lille,50.63,3.06,{until.isoformat()},true")
    )
    assert len(await warnings_due(session, TODAY)) == 1
    renewed = until + dt.timedelta(days=365)
    await import_csv(
        session, csv_bytes(HEADER, f"test-nord,Association Test Nord,59,Lille,50.63,3.06,{renewed.isoformat()},true")
    )
    assert await warnings_due(session, TODAY) == []
    assert [w.until for w in await warnings_due(session, renewed - dt.timedelta(days=30))] == [renewed]


async def test_two_instances_warn_once(engine: AsyncEngine) -> None:
    """Two sessions (two instances) ask together: one of them gets the warning."""
    until = TODAY + dt.timedelta(days=10)
    async with sessions(engine).begin() as session:
        await import_csv(
            session, csv_bytes(HEADER, f"test-nord,Association Test Nord,59,Lille,50.63,3.06,{until.isoformat()},true")
        )
    async with sessions(engine).begin() as first:
        won = await warnings_due(first, TODAY)
    async with sessions(engine).begin() as second:
        lost = await warnings_due(second, TODAY)
    assert (len(won), len(lost)) == (1, 0)
