"""Keyset pagination on (created_at, id): stable while rows are added, O(page) per request.

Repositories page a list of one model with `page_of_rows`; a list of several columns per row
with `paginate` (the query) and `page_of` (the page and the next cursor)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import Select, literal, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app.schemas.common import decode_cursor, encode_cursor

Row = TypeVar("Row")


class Keyed(Protocol):
    @property
    def created_at(self) -> datetime: ...

    @property
    def id(self) -> uuid.UUID: ...


KeyedRow = TypeVar("KeyedRow", bound=Keyed)


def paginate(
    query: Select[Any],
    *,
    created_at: InstrumentedAttribute[Any],
    row_id: InstrumentedAttribute[Any],
    cursor: str | None,
    limit: int,
) -> Select[Any]:
    """Order by the key, start after the cursor, fetch one extra row to know if more exist."""
    if cursor:
        after_created, after_id = decode_cursor(cursor)
        query = query.where(
            tuple_(created_at, row_id) > tuple_(literal(after_created), literal(after_id))
        )
    return query.order_by(created_at, row_id).limit(limit + 1)


def page_of(
    rows: Sequence[Row], limit: int, key: Callable[[Row], tuple[Any, Any]]
) -> tuple[list[Row], str | None]:
    items = list(rows[:limit])
    if len(rows) <= limit:
        return items, None
    created_at, row_id = key(items[-1])
    return items, encode_cursor(created_at, row_id)


async def page_of_rows(
    session: AsyncSession,
    query: Select[tuple[KeyedRow]],
    model: type[KeyedRow],
    *,
    cursor: str | None,
    limit: int,
) -> tuple[list[KeyedRow], str | None]:
    """A page of `query`'s rows of `model` in (created_at, id) order, and the next cursor."""
    columns: Any = model  # the mapped class: its attributes are columns
    paged = paginate(
        query, created_at=columns.created_at, row_id=columns.id, cursor=cursor, limit=limit
    )
    rows = (await session.scalars(paged)).all()
    return page_of(rows, limit, key=lambda row: (row.created_at, row.id))
