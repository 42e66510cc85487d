"""French places, offline: postcodes, towns, départements and coordinates -> a département code.

A person seeking help may say where they are, coarsely; the only place we ever keep is the
département. Everything here works from the derived table `storage/data/places.json.gz`
(built by `python -m storage.data.build_places`, sources in `storage/data/ATTRIBUTION.md`),
loaded once and indexed in dicts so that a lookup is a few dict hits (microseconds). The file's
layout and how it is derived are documented in `storage/data/build_places.py`.

Pure Python on purpose: no database, no aiogram, nothing that needs the network.
"""

from __future__ import annotations

import gzip
import json
import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

TABLE = Path(__file__).resolve().parent / "data" / "places.json.gz"
FORMAT = 1
"""Version of the table's layout; bumped when `build_places` changes it."""

MAX_TEXT = 80
"""Longer typed text is not a place: we do not even look at it."""

NEAREST_KM = 50.0
"""Farther than this from every commune with coordinates, a shared location is not in France."""

_EARTH_KM_PER_DEGREE = 111.195
_CELL_DEGREES = 0.25
"""Grid cell size for the nearest-commune index: a few dozen communes per cell at most."""

_SEPARATORS = re.compile(r"[\s\-‐‑‒–—―'’‘ʼ`´_.,;:/()\[\]]+")
_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
"""Combining marks left by NFKD: the accents."""
_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae"})
_POSTCODE = re.compile(r"^\d{5}$")
_POSTCODE_IN_TEXT = re.compile(r"(?<!\d)\d{5}(?!\d)")
_CODE = re.compile(r"^(\d{1,3}|2[ab])$", re.IGNORECASE)
_CORSICA = ("2A", "2B")
_CORSICA_WORDS = frozenset({"20", "corse", "corsica"})
"""Corsica as a whole is two départements: the person is asked which."""
_QUALIFIER = re.compile(r"^(\d{1,3}(e|er|eme|ieme|em)?|2[ab])$")
"""A trailing "93" or "11e" after a town: its département or its arrondissement ("Paris 11e")."""
_FILLERS = frozenset({"a", "au", "dans", "de", "departement", "dept", "dep", "des", "du", "en", "l", "la", "le", "les"})
"""Leading words people put before a place ("dans le 93", "la Corrèze"), tried without them."""

_Index = dict[str, tuple[int, ...]]
"""Key -> positions in the commune columns. Tuples of ints and str-keyed dicts are not tracked by the
garbage collector, so a loaded table costs it nothing, in a process with many objects too."""

Choices = tuple[tuple[str, str], ...]
"""(département code, label) pairs offered when the text names places in several départements."""

Hint = tuple[str, str]
"""(kind, place) shown after a département among choices, so a person recognises it: ("near",
"Paris"), or an overseas area with no place ("indian_ocean", ""). The bot words each kind."""

LANDMARK_KM = 40.0
"""A département's landmark is the most populous town this close to its reference point..."""
BIG_CITY = 200_000
"""...in the département itself, or in a neighbour when it has more people than this: a city
known across France ("93 Seine-Saint-Denis", near Paris), not a suburb next door."""

OVERSEAS_AREAS = {
    "971": "caribbean",
    "972": "caribbean",
    "973": "south_america",
    "974": "indian_ocean",
    "976": "indian_ocean",
}
"""Where each overseas département lies: Guadeloupe and Martinique in the Caribbean, French
Guiana in South America, La Réunion and Mayotte in the Indian Ocean. The one fact here not
derived from the table; tests check it against the table's coordinates."""


def normalise(text: str) -> str:
    """The one normalisation of place names, so that typed text and the table meet.

    Accents, case, hyphens, apostrophes, underscores and punctuation are ignored, and the
    abbreviations "st"/"ste" read as "saint"/"sainte": "St-Étienne" -> "saint etienne".
    """
    stripped = text.casefold()
    if not stripped.isascii():
        stripped = _MARKS.sub("", unicodedata.normalize("NFKD", stripped.translate(_LIGATURES)))
    spaced = f" {_SEPARATORS.sub(' ', stripped)} "
    if " st" in spaced:
        spaced = spaced.replace(" st ", " saint ").replace(" ste ", " sainte ")
    return spaced.strip()


