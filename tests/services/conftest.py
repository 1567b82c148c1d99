"""The repository tests' fixtures, for services that run on the request's asyncpg
connection (`sql`) or need a household to act in."""

from __future__ import annotations

from tests.repositories.conftest import household, sql

__all__ = ["household", "sql"]
