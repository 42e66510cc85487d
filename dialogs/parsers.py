"""Named parsers for input nodes: typed text in, a coded value out, the text dropped.

The only coded place value is a French département code: the finest place the brief
allows us to keep.
"""

from __future__ import annotations

import re

from dialogs.engine import Parser

_METROPOLE = {f"{n:02d}" for n in range(1, 96) if n != 20} | {"2A", "2B"}
_OVERSEAS = {"971", "972", "973", "974", "976"}
DEPARTEMENTS: frozenset[str] = frozenset(_METROPOLE | _OVERSEAS)
"""The 101 départements (Corsica as 2A and 2B, the five overseas départements)."""

_POSTCODE = re.compile(r"^\d{5}$")
_CODE = re.compile(r"^(\d{1,3}|2[ab])$", re.IGNORECASE)
_CORSICA_SPLIT = 20200
"""Postcodes 20000-20199 are in Corse-du-Sud (2A), 20200 and above in Haute-Corse (2B)."""


def departement_of_postcode(postcode: str) -> str | None:
    """The département of a French postcode, or None when it is not one."""
    if not _POSTCODE.match(postcode):
        return None
    if postcode.startswith("97"):
        code = postcode[:3]
    elif postcode.startswith("20"):
        code = "2A" if int(postcode) < _CORSICA_SPLIT else "2B"
    else:
        code = postcode[:2]
    return code if code in DEPARTEMENTS else None


def normalise_departement(text: str) -> str | None:
    """'2a' -> '2A', '5' -> '05', '971' -> '971'; None when it is not a département."""
    if not _CODE.match(text):
        return None
    code = text.upper()
    if code.isdigit() and len(code) < 2:
        code = code.zfill(2)
    return code if code in DEPARTEMENTS else None


class DepartementParser:
    """A postcode or a département number. Towns and locations come with the place table."""

    def parse_text(self, text: str) -> str | None:
        cleaned = re.sub(r"\s+", "", text)[:16]
        return departement_of_postcode(cleaned) or normalise_departement(cleaned)

    def parse_location(self, latitude: float, longitude: float) -> str | None:
        return None


def default_parsers() -> dict[str, Parser]:
    return {"place": DepartementParser()}
