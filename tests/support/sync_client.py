"""A sync client as the app is one: follow the pages to the end, apply them in order."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.builders import Person


async def sync_all(
    client: httpx.AsyncClient, person: Person, cursor: str | None = None, limit: int = 200
) -> tuple[list[dict[str, Any]], str]:
    """Follow has_more to the end; all changes in order, and the final cursor."""
    changes: list[dict[str, Any]] = []
    while True:
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        response = await client.get("/v1/sync", params=params, headers=person.headers)
        assert response.status_code == 200, response.text
        page = response.json()
        keys = [(change["type"], change["id"]) for change in page["changes"]]
        assert len(keys) == len(set(keys)), "within a response an entity appears at most once"
        changes += page["changes"]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            return changes, cursor


def applied(changes: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """What a client holds after applying the changes in order: each entity's last state."""
    state: dict[tuple[str, str], dict[str, Any]] = {}
    for change in changes:
        key = (change["type"], change["id"])
        if change["deleted"]:
            state.pop(key, None)
        else:
            state[key] = change["data"]
    return state
