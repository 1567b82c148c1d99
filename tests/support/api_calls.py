"""Requests the API tests send again and again, one call each, with the answer returned
unchecked: the test says what it expects of it."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import httpx

from tests.support.builders import Person


def checkin_path(habit_id: uuid.UUID, day: date | str) -> str:
    return f"/v1/habits/{habit_id}/checkins/{day}"


async def check_in(
    client: httpx.AsyncClient,
    habit_id: uuid.UUID,
    day: date | str,
    person: Person,
    status: str = "done",
    **fields: Any,
) -> httpx.Response:
    """The person's `PUT` of the habit's check-in on `day`: `status` and any other body
    fields (`value`, `note`)."""
    return await client.put(
        checkin_path(habit_id, day), json={"status": status, **fields}, headers=person.headers
    )


async def post_habit(
    client: httpx.AsyncClient, family_id: uuid.UUID, person: Person, body: dict[str, Any]
) -> httpx.Response:
    """The person's `POST` of a new habit (see `habits.habit_body`) to the family."""
    return await client.post(f"/v1/families/{family_id}/habits", json=body, headers=person.headers)


async def accept_invitation(
    client: httpx.AsyncClient, token: str, person: Person
) -> httpx.Response:
    """The person's `POST /v1/invitations/accept` of the invitation with this token."""
    return await client.post(
        "/v1/invitations/accept", json={"token": token}, headers=person.headers
    )
