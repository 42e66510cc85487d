"""Issue 11's promises to the person, attacked: as a frightened person on a shared phone
would (a capitalised /Exit, /start again at once after leaving), as an attacker would
(forged page numbers, crafted staff replies), and with Telegram failing. Both backends,
through the real stack and the fake Bot API."""

from __future__ import annotations

import pytest

from bot import handoff
from dialogs.i18n import Catalogs
from tests.support.fake_telegram import FakeUser
from tests.support.handoff_fixtures import enrolled_directory
from tests.support.stack import Stack
from tests.support.walks import walk_to_consent
from tests.test_association_side import relay, wait_relays
from tests.test_erasure import theirs
from tests.test_handoff import consent_and_send, wait_notice
from tests.test_mailbox import accepted_ticket
from tests.test_quick_exit import NEUTRAL, apologies, exit_finished, left_in_chat
from tests.test_screens import plain, walk_in_danger_in

CATALOGS = Catalogs()


@pytest.mark.parametrize("typed", ["/Exit", "/EXIT", "/exit@passerelle_test_bot"])
async def test_a_capitalised_exit_still_leaves(stack: Stack, typed: str) -> None:
    """Phone keyboards capitalise the first letter: "/Exit" must leave, not say "unknown"."""
    user = stack.user()
    await walk_to_consent(user)
    await user.send(typed)
    left = await exit_finished(stack, user)
    assert [m.get("text") for m in left] == [NEUTRAL], [m.get("text") for m in left]
    assert await stack.state.count() == 0
    assert stack.fake.refused == []


async def test_start_again_at_once_after_an_exit_keeps_the_new_screen(stack: Stack) -> None:
    """The neutral line waits for a 429; meanwhile the person starts again. The new
    conversation's screen is not of the conversation that was left: it stays."""
    user = stack.user()
    await walk_to_consent(user)
    stack.fake.fail_next("sendMessage", error_code=429, retry_after=1)  # the neutral line waits
    await user.press("✖ Quitter")
    await user.send("/start")
    welcome = user.last()
    assert "J'ai compris" in [label for label, _ in user.buttons(welcome)]
    left = await exit_finished(stack, user)
    texts = [m.get("text") for m in left]
    assert NEUTRAL in texts
    assert welcome["message_id"] in [m["message_id"] for m in left], f"the new screen was deleted: {texts}"
    assert theirs(stack, user) == []
    await user.press("J'ai compris", message_id=welcome["message_id"])
    assert "en sécurité" in user.chat_state.messages[welcome["message_id"]]["text"], "the new conversation goes on"
    assert apologies(user) == []


@pytest.mark.parametrize(
    "data", ["m:page:-1", "m:page:abc", "m:page:99999999999", "m:page:", "m:page:1\n", "m:page:١", "m:page:²"]
)
async def test_forged_page_numbers_are_refused_or_clamped(stack: Stack, data: str) -> None:
    user, staff, prompt, _code = await accepted_ticket(stack)
    await staff.send("Bonjour, nous sommes là.", reply_to_message=prompt)
    await user.press("Voir les réponses")
    screen = user.last()
    await user.press_data(data, screen["message_id"])
    assert "Bonjour, nous sommes là." in user.last()["text"] or user.last()["message_id"] == screen["message_id"]
    assert apologies(user) == []
    assert stack.fake.unanswered_callback_queries() == []
    assert stack.fake.refused == []


@pytest.mark.parametrize(
    "body",
    [
        "<b>gras</b> &amp; <a href='tg://user?id=1'>lien</a> </i>",
        "\u202eRTL \u200f\u0645\u0631\u062d\u0628\u0627\u200e \u200b\u200c\u200d\ufeff" * 100,
        "😀" * 1750,
    ],
    ids=["html-like", "rtl-zero-width", "emoji-at-the-limit"],
)
async def test_crafted_staff_replies_are_shown_as_typed(stack: Stack, body: str) -> None:
    user, staff, prompt, _code = await accepted_ticket(stack)
    await staff.send(body, reply_to_message=prompt)
    await user.press("Voir les réponses")
    shown = "".join(user.last()["text"] for _ in [0])
    assert body.strip()[:40] in shown, shown[:200]
    assert apologies(user) == []
    assert stack.fake.refused == []


