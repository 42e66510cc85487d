"""Walks through the real dispatcher, polling the fake Bot API over HTTP."""

from __future__ import annotations

from tests.conftest import Stack


async def test_full_walk_in_french(stack: Stack) -> None:
    user = stack.user(language_code="fr")
    await user.send("/start")
    assert "rien qui dit qui vous êtes" in user.last()["text"]
    await user.press("J'ai compris")
    assert "en sécurité" in user.last()["text"]
    screen_id = user.last()["message_id"]
    await user.press("Oui, je suis en sécurité")
    assert user.last()["message_id"] == screen_id, "a button press edits the screen in place"
    await user.press("18 ans ou plus")
    await user.press("Me soigner")
    assert ("✓ Me soigner" in [text for text, _ in user.buttons()])
    await user.press("Sortir de la prostitution")
    await user.press("Valider")
    assert "parcours de sortie" in user.last()["text"]
    await user.press("Continuer")
    await user.send("75011")
    assert "Comment voulez-vous" in user.last()["text"]
    await user.press("Ils me laissent un message ici")
    await user.press("Oui")
    consent = user.last()["text"]
    assert "Département : 75" in consent and "Sortir de la prostitution, Me soigner" in consent
    await user.press("Oui, envoyer")
    assert "rien n'a été envoyé" in user.last()["text"]
    assert stack.fake.refused == []
