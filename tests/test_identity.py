"""Rule 1: nothing that identifies a person is written anywhere.

Real conversations with distinctive ids and names, then a search of the database (the
SQLite file, or a `pg_dump`), every key and value of the FSM storage (memory or Redis)
and everything logged (at DEBUG).
"""

from __future__ import annotations

from tests.support.bad_input_content import CONTENT
from tests.support.stack import Stack
from tests.support.walks import walk_to_consent

PEOPLE = [
    {"user_id": 7_349_218_650, "first_name": "Xanthippe", "last_name": "Quorvaldine", "username": "zz_hidden_handle_1"},
    {"user_id": 5_120_987_341, "first_name": "Ilinca", "last_name": "Brâncoveanu", "username": "zz_hidden_handle_2"},
]
TYPED = ["75012", "rue des Lilas 12", "+33698765432"]
"""75012, not 75011: the script itself gives 75011 as an example, and approved scripts are stored."""


def secrets_of(person: dict[str, object]) -> list[str]:
    return [str(value) for value in person.values()]


async def test_no_identity_in_database_state_or_logs(stack: Stack) -> None:
    for person in PEOPLE:
        user = stack.user(**person, language_code="fr")  # type: ignore[arg-type]  # a person's identity fields, passed by name
        await walk_to_consent(user, "fr", postcode="75012")
        await user.send_message(contact={"phone_number": "+33698765432", "first_name": "Zorbalina"})
        await user.send_message(**CONTENT["sticker"])
        await user.share_location(48.85661, 2.35222)
        await user.send("rue des Lilas 12")
        await user.press("Oui, envoyer")
        await user.send("/help")
        # Telegram failing mid-turn: aiogram's and our error paths run, with tracebacks
        stack.fake.fail_next("sendMessage", error_code=500, times=2)
        await user.send("/start")
    # a third person leaves with a quick exit while Telegram fails, a fourth is mid-way
    leaver = stack.user(6_000_111_222, first_name="Ottoline", username="zz_hidden_handle_3")
    await walk_to_consent(leaver, "fr")
    await leaver.send("/Ottoline +33698765432 rue des Lilas 12")
    stack.fake.fail_next("deleteMessage", error_code=429, retry_after=1)  # the erasure of what follows
    await leaver.send_message(**CONTENT["document"], caption="Ottoline, rue des Lilas 12")
    stack.fake.fail_next("deleteMessages", error_code=502)
    stack.fake.drop_next("deleteMessages")
    await leaver.press("✖ Quitter")
    midway = stack.user(6_000_333_444, first_name="Perpetua", username="zz_hidden_handle_4", language_code="en")
    await midway.send("/start")
    await midway.press("I understand")

    await stack.deletions_done()
    for person in [*PEOPLE, {"user_id": leaver.id}]:
        chat = stack.fake.chats[int(str(person["user_id"]))]
        sent = [m for m in chat.messages.values() if m["from"]["id"] == person["user_id"]]
        assert sent == [], f"left in the chat of {person['user_id']}: what the person sent"
    left = [m.get("text") for m in stack.fake.chats[leaver.chat_id].messages.values()]
    assert left == ["Bonne journée ☀️"], "after a quick exit, only the neutral line"
    database = stack.backend.database_bytes()
    state = await stack.state.dump()
    logs = stack.logs.getvalue()
    assert await stack.state.count() == 3, "the people who did not leave still have a conversation"
    assert "Start polling" in logs and "update failed: TelegramServerError" in logs, "the capture is live"
    needles = [s for p in PEOPLE for s in secrets_of(p)]
    needles += ["6000111222", "Ottoline", "zz_hidden_handle_3", "6000333444", "Perpetua", "zz_hidden_handle_4"]
    needles += TYPED + ["48.85661", "2.35222", "Zorbalina"]
    for needle in needles:
        assert needle.encode() not in database, f"{needle!r} found in the database file"
        assert needle not in state, f"{needle!r} found in the FSM storage"
        assert needle not in logs, f"{needle!r} found in the logs"
    assert stack.fake.refused == []


