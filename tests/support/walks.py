"""Shared walks through the orientation script, by button label, for any language."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dialogs.i18n import Catalogs
from tests.support.fake_telegram import FakeUser

if TYPE_CHECKING:
    from tests.support.stack import Stack

CATALOGS = Catalogs()


async def walk_to_consent(user: FakeUser, locale: str = "fr", postcode: str = "75011") -> None:
    """From /start to the consent screen, pressing buttons by their translated labels."""
    _ = CATALOGS.get(locale).gettext
    await user.send("/start")
    await user.press(_("J'ai compris"))
    await user.press(_("Oui, je suis en sécurité"))
    await user.press(_("18 ans ou plus"))
    await user.press(_("Me soigner"))
    await user.press(_("Sortir de la prostitution"))
    await user.press(_("Valider"))
    await user.press(_("Continuer"))
    await user.send(postcode)
    await user.press(_("Ils me laissent un message ici"))
    await user.press(_("Oui"))


def french_leftovers(texts: list[str], locale: str) -> list[str]:
    """French source strings shown to a person whose language has a translation for them."""
    translator = CATALOGS.get(locale)
    catalog = translator.translations._catalog  # type: ignore[attr-defined]  # gettext's private catalogue: the only list of a translation's msgids
    sources = [m for m, t in catalog.items() if isinstance(m, str) and m and t != m and len(m) > 3]
    return [s for s in sources for text in texts if s in text]


async def begun_hours_ago(stack: Stack, hours: float) -> FakeUser:
    """A person who started, then came back `hours` later (the bot reads the fake's clock)."""
    stack.app.runtime.clock = stack.fake.now
    user = stack.user()
    await user.send("/start")
    await user.press("J'ai compris")
    stack.fake.advance(hours * 3600)
    return user
