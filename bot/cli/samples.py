"""Made-up data for previews (`passerelle try`, the review sheet): marked SAMPLE, never real.

A preview without a directory, a ticket or a person still shows whole screens; what fills
them here cannot be mistaken for a real association, code or answer.
"""

from __future__ import annotations

import datetime as dt

from bot.handoff import match_for
from dialogs.engine import Answers, Engine
from storage.directory.nearest import Candidate, Match
from storage.models import Ticket

SAMPLE_CODE = "XXXX-XXXX-XXXX"
"""Not a code the bot could make: a reader cannot mistake it for a real one."""
SAMPLE_DEPARTEMENT = "34"
SAMPLE_ASSOCIATION = Candidate(
    slug="sample",
    name="Association Exemple (SAMPLE)",
    city="Montpellier",
    departements=frozenset({SAMPLE_DEPARTEMENT}),
    latitude=43.61,
    longitude=3.88,
    accredited_until=dt.date.max,
    intake_open=True,
    enrolled=True,
    phone="00 00 00 00 00",
    website="example.org",
)
"""Made up, and marked so: the name says SAMPLE, the number and the site cannot be reached."""
SAMPLE_MATCH = Match(SAMPLE_ASSOCIATION, distance_km=None, covers=True)
"""The sample as offered in its own département (the review sheet's sample answers say 34)."""


def sample_match(departement: str | None) -> Match | None:
    """What the bot would offer were the sample the directory's only association: a person
    elsewhere is told it is outside their département, and how far."""
    return match_for((SAMPLE_ASSOCIATION,), departement)


def sample_ticket() -> Ticket:
    """A ticket that is never stored: its reference reads "42-K7PX"."""
    return Ticket(id=42, reference="K7PX", status="delivered", mailbox=True)


def sample_answers(engine: Engine) -> Answers:
    """One answer to each question the summary shows: the first choice that does not lead to the
    emergency screen, the first two of several, and a sample département for a typed place."""
    script = engine.script
    answers: Answers = {}
    for node in script.nodes:
        if not (node.store and node.summary):
            continue
        if node.kind == "input":
            answers[node.store] = SAMPLE_DEPARTEMENT
        elif node.kind == "multi":
            answers[node.store] = [o.code for o in node.options[:2]]
        else:
            usual = [o for o in node.options if o.next != script.emergency] or node.options
            answers[node.store] = usual[0].code
    return answers