async def test_no_identity_in_tickets_replies_or_outbox(stack: Stack) -> None:
    """The handoff path too: tickets, replies, the outbox and relays (blanked once sent);
    then the statistics counters and the report made from them."""
    from sqlalchemy import select

    from bot import report
    from bot import stats as bot_stats
    from storage.models import OutboxMessage, StatCounter, Ticket
    from tests.support.handoff_fixtures import enrolled_directory

    directory = await enrolled_directory(stack)
    person = PEOPLE[0]
    user = stack.user(**person, language_code="fr")  # type: ignore[arg-type]  # a person's identity fields, passed by name
    await walk_to_consent(user, "fr", postcode="75012")  # chooses the mailbox
    await user.press("Oui, envoyer")
    code = user.last()["text"].split("Votre code :")[1].split()[0]
    await stack.fake.wait_for(lambda: directory.notices("test-paris"))
    staff = directory.staff["test-paris"]
    await staff.press("Répondre")
    await staff.send("Nous pouvons vous recevoir.", reply_to_message=staff.last())
    await user.press("Voir les réponses")
    await user.press("Répondre")
    await user.send("Je m'appelle Xanthippe, rue des Lilas 12, +33698765432")
    await stack.fake.wait_for(lambda: any("rue des Lilas" in t for t in staff.texts()))

    async def all_delivered() -> bool:  # marked sent just after Telegram answered
        async with stack.app.runtime.db() as session:
            rows = list(await session.scalars(select(OutboxMessage)))
        return len(rows) >= 2 and all(row.status == "sent" for row in rows)

    await stack.fake.wait_for(all_delivered)
    async with stack.app.runtime.db() as session:
        tickets = list(await session.scalars(select(Ticket)))
        outbox = list(await session.scalars(select(OutboxMessage)))
    assert len(tickets) == 1 and tickets[0].created_at.minute == 0 and tickets[0].created_at.second == 0
    assert all(row.text == "" for row in outbox), "delivered texts are blanked"
    database = stack.backend.database_bytes()
    assert b"Nous pouvons vous recevoir" in database, "the dump is live: an association's reply is kept"
    for needle in [*secrets_of(person), "rue des Lilas", "+33698765432", "75012"]:
        assert needle.encode() not in database, f"{needle!r} found in the database file"
        assert needle not in stack.logs.getvalue(), f"{needle!r} found in the logs"
    state = await stack.state.dump()
    assert "fsm:" in state, "the state is live"
    for form in (code, code.replace("-", ""), code.lower(), code.replace("-", "").lower()):
        # the code opens the mailbox: only its hash is stored, and the state holds it sealed
        assert form not in state, f"the code is readable in the state as {form!r}"
        assert form.encode() not in database, f"the code is readable in the database as {form!r}"
        assert form not in stack.logs.getvalue(), f"the code is in the logs as {form!r}"

    await user.press("✖ Quitter")  # counted too, beside the person's path
    await bot_stats.settle()
    async with stack.app.runtime.db() as session:
        counters = list(await session.scalars(select(StatCounter)))
    events = {row.event for row in counters}
    assert {"handoff", "reply", "quick_exit"} <= events, "the counters are live"
    made = await report.gather(stack.app.runtime.db, counters[0].month, counters[0].month, minimum=3)
    charts = report.charts(made)
    files = {"report.csv": report.csv_text(made).encode(), **charts}
    files["report.html"] = report.html_page(made, charts, tickets[0].created_at.date()).encode()
    written = b"".join(counters_text(row).encode() for row in counters)
    for needle in [*secrets_of(person), "rue des Lilas", "+33698765432", "75012", code, str(user.chat_id)]:
        assert needle.encode() not in written, f"{needle!r} found in the statistics counters"
        for name, data in files.items():
            assert needle.encode() not in data, f"{needle!r} found in {name}"
    assert str(tickets[0].id) not in {row.value for row in counters}, "no ticket number is counted"


def counters_text(row: object) -> str:
    return " ".join(str(getattr(row, column)) for column in ("month", "event", "attribute", "value", "count"))
