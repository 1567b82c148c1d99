"""Lists of ids sent as one array parameter (`column = any($1::uuid[])`).

`column.in_(ids)` sends one bind parameter per id: the statement's text changes with the
count (no reuse of a prepared statement), and past 32,767 ids asyncpg refuses it outright.
One `uuid[]` parameter costs the same statement whatever the count."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, any_, literal
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.types import Uuid


def among(
    column: ColumnElement[Any] | QueryableAttribute[Any], ids: Iterable[uuid.UUID]
) -> ColumnElement[bool]:
    """`column = any(:ids)`, the ids bound as one uuid[] parameter."""
    return column == any_(literal(list(ids), ARRAY(Uuid)))
