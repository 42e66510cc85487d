"""Claiming rows for one instance at a time: the outbox, group messages to clear.

A claim is a conditional UPDATE per row that only wins while the row is still unclaimed
(or its claim has lapsed: the instance that held it died), so two instances never both win
a row, on any database. On PostgreSQL the candidates are also locked with SKIP LOCKED, so
concurrent instances pick different rows instead of racing for the same ones.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, or_, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import on_postgresql, rows_changed
from storage.models import now

Row = TypeVar("Row")


async def claim(
    session: AsyncSession,
    model: type[Row],
    candidates: Select[Row],
    still: Sequence[ColumnElement[bool]],
    *,
    lease: float,
) -> list[Row]:
    """The `candidates` this transaction won, each claimed for `lease` seconds. `still`: what
    must still hold of a row when it is claimed (its status...), checked again in the UPDATE."""
    table: Any = model  # every claimable model has `id` and `claimed_until`
    moment = now()
    free = or_(table.claimed_until.is_(None), table.claimed_until <= moment)
    query = candidates.where(free)
    if on_postgresql(session):
        query = query.with_for_update(skip_locked=True)
    until = moment + dt.timedelta(seconds=lease)
    claimed = []
    for row in list(await session.scalars(query)):
        won = await rows_changed(
            session,
            update(table)
            # a TypeVar has no columns: every claimable model has `id` (checked by the tests)
            .where(table.id == row.id, free, *still)  # type: ignore[attr-defined]
            .values(claimed_until=until)
            .execution_options(synchronize_session=False),
        )
        if won == 1:
            claimed.append(row)
    return claimed
