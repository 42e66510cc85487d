"""Which association to offer: the closest eligible one, computed on plain data loaded once."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Association, EnrolledChat

EARTH_RADIUS_KM = 6371.0088


def _unit_vector(latitude: float, longitude: float) -> tuple[float, float, float]:
    """A point on the unit sphere: the closest one has the largest dot product, no trigonometry per lookup."""
    lat, lon = math.radians(latitude), math.radians(longitude)
    return math.cos(lat) * math.cos(lon), math.cos(lat) * math.sin(lon), math.sin(lat)


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True)
class Candidate:
    """What "nearest" needs of an association: plain data, loaded once, compared without the database."""

    slug: str
    name: str
    city: str
    departements: frozenset[str]
    latitude: float
    longitude: float
    accredited_until: dt.date
    intake_open: bool
    enrolled: bool
    phone: str = ""
    website: str = ""
    hours: str = ""
    languages: tuple[str, ...] = ()
    email: str = ""
    services: tuple[str, ...] = ()
    _unit: tuple[float, float, float] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_unit", _unit_vector(self.latitude, self.longitude))


@dataclass(frozen=True)
class Match:
    candidate: Candidate
    distance_km: float | None
    """None when the person gave no point (only a département)."""
    covers: bool
    """False when no eligible association covers the person's département: the screen says so."""


async def load_candidates(session: AsyncSession) -> list[Candidate]:
    """Every association as a Candidate (eligibility is decided per lookup, by `nearest`)."""
    query = select(Association, EnrolledChat.id).outerjoin(EnrolledChat).order_by(Association.slug)
    # An unreachable association counts as not enrolled: closed for new requests.
    return [
        Candidate(
            slug=a.slug,
            name=a.name,
            city=a.city,
            departements=frozenset(a.departements),
            latitude=a.latitude,
            longitude=a.longitude,
            accredited_until=a.accredited_until,
            intake_open=a.intake_open,
            enrolled=chat_id is not None and a.unreachable_since is None,
            phone=a.phone,
            website=a.website,
            hours=a.hours,
            languages=tuple(a.languages),
            email=a.email,
            services=tuple(a.services),
        )
        for a, chat_id in (await session.execute(query)).all()
    ]


def nearest(
    candidates: Sequence[Candidate],
    departement: str | None,
    point: tuple[float, float] | None,
    today: dt.date,
    exclude: frozenset[str] = frozenset(),
    require_enrolled: bool = True,
) -> Match | None:
    """The association to offer (brief, section 6), or None when there is none to offer.

    Eligible: accredited on `today` (accredited_until >= today), intake open, enrolled
    (unless not required), slug not in `exclude`.
    - With a point: the closest eligible one covering `departement`; when none covers it,
      the closest eligible one overall, with covers=False.
    - Without a point: the covering eligible one first by slug, distance None. If none
      covers the département, None: without a point "closest overall" would be an arbitrary
      pick anywhere in France. Callers who know only the département pass its reference
      point (`places().point(code)`) to get the fallback.
    - Without département and point: None (we cannot say what is near).
    A département of None with a point gives the closest eligible one with covers=False.
    Ties in distance go to the smaller slug, so the answer is deterministic.
    """
    if point is None:
        return _first_covering(candidates, departement, today, exclude, require_enrolled)
    tx, ty, tz = _unit_vector(*point)
    departement = departement.upper() if departement else None
    best: Candidate | None = None
    best_dot = -2.0
    covering: Candidate | None = None
    covering_dot = -2.0
    for candidate in candidates:  # the hot loop: locals and cheap tests first
        if (
            not candidate.intake_open
            or candidate.accredited_until < today
            or (require_enrolled and not candidate.enrolled)
            or (exclude and candidate.slug in exclude)
        ):
            continue
        x, y, z = candidate._unit
        dot = x * tx + y * ty + z * tz
        if dot > best_dot or (dot == best_dot and best is not None and candidate.slug < best.slug):
            best, best_dot = candidate, dot
        if (
            dot >= covering_dot
            and departement in candidate.departements
            and (dot > covering_dot or (covering is not None and candidate.slug < covering.slug))
        ):
            covering, covering_dot = candidate, dot
    chosen = covering or best
    if chosen is None:
        return None
    return Match(chosen, haversine_km(point, (chosen.latitude, chosen.longitude)), covering is not None)


def _first_covering(
    candidates: Sequence[Candidate],
    departement: str | None,
    today: dt.date,
    exclude: frozenset[str],
    require_enrolled: bool,
) -> Match | None:
    if departement is None:
        return None
    departement = departement.upper()
    found = [
        c
        for c in candidates
        if departement in c.departements
        and c.accredited_until >= today
        and c.intake_open
        and (c.enrolled or not require_enrolled)
        and c.slug not in exclude
    ]
    return Match(min(found, key=lambda c: c.slug), None, True) if found else None