@pytest.mark.parametrize("locale", ["ar", "zh_Hans", "pcm"])
async def test_consent_shows_every_notice_field_in_more_languages(stack: Stack, locale: str) -> None:
    directory = await enrolled_directory(stack)
    code = {"zh_Hans": "zh-hans"}.get(locale, locale)
    user = stack.user(32_001, language_code=code)
    await walk_in_danger_in(user, locale)
    consent = user.last()["text"]
    engine = stack.app.runtime.engine
    state_answers = await _answers_on_consent(stack, user, locale)
    shown = handoff.consent_lines(engine, state_answers, CATALOGS.get(locale))
    for what, line in shown.items():
        assert plain(line) in consent, f"{locale}: {what!r} ({line!r}) is not on the consent screen"
    assert {"safe", "language", "interpreter"} <= set(shown), sorted(shown)
    assert directory is not None and stack.fake.refused == []


async def _answers_on_consent(stack: Stack, user: FakeUser, locale: str) -> dict[str, object]:
    """The coded answers the consent screen was built from (sent, then read back)."""
    from sqlalchemy import select

    from storage.models import Ticket

    await user.press(CATALOGS.get(locale).gettext("Oui, envoyer"))
    async with stack.app.runtime.db() as session:
        ticket = (await session.scalars(select(Ticket))).one()
    return dict(ticket.answers)


async def test_a_message_sent_while_telegram_fails_is_still_deleted(stack: Stack) -> None:
    user = stack.user()
    await user.send("/start")
    stack.fake.fail_next("sendMessage", error_code=500, times=3)
    stack.fake.fail_next("editMessageText", error_code=500, times=3)
    stack.fake.fail_next("deleteMessage", error_code=502)
    await user.send("Aminata 0612345678 hotel Ibis")
    await stack.deletions_done()
    assert theirs(stack, user) == [], "typed words stay on the phone"


async def test_an_album_and_a_forwarded_message_are_deleted(stack: Stack) -> None:
    user = stack.user()
    await user.send("/start")
    photo = {"photo": [{"file_id": "p", "file_unique_id": "u", "width": 1, "height": 1}]}
    for index in range(3):
        await user.send_message(**photo, media_group_id="42", caption="Aminata" if index == 0 else None)
    await user.send_message(
        text="Aminata 0612345678", forward_origin={"type": "hidden_user", "sender_user_name": "Aminata", "date": 1}
    )
    assert theirs(stack, user) == []
    assert len(left_in_chat(stack.fake, user)) <= 2, [m.get("text") for m in left_in_chat(stack.fake, user)]
    assert stack.fake.refused == []


async def test_forget_then_exit_still_deletes_the_conversation(stack: Stack) -> None:
    """/forget clears what the bot keeps; a quick exit right after must still reach the
    screens that showed the code and the answers."""
    await enrolled_directory(stack)
    user = stack.user()
    await walk_to_consent(user)
    await user.press("Oui, envoyer")
    assert "Votre code" in user.last()["text"]
    await user.send("/forget")
    await user.send("/exit")
    left = await exit_finished(stack, user)
    assert [m.get("text") for m in left] == [NEUTRAL], [m.get("text", "")[:60] for m in left]
    assert stack.fake.refused == []


async def test_exit_pressed_during_a_handoff(stack: Stack) -> None:
    """ "Send" then "Leave" at once, the code screen slow to come: the exit waits its turn
    (one person's updates are applied one after the other) and deletes the code screen too."""
    await enrolled_directory(stack)
    user = stack.user()
    await walk_to_consent(user)
    consent = user.last()
    send = [data for label, data in user.buttons(consent) if label == "Oui, envoyer"][0]
    stack.fake.delay_next("editMessageText", 0.5)
    first = stack.fake.push({"callback_query": stack.fake.new_callback_query(user.user, consent, send)})
    second = stack.fake.push({"callback_query": stack.fake.new_callback_query(user.user, consent, "x")})
    await stack.fake.processed(first["update_id"])
    await stack.fake.processed(second["update_id"])
    left = await exit_finished(stack, user)
    assert [m.get("text") for m in left] == [NEUTRAL]
    assert apologies(user) == [] and await stack.state.count() == 0
    assert stack.fake.unanswered_callback_queries() == []
    assert stack.fake.refused == []


async def test_logs_carry_no_id_nor_typed_words_when_telegram_fails(stack: Stack) -> None:
    user = stack.user(123_456_789)
    await user.send("/start")
    stack.fake.fail_next("sendMessage", error_code=500, times=2)
    stack.fake.fail_next("deleteMessage", error_code=429, retry_after=1)
    await user.send("Aminata 0612345678")
    stack.fake.fail_next("deleteMessages", error_code=403, description="Forbidden: bot was blocked by the user")
    stack.fake.drop_next("editMessageText")
    await user.send("/exit")
    await stack.deletions_done()
    logs = stack.logs.getvalue()
    assert logs, "something was logged"
    for secret in ("123456789", "Aminata", "0612345678"):
        assert secret not in logs, f"{secret!r} in the logs"