def _without_article(key: str) -> str:
    """ "la reunion" -> "reunion": people often drop the article."""
    first, _, rest = key.partition(" ")
    return rest if first in ("la", "le", "les", "l") and rest else key


def overseas(code: str) -> bool:
    """INSEE gives overseas départements three-digit codes (971-976)."""
    return len(code) == 3


def code_key(code: str) -> tuple[int, str]:
    """Sort key for département codes: 19 < 2A < 2B < 21 < ... < 95 < 971."""
    return (int(code), "") if code.isdigit() else (int(code[0]) * 10, code[1:])


@dataclass(frozen=True, slots=True)
class Departement:
    code: str
    name: str
    latitude: float | None
    """Reference point: the mean of its communes' coordinates; None only if none has any."""
    longitude: float | None


@dataclass(frozen=True, slots=True)
class Town:
    name: str
    departement: str
    latitude: float
    """The commune's own coordinates, or its département's point when it has none."""
    longitude: float


class Places:
    """The place table, indexed for lookups. Build it with `places()` (loaded once)."""

    def __init__(self, table: Mapping[str, Any]) -> None:
        if table.get("format") != FORMAT:
            raise ValueError(f"place table format {table.get('format')!r}, expected {FORMAT}")
        self.source: Mapping[str, Any] = table["source"]
        self._departements: dict[str, Departement] = {}
        self._landmarks: dict[str, str | None] = {}
        self._names: dict[str, str] = {}
        for code, name, latitude, longitude in sorted(table["departements"], key=lambda row: code_key(row[0])):
            self._departements[code] = Departement(code, name, latitude, longitude)
            key = normalise(name)
            for variant in (key, key.replace(" ", ""), _without_article(key)):
                self._names.setdefault(variant, code)

        # Communes stay in the file's columns; indexes hold positions. Ranking and Town objects are made
        # per lookup (a handful of communes), which keeps loading fast.
        communes = table["communes"]
        self._name: list[str] = communes["name"]
        self._departement: list[str] = communes["departement"]
        self._population: list[int] = communes["population"]
        self._latitude: list[float | None] = communes["latitude"]
        self._longitude: list[float | None] = communes["longitude"]
        postcodes: list[str] = communes["postcodes"]
        if not len(self._name) == len(self._departement) == len(self._population) == len(postcodes):
            raise ValueError("place table columns differ in length")
        self._by_key: _Index = {}
        self._by_compact: _Index = {}
        self._by_postcode: _Index = {}
        self._grid: dict[tuple[int, int], tuple[tuple[float, float, str], ...]] = {}
        for i, name in enumerate(self._name):
            key = normalise(name)
            _add(self._by_key, key, i)
            _add(self._by_compact, key.replace(" ", ""), i)
            if "(" in name:  # "Château-Chinon (Ville)" is also found as "Château-Chinon"
                _add(self._by_key, normalise(name.partition("(")[0]), i)
            for postcode in postcodes[i].split():
                _add(self._by_postcode, postcode, i)
            latitude, longitude = self._latitude[i], self._longitude[i]
            if latitude is not None and longitude is not None:
                cell = (math.floor(latitude / _CELL_DEGREES), math.floor(longitude / _CELL_DEGREES))
                self._grid[cell] = (*self._grid.get(cell, ()), (latitude, longitude, self._departement[i]))

    # -- départements ------------------------------------------------------

    def departement(self, code_or_name: str) -> Departement | None:
        """A département by code ("93", "2a", "5", "971") or name, accents and case ignored."""
        text = code_or_name.strip()
        if not text or len(text) > MAX_TEXT:
            return None
        if _CODE.match(text):
            upper = text.upper()
            return self._departements.get(upper.zfill(2) if upper.isdigit() else upper)
        key = normalise(text)
        code = self._names.get(key) or self._names.get(key.replace(" ", ""))
        return self._departements[code] if code else None

    def departements(self) -> list[Departement]:
        """All départements, ordered by code (2A and 2B between 19 and 21)."""
        return list(self._departements.values())

    def point(self, departement: str) -> tuple[float, float] | None:
        """The département's reference point (centroid of its communes), if it has one."""
        found = self._departements.get(departement)
        if found is None or found.latitude is None or found.longitude is None:
            return None
        return found.latitude, found.longitude

    def landmark(self, departement: str) -> str | None:
        """The town a person would name to place a mainland département: the most populous one
        within LANDMARK_KM of its point, in it or, if bigger than BIG_CITY, next door; None
        when that town bears the département's own name (Paris) or there is none."""
        if departement not in self._landmarks:  # one scan of the communes per département, then kept
            self._landmarks[departement] = self._find_landmark(departement)
        return self._landmarks[departement]

    def _find_landmark(self, departement: str) -> str | None:
        point = self.point(departement)
        if point is None or overseas(departement):
            return None
        reach = LANDMARK_KM / _EARTH_KM_PER_DEGREE
        scale = math.cos(math.radians(point[0]))
        best: int | None = None
        for i, population in enumerate(self._population):
            if best is not None and population <= self._population[best]:
                continue
            if self._departement[i] != departement and population <= BIG_CITY:
                continue
            latitude, longitude = self._latitude[i], self._longitude[i]
            if latitude is None or longitude is None:
                continue
            if (latitude - point[0]) ** 2 + ((longitude - point[1]) * scale) ** 2 <= reach * reach:
                best = i
        if best is None or normalise(self._name[best]) == normalise(self._departements[departement].name):
            return None
        return self._name[best]

    # -- postcodes ---------------------------------------------------------

    def departement_of_postcode(self, postcode: str) -> str | None:
        """The département of a postcode; for the few that cross a border, the most populated side."""
        found = self.departements_of_postcode(postcode)
        return found[0] if found else None

    def departements_of_postcode(self, postcode: str) -> tuple[str, ...]:
        """Every département a postcode serves, most populated first (usually exactly one)."""
        found = self._by_postcode.get(postcode.strip(), ())
        if len(found) == 1:
            return (self._departement[found[0]],)
        population: dict[str, int] = defaultdict(int)
        for i in found:
            population[self._departement[i]] += self._population[i]
        return tuple(sorted(population, key=lambda dep: (-population[dep], code_key(dep))))

    # -- towns -------------------------------------------------------------

    def towns(self, name: str) -> list[Town]:
        """Communes of that name, at most one per département (the most populous), most populous first."""
        if len(name) > MAX_TEXT:
            return []
        key = normalise(name)
        matches = self._by_key.get(key) or self._by_compact.get(key.replace(" ", "")) or ()
        best: dict[str, int] = {}  # département -> its most populous commune of that name
        for i in matches:
            dep = self._departement[i]
            if dep not in best or self._population[i] > self._population[best[dep]]:
                best[dep] = i
        found = []
        for i in sorted(best.values(), key=lambda i: (-self._population[i], code_key(self._departement[i]))):
            point = self._point_of(i)
            if point is not None:  # neither the commune nor its département has coordinates: not a Town
                found.append(Town(self._name[i], self._departement[i], point[0], point[1]))
        return found

    # -- coordinates -------------------------------------------------------

    def _point_of(self, i: int) -> tuple[float, float] | None:
        """A commune's own coordinates, else its département's point."""
        latitude, longitude = self._latitude[i], self._longitude[i]
        if latitude is not None and longitude is not None:
            return latitude, longitude
        return self.point(self._departement[i])

    def nearest_departement(self, latitude: float, longitude: float) -> str | None:
        """The département of the nearest commune with its own coordinates, within NEAREST_KM."""
        if not (math.isfinite(latitude) and math.isfinite(longitude)) or abs(latitude) > 90 or abs(longitude) > 180:
            return None
        reach = NEAREST_KM / _EARTH_KM_PER_DEGREE
        cos_lat = max(math.cos(math.radians(min(abs(latitude) + reach, 89.0))), 0.01)
        rows = math.ceil(reach / _CELL_DEGREES)
        columns = math.ceil(reach / cos_lat / _CELL_DEGREES)
        row, column = math.floor(latitude / _CELL_DEGREES), math.floor(longitude / _CELL_DEGREES)
        scale = math.cos(math.radians(latitude))
        best_dep, best = None, reach * reach
        for r in range(row - rows, row + rows + 1):
            for c in range(column - columns, column + columns + 1):
                for lat, lon, dep in self._grid.get((r, c), ()):
                    distance = (lat - latitude) ** 2 + ((lon - longitude) * scale) ** 2
                    if distance <= best:
                        best_dep, best = dep, distance
        return best_dep


