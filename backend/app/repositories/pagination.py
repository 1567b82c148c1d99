"""Keyset pagination on (created_at, id): stable while rows are added, O(page) per request.

Repositories page their lists with `paginate` (the query) and `page_of` (the page and the
next cursor)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Select, literal, tuple_
from sqlalchemy.orm import InstrumentedAttribute

from app.schemas.common import decode_cursor, encode_cursor

Row = TypeVar("Row")


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
