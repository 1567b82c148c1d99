"""Typed rows at no cost per row: asyncpg builds each row directly as a subclass of its
`Record` (`record_class=`), and the subclass reads its columns through C-level item getters,
so a repository hands out rows with typed attributes without copying them into objects."""

from __future__ import annotations

import operator
from typing import Any

import asyncpg


class TypedRecord(asyncpg.Record):  # type: ignore[misc]  # asyncpg ships no type hints
    """A row of a known statement: subclasses declare its columns with `column`. Still a
    record: `dict(row)` and `row["name"]` work as on any other."""

    __slots__ = ()


def column(name: str) -> Any:
    """The attribute reading column `name`; annotate it with the column's Python type."""
    return property(operator.itemgetter(name))
