"""Anonymous statistics, their suppression, `passerelle report` and /report (issue 15, items 3-5).

Storage tests run on a real database (SQLite, then PostgreSQL when given); the seeded run
is tests/support/stats_seed.py. Every association here is fictional.
"""

from __future__ import annotations

import csv
import io
import math
import random
import re
import shutil
import subprocess
from html import escape
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot import report, texts
from bot import stats as bot_stats
from bot.cli.main import main
from bot.config import ConfigError, load_settings
from dialogs.languages import PEOPLE_LOCALES
from storage import stats
from storage.db import sessions
from storage.models import StatCounter, Ticket
from storage.places import places
from storage.suppression import Cell, suppress
from storage.tickets import purge
from tests.support.stack import Stack, running_stack
from tests.support.stats_seed import in_month, seed
from tests.support.walks import CATALOGS, walk_to_consent

MINIMUM = 5
REQUESTS = 160
"""Enough for small and large counts; tests/support/stats_seed.py makes a few hundred for a demonstration."""
MONTHS = stats.months("2026-01", "2026-06")
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def db(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return sessions(engine)


async def rows(db: async_sessionmaker[AsyncSession]) -> list[StatCounter]:
    async with db() as session:
        return list(await session.scalars(select(StatCounter)))


# -- suppression ------------------------------------------------------------------


def random_tables(n: int = 2000) -> list[dict[str, int]]:
    rng = random.Random(15)
    return [
        {f"c{i}": rng.choice((0, 0, 1, 2, 3, 4, 5, 6, 9, 20, 150)) for i in range(rng.randint(1, 8))} for _ in range(n)
    ]


def test_a_small_count_never_shows() -> None:
    for values in random_tables():
        cells, total = suppress(values, MINIMUM, sum(values.values()))
        for cell in [*cells, *([total] if total else [])]:
            shown = cell.shown(MINIMUM)
            assert not (shown.isdigit() and 0 < int(shown) < MINIMUM), cell
            if 0 < cell.value < MINIMUM:
                assert shown == "< 5", cell


def test_a_total_minus_the_visible_cells_never_reveals_a_hidden_one() -> None:
    checked = 0
    for values in random_tables():
        cells, total = suppress(values, MINIMUM, sum(values.values()))
        assert total is not None
        if total.hidden:
            assert all(c.hidden or c.value == 0 for c in cells), "under a hidden total, every count is hidden"
            continue
        hidden = [c for c in cells if c.hidden]
        residue = total.value - sum(c.value for c in cells if not c.hidden)
        assert len(hidden) != 1, f"{values}: the total gives the one hidden count"
        assert residue == sum(c.value for c in hidden)
        if hidden:
            assert residue >= MINIMUM, f"{values}: the hidden counts add up to a small count"
            checked += 1
    assert checked > 100, "the tables exercised complementary suppression"


def possible_values(cells: list[Cell], total: int, minimum: int) -> dict[str, tuple[float, float]]:
    """What a reader can work out of each hidden count from the total, the visible counts and
    the published rule: "< 5" is 1 to 4, "masqué" is 5 or more (a shown 0 is 0)."""
    hidden = [c for c in cells if c.hidden]
    residue = total - sum(c.value for c in cells if not c.hidden)
    floor = {c.label: 1 if c.hidden == "small" else minimum for c in hidden}
    cap = {c.label: minimum - 1 if c.hidden == "small" else math.inf for c in hidden}
    out = {}
    for c in hidden:
        others = [o.label for o in hidden if o.label != c.label]
        low = max(floor[c.label], residue - sum(cap[o] for o in others))
        high = min(cap[c.label], residue - sum(floor[o] for o in others))
        out[c.label] = (low, high)
    return out


EDGE_TABLES = [
    {"ro": 5, "bg": 1},
    {"ro": 5, "bg": 1, "ru": 0},
    {"a": 4, "b": 4},
    {"a": 4, "b": 4, "c": 0},
    {"a": 1, "b": 1, "c": 1, "d": 1, "e": 1},
    {"a": 5, "b": 5, "c": 1},
    {"a": 4, "b": 4, "c": 9, "d": 20},
    {"a": 1, "b": 1, "c": 1, "d": 1, "e": 1, "f": 30},
    {"a": 5, "b": 1, "c": 40},
]


def test_no_hidden_count_can_be_worked_out_from_the_total_and_the_rule() -> None:
    for values in [*EDGE_TABLES, *random_tables()]:
        cells, total = suppress(values, MINIMUM, sum(values.values()))
        assert total is not None
        if total.hidden:
            assert all(c.hidden or c.value == 0 for c in cells), f"{values}: a hidden total with visible counts"
            continue
        for label, (low, high) in possible_values(cells, total.value, MINIMUM).items():
            assert low < high, f"{values}: {label} can only be {low}"


def test_a_table_whose_total_would_reveal_a_count_hides_that_total_in_every_table() -> None:
    counts = [
        stats.Count("2026-03", "handoff", stats.TOTAL, "", 6),
        stats.Count("2026-03", "handoff", "language", "ro", 5),
        stats.Count("2026-03", "handoff", "language", "bg", 1),
        stats.Count("2026-03", "handoff", "departement", "34", 6),
        stats.Count("2026-03", "handoff", "age", "18_25", 6),
    ]
    made = report.build(counts, "2026-03", "2026-03", MINIMUM, places(), [])
    shown = [c.shown(MINIMUM) for t in made.tables for c in [*t.cells, *([t.total] if t.total else [])]]
    assert "6" not in shown, "6 requests, 5 in Romanian: the total gives the one in Bulgarian"
    assert "< 5" in shown


def test_stats_min_count_is_refused_below_three() -> None:
    assert load_settings(stats_min_count=3).stats_min_count == 3
    assert load_settings().stats_min_count == 5
    with pytest.raises(ConfigError, match=r"^STATS_MIN_COUNT is invalid: it must be 3 or more"):
        load_settings(stats_min_count=2)


# -- counters ---------------------------------------------------------------------


async def test_the_counters_table_has_one_attribute_column_pair(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        columns = await connection.run_sync(
            lambda sync: [c["name"] for c in inspect(sync).get_columns("stat_counters")]
        )
    assert sorted(columns) == ["attribute", "count", "event", "month", "value"]
    assert sorted(c.name for c in StatCounter.__table__.columns) == sorted(columns)


def domains() -> dict[str, set[str]]:
    """What each attribute's value may be: one attribute's values, never a combination."""
    codes = {d.code for d in places().departements()} | {stats.NO_DEPARTEMENT}
    return {
        stats.TOTAL: {""},
        "departement": codes,
        "language": set(PEOPLE_LOCALES),
        "association": {"test-stats-paris", "test-stats-lyon", "test-stats-montpellier", "test-stats-marseille"},
        "need": set(report.option_labels("needs")),
        "age": set(report.option_labels("age")),
        "outcome": {"by_hand", "timeout", "unreachable"},
        "time_to_accept": {label for label, _ in stats.ACCEPT_BUCKETS},
        "limit": {"handoff", "relay", "code_guess"},
    }


async def test_a_seeded_run_counts_one_attribute_per_row_by_month(db: async_sessionmaker[AsyncSession]) -> None:
    seeded = await seed(db, MONTHS, requests=200)
    counters = await rows(db)
    allowed = domains()
    for row in counters:
        assert row.event in stats.EVENTS and row.month in MONTHS
        assert row.value in allowed[row.attribute], f"{row.attribute}={row.value!r} is not one attribute's value"
    total = {r.month: r.count for r in counters if r.event == "handoff" and r.attribute == stats.TOTAL}
    assert total == dict(seeded.handoffs)
    languages = {r.value: 0 for r in counters if r.event == "handoff" and r.attribute == "language"}
    for r in counters:
        if r.event == "handoff" and r.attribute == "language":
            languages[r.value] += r.count
    assert languages == dict(seeded.languages)
    accepted = sum(r.count for r in counters if r.event == "accept" and r.attribute == "time_to_accept")
    assert accepted == seeded.events["accept"] > 0
    assert {r.value for r in counters if r.attribute == "time_to_accept"} == {b for b, _ in stats.ACCEPT_BUCKETS}


async def test_counters_outlive_the_tickets_purge(db: async_sessionmaker[AsyncSession]) -> None:
    await seed(db, MONTHS, requests=20)
    before = {(r.month, r.event, r.attribute, r.value): r.count for r in await rows(db)}
    async with db.begin() as session:
        assert await purge(session, retention_days=1, now=stats_now_plus_days(400)) == 20
    after = {(r.month, r.event, r.attribute, r.value): r.count for r in await rows(db)}
    assert after == before and before


def stats_now_plus_days(days: int) -> object:
    import datetime as dt

    return dt.datetime.now(dt.UTC) + dt.timedelta(days=days)


async def test_association_stats_for_its_last_three_months(db: async_sessionmaker[AsyncSession]) -> None:
    seeded = await seed(db, MONTHS, requests=150)
    with in_month("2026-06"):
        async with db() as session:
            found = await stats.association_stats(session, "test-stats-paris")
    assert (found.first, found.last) == ("2026-04", "2026-06")
    assert found.received > 0 and found.accepted > 0
    with in_month("2026-06"):
        async with db() as session:
            wide = await stats.association_stats(session, "test-stats-paris", months_shown=12)
    paris = "test-stats-paris"
    assert (wide.received, wide.accepted, wide.declined) == (
        seeded.by_association["offer", paris],
        seeded.by_association["accept", paris],
        seeded.by_association["decline", paris],
    )
    assert wide.received > found.received, "three months are fewer than six"
    assert wide.median_hours_to_accept is not None and 0 <= wide.median_hours_to_accept <= 100


# -- the report -------------------------------------------------------------------


async def make_report(database_url: str, out: Path, monkeypatch: pytest.MonkeyPatch, *extra: str) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert await run_report(["report", "--from", MONTHS[0], "--to", MONTHS[-1], "-o", str(out), *extra]) == 0


async def run_report(argv: list[str]) -> int:
    import asyncio

    return await asyncio.to_thread(main, argv)  # main() runs its own event loop


def published_numbers(out: Path) -> list[int]:
    """Every count the CSV and the HTML page show."""
    with (out / "report.csv").open(encoding="utf-8") as handle:
        values = [row["valeur"] for row in csv.DictReader(handle)]
    page = (out / "report.html").read_text(encoding="utf-8")
    values += re.findall(r"<td class='n'>([^<]*)</td>", page)
    return [int(v) for v in values if v.isdigit()]


async def test_report_of_a_seeded_run(
    db: async_sessionmaker[AsyncSession], database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "report"
    seeded = await seed(db, MONTHS, requests=REQUESTS)
    await make_report(database_url, out, monkeypatch)
    for name in report.CHARTS:
        png = (out / f"{name}.png").read_bytes()
        assert png.startswith(PNG) and len(png) > 10_000, f"{name}.png is empty"
    numbers = published_numbers(out)
    assert numbers and sum(seeded.handoffs.values()) in numbers, "the total of requests shows"
    assert not [n for n in numbers if 0 < n < MINIMUM], "a count of 1 to 4 is published"
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == len(report.CHARTS), "every chart is inside the page"
    assert "src='http" not in page and "href=" not in page, "the page needs nothing else"
    assert "&lt; 5" in page and "masqué" in page, "the seeded run has small counts: they are hidden"
    for line in report.methodology(MINIMUM):
        assert escape(line) in page
    with (out / "report.csv").open(encoding="utf-8") as handle:
        languages = [r for r in csv.DictReader(handle) if r["tableau"] == "Langue de la conversation"]
    hidden = [r for r in languages if not r["valeur"].isdigit()]
    total = next(int(r["valeur"]) for r in languages if r["libellé"] == "total")
    assert len(hidden) >= 2 and total - sum(int(r["valeur"]) for r in languages[:-1] if r["valeur"].isdigit()) >= 5
    small = {report.language_label(code) for code, n in seeded.languages.items() if 0 < n < MINIMUM}
    assert small and {r["libellé"] for r in hidden if r["valeur"] == "< 5"} == small

    out = tmp_path / "herault"  # the same run, for one département
    await make_report(database_url, out, monkeypatch, "--departement", "34")
    with (out / "report.csv").open(encoding="utf-8") as handle:
        per_month = [r for r in csv.DictReader(handle) if r["tableau"] == "Demandes transmises, par mois"]
    assert {r["périmètre"] for r in per_month} == {"34 Hérault"}
    total = next(r["valeur"] for r in per_month if r["libellé"] == "total")
    assert total == str(seeded.departements["34"])
    assert not [n for n in published_numbers(out) if 0 < n < MINIMUM]
    assert (out / "carte_couverture.png").stat().st_size > 10_000


async def test_report_refuses_bad_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/db.sqlite3")
    assert await run_report(["report", "--from", "2026-05", "--to", "2026-01", "-o", str(tmp_path)]) == 1
    assert await run_report(["report", "--from", "2026-01", "--to", "2026-02", "--departement", "999"]) == 1
    with pytest.raises(SystemExit):
        await run_report(["report", "--from", "2026-13", "--to", "2026-12"])


async def test_the_report_renders_in_chromium(
    db: async_sessionmaker[AsyncSession], database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (.ci/run installs it)")
    out = tmp_path / "report"
    await seed(db, MONTHS, requests=REQUESTS // 2)
    await make_report(database_url, out, monkeypatch)
    shot = tmp_path / "report-screenshot.png"
    pdf = tmp_path / "report.pdf"
    for flag in (f"--screenshot={shot}", f"--print-to-pdf={pdf}"):
        subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1100,2600", flag, "--hide-scrollbars",
             f"--user-data-dir={tmp_path / 'profile'}", (out / "report.html").as_uri()],
            capture_output=True, timeout=120, check=True,
        )  # fmt: skip
    assert shot.read_bytes().startswith(PNG) and shot.stat().st_size > 50_000, "the page rendered with its charts"
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 50_000, "and it prints"


# -- counted by the bot --------------------------------------------------------------


async def counter(stack: Stack, event: str, attribute: str = stats.TOTAL, value: str = "") -> int:
    await bot_stats.settle()
    async with stack.app.runtime.db() as session:
        found = await session.scalar(
            select(StatCounter.count).where(
                StatCounter.event == event, StatCounter.attribute == attribute, StatCounter.value == value
            )
        )
    return found or 0


async def test_the_bot_counts_quick_exits_emergencies_and_requests_with_no_association(stack: Stack) -> None:
    _ = CATALOGS.get("ro").gettext
    user = stack.user(language_code="ro")
    await walk_to_consent(user, "ro")
    assert await counter(stack, "emergency") == 0
    await user.press(_(texts.EMERGENCY))
    assert await counter(stack, "emergency", "language", "ro") == 1
    await user.press(_("Retour"))
    await user.press(_("Oui, envoyer"))  # no association in the directory
    assert await counter(stack, "no_association", "language", "ro") == 1
    assert await counter(stack, "no_association", "departement", "75") == 1
    await user.press(_(texts.QUICK_EXIT))
    await stack.deletions_done()
    assert await counter(stack, "quick_exit", "language", "ro") == 1
    assert await counter(stack, "handoff") == 0


async def test_a_count_that_fails_never_stops_the_person(stack: Stack) -> None:
    async with stack.app.runtime.db.begin() as session:
        await session.execute(text("DROP TABLE stat_counters"))
    user = stack.user(6_100_222_333, first_name="Quillonna", language_code="fr")
    await walk_to_consent(user, "fr")
    await user.press("✖ Quitter")
    await stack.deletions_done()
    await bot_stats.settle()
    assert [m.get("text") for m in stack.fake.chats[user.chat_id].messages.values()] == ["Bonne journée ☀️"]
    logs = stack.logs.getvalue()
    assert re.search(r"could not count a quick_exit event \((OperationalError|ProgrammingError)\)", logs), logs[-2000:]
    assert "Quillonna" not in logs and "6100222333" not in logs


# -- /report ------------------------------------------------------------------------

MODERATOR = 70_015


async def test_report_command_sends_the_charts_to_a_moderator_only(backend: object, captured_logs: io.StringIO) -> None:
    async with running_stack(backend, captured_logs, moderator_ids=str(MODERATOR)) as stack:  # type: ignore[arg-type]  # read from the environment as a string
        await seed(stack.app.runtime.db, [stats.current_month()], requests=40)
        stranger = stack.user(MODERATOR + 1, language_code="fr")
        await stranger.send("/report")
        assert not [m for m in stack.fake.chats[stranger.chat_id].messages.values() if "photo" in m]
        moderator = stack.user(MODERATOR, language_code="fr")
        await moderator.send("/report")
        photos = [m for m in stack.fake.chats[moderator.chat_id].messages.values() if "photo" in m]
        assert len(photos) == 2 * len(report.CHARTS) - 1, "two months of charts, the map once"
        captions = [p.get("caption", "") for p in photos]
        assert sum(stats.current_month() in c for c in captions) == len(report.CHARTS)
        uploads = [c.params["photo"] for c in stack.fake.requests if c.method == "sendPhoto"]
        assert uploads and all(u["data"].startswith(PNG) and len(u["data"]) > 10_000 for u in uploads)


async def test_counters_commit_or_roll_back_with_their_event(db: async_sessionmaker[AsyncSession]) -> None:
    """In the event's transaction: a handoff rolled back leaves no count behind."""
    await seed(db, MONTHS, requests=1)
    before = await rows(db)
    with pytest.raises(RuntimeError):
        async with db.begin() as session:
            await stats.count(session, "handoff", {"language": "ro"})
            raise RuntimeError("the ticket could not be written")
    assert snapshot(await rows(db)) == snapshot(before)


def snapshot(counters: list[StatCounter]) -> set[tuple[str, str, str, str, int]]:
    return {(r.month, r.event, r.attribute, r.value, r.count) for r in counters}


async def test_concurrent_counts_all_add_up(db: async_sessionmaker[AsyncSession]) -> None:
    """The upsert under concurrent writers (PostgreSQL: separate connections; SQLite serialises)."""
    import asyncio

    async def one() -> None:
        async with db.begin() as session:
            await stats.count(session, "quick_exit", {"language": "bg"})

    with in_month("2026-03"):
        await asyncio.gather(*(one() for _ in range(20)))
    counted = {(r.attribute, r.value): r.count for r in await rows(db) if r.event == "quick_exit"}
    assert counted == {(stats.TOTAL, ""): 20, ("language", "bg"): 20}


async def test_an_accept_pressed_twice_counts_once(stack: Stack) -> None:
    from tests.support.handoff_fixtures import enrolled_directory
    from tests.test_handoff import consent_and_send, wait_notice

    directory = await enrolled_directory(stack)
    person = stack.user(64_001)
    await consent_and_send(person, "75011")
    await wait_notice(stack, directory, "test-paris")
    staff = directory.staff["test-paris"]
    notice = staff.bot_messages()[-1]
    async with stack.app.runtime.db() as session:
        ticket_id = await session.scalar(select(Ticket.id))
    for _ in range(2):
        await staff.press_data(f"t:a:{ticket_id}", notice["message_id"])
    assert await counter(stack, "handoff") == 1
    assert await counter(stack, "accept") == 1
    assert await counter(stack, "accept", "association", "test-paris") == 1