async def test_exit_after_the_state_expired_reaches_from_the_pressed_screen(stack: Stack) -> None:
    """The state was forgotten (STATE_TTL) but the messages are under 48 hours old: "✖ Quitter"
    on the oldest screen still in the chat deletes it and everything after it."""
    stack.app.runtime.clock = stack.fake.now
    user = stack.user()
    await user.send("/start")
    first = user.last()["message_id"]
    await user.press("J'ai compris")
    await user.send("/help")
    stack.fake.advance(25 * 3600)
    await stack.state.forget_everything()  # as if STATE_TTL had passed
    await user.send("bonjour")
    await user.press("✖ Quitter", message_id=first)
    left = await exit_finished(stack, user)
    assert [m.get("text") for m in left] == [NEUTRAL], [m.get("text", "")[:50] for m in left]
    assert stack.fake.refused == []


async def test_typed_exit_after_the_state_expired_reaches_the_day_before(stack: Stack) -> None:
    stack.app.runtime.clock = stack.fake.now
    user = stack.user()
    await user.send("/start")
    await user.press("J'ai compris")
    stack.fake.advance(25 * 3600)
    await stack.state.forget_everything()  # as if STATE_TTL had passed
    await user.send("/exit")
    left = await exit_finished(stack, user)
    assert [m.get("text") for m in left] == [NEUTRAL], [m.get("text", "")[:50] for m in left]


async def test_every_screen_has_emergency_and_exit(stack: Stack) -> None:
    """Picker, every script screen, consent, handoff, mailbox, compose, emergency, a page."""
    seen: list[str] = []

    def check() -> None:
        screen = user.last()
        labels = [label for label, _ in user.buttons(screen)]
        seen.append(screen["text"][:30])
        assert "🆘 Urgence" in labels and "✖ Quitter" in labels, (screen["text"][:80], labels)

    await enrolled_directory(stack)
    user = stack.user(language_code="tlh")
    await user.send("/start")
    check()  # the picker
    await user.press("Français")
    for action in ("J'ai compris", "Oui, je suis en sécurité", "18 ans ou plus", "Me soigner", "Valider"):
        check()
        await user.press(action)
    check()
    await user.press("Continuer") if "Continuer" in [label for label, _ in user.buttons()] else None
    check()
    await user.send("75011")
    check()
    await user.press("Ils me laissent un message ici")
    check()
    await user.press("Oui")
    check()  # consent
    await user.press("Oui, envoyer")
    check()  # handoff
    await user.press("Voir les réponses")
    check()  # mailbox
    await user.press("🆘 Urgence")
    check()  # emergency
    await user.press("Retour")
    check()
    await user.send("/language")
    check()
    assert len(seen) >= 14
    assert stack.fake.refused == []


async def test_the_compose_screen_has_emergency_and_exit(stack: Stack) -> None:
    user, _staff, _prompt, _code = await accepted_ticket(stack)
    await user.press("Voir les réponses")
    await user.press("Répondre")
    labels = [label for label, _ in user.buttons()]
    assert "🆘 Urgence" in labels and "✖ Quitter" in labels, labels
    await user.press("✖ Quitter")
    left = await exit_finished(stack, user)
    assert [m.get("text") for m in left] == [NEUTRAL]
    assert stack.fake.refused == []


@pytest.mark.parametrize("mark", ["\u200e", "\u200f", "\u200b", "\u2069\u2068", "\ufeff"])
async def test_a_code_with_invisible_marks_is_masked_in_a_relay_and_still_opens(stack: Stack, mark: str) -> None:
    """Keyboards for right-to-left languages slip direction marks into Latin runs; a code
    copied from an Arabic screen carries isolates. The code must still never reach a group,
    and must still open the mailbox when typed."""
    directory = await enrolled_directory(stack)
    user = stack.user()
    code = await consent_and_send(user)
    await wait_notice(stack, directory, "test-paris")
    await directory.staff["test-paris"].press("Accepter")
    spelled = mark.join(code.split("-"))
    await relay(user, f"Mon code est {spelled}, appelez-moi")
    staff = directory.staff["test-paris"]
    [relayed] = await wait_relays(stack, staff, 1)
    compact = code.replace("-", "")
    assert compact not in "".join(ch for ch in relayed["text"] if ch.isalnum()), relayed["text"]
    other = stack.user(33_001)
    await other.send("/start")
    await other.send(f"\u2068{spelled}\u2069")
    assert "Votre code" in other.last()["text"], other.last()["text"][:120]
    assert stack.fake.refused == []
