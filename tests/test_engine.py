"""The engine on its own: no aiogram, no database, no Telegram."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import dialogs
from dialogs.engine import Engine, State
from dialogs.events import BadEventData, Event, LocationInput, TextInput, decode
from dialogs.loader import SCRIPTS_DIR, LoadedScript, load_script
from storage.places import PlaceParser


@pytest.fixture(scope="module")
def loaded() -> LoadedScript:
    return load_script(SCRIPTS_DIR / "orientation.yaml")


@pytest.fixture
def engine(loaded: LoadedScript) -> Engine:
    return loaded.engine({"place": PlaceParser()})


def walk(engine: Engine, *inputs: Event | TextInput) -> State:
    step = engine.start()
    for item in inputs:
        step = engine.handle(step.state, item)
        assert step.outcome == "ok", (item, step.outcome, step.state.node)
    return step.state


def test_dialogs_imports_neither_aiogram_nor_the_database() -> None:
    forbidden = {"aiogram", "sqlalchemy", "bot", "storage"}
    for path in Path(dialogs.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            else:
                continue
            assert not {n.split(".")[0] for n in names} & forbidden, (path.name, names)


def test_full_walk_collects_coded_answers_only(engine: Engine) -> None:
    state = walk(
        engine,
        Event("n", "privacy"),
        Event("c", "safety", "safe"),
        Event("c", "age", "adult"),
        Event("t", "needs", "health"),
        Event("t", "needs", "exit"),
        Event("d", "needs"),
        Event("n", "info_exit"),
        TextInput("75011"),
        Event("c", "contact", "mailbox"),
        Event("c", "interpreter", "yes"),
    )
    assert state.node == "consent"
    assert state.answers == {
        "safe": "safe",
        "age": "adult",
        "needs": ["exit", "health"],  # script order, not tap order
        "departement": "75",
        "contact": "mailbox",
        "interpreter": "yes",
    }
    assert "75011" not in state.model_dump_json()
    screen = engine.render(state)
    labels = ["Sécurité", "Âge", "Besoins", "Département", "Contact", "Interprète"]
    assert screen.shows_summary and [line.label for line in engine.summary(state.answers)] == labels
    final = engine.handle(state, Event("c", "consent", "send"))
    assert final.screen.action == "handoff"


def test_minor_is_routed_to_119(engine: Engine) -> None:
    state = walk(engine, Event("n", "privacy"), Event("c", "safety", "safe"), Event("c", "age", "minor"))
    assert state.node == "minor_help"
    assert "119" in (engine.render(state).text or "")


def test_danger_leads_to_the_emergency_screen(engine: Engine) -> None:
    state = walk(engine, Event("n", "privacy"), Event("c", "safety", "danger"))
    screen = engine.render(state)
    assert screen.is_emergency and "17" in (screen.text or "") and "112" in (screen.text or "")
    assert engine.handle(state, Event("n", "emergency")).state.node == "age"


def test_emergency_overlay_from_any_node_and_back(engine: Engine, loaded: LoadedScript) -> None:
    step = engine.start()
    overlay = engine.handle(step.state, Event("e"))
    assert overlay.screen.is_emergency and overlay.screen.overlay
    assert overlay.state.node == step.state.node
    # a button of the screen underneath is stale while the overlay is up
    assert engine.handle(overlay.state, Event("n", "privacy")).outcome == "stale"
    back = engine.handle(overlay.state, Event("b"))
    assert back.screen.node == "privacy" and not back.state.overlay


def test_multi_select_toggles(engine: Engine) -> None:
    state = walk(engine, Event("n", "privacy"), Event("c", "safety", "safe"), Event("c", "age", "adult"))
    state = engine.handle(state, Event("t", "needs", "shelter")).state
    state = engine.handle(state, Event("t", "needs", "shelter")).state
    assert state.answers["needs"] == []
    step = engine.handle(state, Event("t", "needs", "info"))
    assert [b.selected for row in step.screen.rows for b in row][-2] is True  # "info", before "done"


def test_input_not_understood_keeps_state_and_drops_text(engine: Engine) -> None:
    state = walk(
        engine, Event("n", "privacy"), Event("c", "safety", "safe"), Event("c", "age", "adult"), Event("d", "needs")
    )
    assert state.node == "location"
    step = engine.handle(state, TextInput("somewhere near the station " * 10))
    assert step.outcome == "not_understood" and step.state == state and step.notice
    assert engine.handle(state, TextInput("2a")).state.answers["departement"] == "2A"
    assert engine.handle(state, TextInput("20200")).state.answers["departement"] == "2B"
    assert engine.handle(state, TextInput("97400")).state.answers["departement"] == "974"
    skipped = engine.handle(state, Event("s", "location", "skip"))
    assert skipped.state.node == "contact" and "departement" not in skipped.state.answers


@pytest.mark.parametrize(
    "event",
    [Event("c", "safety", "nope"), Event("c", "age", "adult"), Event("t", "privacy", "x"), Event("d", "safety")],
)
def test_buttons_of_other_nodes_are_stale(engine: Engine, event: Event) -> None:
    state = walk(engine, Event("n", "privacy"))
    step = engine.handle(state, event)
    assert step.outcome == "stale" and step.state == state


def test_text_and_location_where_none_is_expected(engine: Engine) -> None:
    state = engine.start().state
    assert engine.handle(state, TextInput("hello")).outcome == "unexpected_text"
    assert engine.handle(state, LocationInput(48.85, 2.35)).outcome == "unexpected_location"


@pytest.mark.parametrize("data", ["", "x", "a:b:c", "v:z:n:o", "v:c:" + "n" * 80 + ":o", "::::"])
def test_forged_button_data_is_refused(data: str) -> None:
    with pytest.raises(BadEventData):
        decode(data)


def test_button_data_round_trips(engine: Engine) -> None:
    for row in engine.start().screen.rows:
        for button in row:
            assert decode(button.event.encode(engine.version)) == (engine.version, button.event)


def test_idle_state_is_small(engine: Engine) -> None:
    state = walk(
        engine,
        Event("n", "privacy"),
        Event("c", "safety", "safe"),
        Event("c", "age", "adult"),
        *[Event("t", "needs", o) for o in ("exit", "shelter", "health", "legal", "control", "violence", "info")],
    )
    assert len(state.model_dump_json()) < 400
