"""`supabase/` is a Supabase CLI project whose settings say what the code relies on."""

from __future__ import annotations

import tomllib
from pathlib import Path

SUPABASE = Path(__file__).resolve().parents[1] / "supabase"


def config() -> dict[str, object]:
    with (SUPABASE / "config.toml").open("rb") as file:
        return tomllib.load(file)


def test_the_data_api_publishes_nothing_of_ours() -> None:
    api = config()["api"]
    assert isinstance(api, dict)
    assert api["enabled"] is False
    assert "public" not in api["schemas"]


def test_postgres_major_version_is_the_documented_one() -> None:
    db = config()["db"]
    assert isinstance(db, dict)
    major = db["major_version"]
    assert f"Postgres {major}" in (SUPABASE / "README.md").read_text()


def test_alembic_owns_the_schema() -> None:
    """No CLI migrations or seed would compete with Alembic's."""
    seed = config()["db"]["seed"]  # type: ignore[index]
    assert seed["enabled"] is False
    assert not (SUPABASE / "migrations").exists()