def _add(index: _Index, key: str, position: int) -> None:
    index[key] = index.get(key, ()) + (position,)


def load(path: Path = TABLE) -> Places:
    """Read a place table file (gzip of JSON)."""
    with gzip.open(path, "rb") as handle:
        return Places(json.load(handle))


@cache
def places() -> Places:
    """The shipped place table, loaded on first use and then shared."""
    return load()


class PlaceParser:
    """Typed text or a shared location -> a département code. The text is never kept.

    Structurally a dialogue-engine parser; it imports nothing of the engine, aiogram or the database.
    """

    def __init__(self, places: Places | None = None) -> None:
        self._given = places

    @property
    def places(self) -> Places:
        """The table, loaded only when first needed so that building a parser is free."""
        if self._given is None:
            self._given = places()
        return self._given

    def parse_text(self, text: str) -> str | Choices | None:
        """A postcode, a département code or name, or a town name -> a code, choices, or None."""
        text = text.strip()
        if not text or len(text) > MAX_TEXT:
            return None
        found = _POSTCODE_IN_TEXT.findall(text)
        if len(found) == 1 and (by_postcode := self._postcode(found[0])):
            return by_postcode
        words = normalise(text).split()
        while words:
            result = self._words(words)
            if result is not None:
                return result
            if words[0] not in _FILLERS:
                return None
            words = words[1:]
        return None

    def parse_location(self, latitude: float, longitude: float) -> str | None:
        """The département of the nearest commune; None when the place is not near any (abroad)."""
        return self.places.nearest_departement(latitude, longitude)

    def label(self, code: str) -> str:
        """ "93 Seine-Saint-Denis"; the bare code when it is not a département."""
        found = self.places.departement(code)
        return f"{found.code} {found.name}" if found else code

    def hint(self, code: str) -> Hint | None:
        """What to show after a département among choices: the town it is near, or for an
        overseas one the area it lies in; None when its name says it all (Paris) or unknown."""
        if code in OVERSEAS_AREAS:
            return OVERSEAS_AREAS[code], ""
        town = self.places.landmark(code)
        return ("near", town) if town else None

    def _postcode(self, postcode: str) -> str | Choices | None:
        deps = self.places.departements_of_postcode(postcode)
        if len(deps) > 1:
            return tuple((dep, self.label(dep)) for dep in deps)
        return deps[0] if deps else None

    def _words(self, words: list[str]) -> str | Choices | None:
        """One candidate, then the same without a trailing qualifier ("Saint-Denis 93", "Paris 11e")."""
        found = self._name(" ".join(words))
        if found is not None or len(words) < 2 or not _QUALIFIER.match(words[-1]):
            return found
        found = self._name(" ".join(words[:-1]))
        if isinstance(found, tuple):
            qualifier = self.places.departement(words[-1])
            if qualifier is not None and qualifier.code in (code for code, _ in found):
                return qualifier.code
        return found

    def _name(self, key: str) -> str | Choices | None:
        """A département code, Corsica, a département name and/or a town name."""
        compact = key.replace(" ", "")
        if compact in _CORSICA_WORDS:
            return tuple((code, self.label(code)) for code in _CORSICA)
        if _CODE.match(compact):
            departement = self.places.departement(compact)
            return departement.code if departement else None
        departement = self.places.departement(key)
        towns = [town for town in self.places.towns(key) if departement is None or town.departement != departement.code]
        if departement is not None and not towns:
            return departement.code
        if departement is None and len(towns) == 1:
            return towns[0].departement
        choices = tuple((town.departement, f"{town.name} ({self.label(town.departement)})") for town in towns)
        if departement is not None:  # "Vienne": the département, or the town in Isère
            choices = ((departement.code, self.label(departement.code)), *choices)
        return tuple(sorted(choices, key=lambda choice: overseas(choice[0]))) or None  # mainland first
