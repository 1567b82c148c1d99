"""The offline-first client of issue 5's "Done when", simulated end to end.

A parent's tablet is offline: it queues the creation of a family, a managed profile for a
child, habits, a routine and 30 days of check-ins (single PUTs and batches), all with
client-generated ids. Back online it sends the queue, then (flaky network, retries) replays
every request twice in a shuffled order: every answer is 2xx and nothing changes on the
server. A second device of the same user syncs from an empty cursor; the tablet syncs from the
cursor it held before going offline. Both local stores equal the server's state read back
through the API, also after a family is deleted (a tombstone removes everything in it).

Committing mode: GET /v1/sync only delivers committed changes.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.security import mint_token
from tests.support.builders import TEST_JWT_SECRET, Person, create_person

DAYS = 30  # the default backfill window: today and the 29 days before
ME = "<my member id>"  # not known offline: the server picks the owner's member id

Key = tuple[str, ...]


# --- the client ---------------------------------------------------------------------------------


@dataclass
class Request:
    method: str
    path: str
    body: dict[str, Any]
    kind: str  # what the answer holds: family, member, habit, routine, checkin, batch

    def resolved(self, my_member_id: str) -> Request:
        body = {k: my_member_id if v == ME else v for k, v in self.body.items()}
        return Request(self.method, self.path, body, self.kind)


@dataclass
class Device:
    """A client with a local store: `(type, id)` -> the resource as the API shows it."""

    name: str
    headers: dict[str, str]
    store: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    cursor: str | None = None

    def apply_answer(self, request: Request, answer: dict[str, Any]) -> None:
        """What the device learns from the answer to its own write."""
        if request.kind == "batch":
            for result in answer["results"]:
                self.store[("checkin", result["checkin"]["id"])] = result["checkin"]
        else:
            self.store[(request.kind, answer["id"])] = answer

    def apply_change(self, change: dict[str, Any]) -> None:
        key = (change["type"], change["id"])
        if not change["deleted"]:
            self.store[key] = change["data"]
            return
        self.store.pop(key, None)
        if change["type"] == "family":  # everything of the family goes with it
            gone = {
                entity_id
                for (kind, entity_id), data in self.store.items()
                if kind in {"member", "habit", "routine"} and data["family_id"] == change["id"]
            }
            self.store = {
                (kind, entity_id): data
                for (kind, entity_id), data in self.store.items()
                if entity_id not in gone
                and data.get("habit_id") not in gone
                and data.get("routine_id") not in gone
            }

    async def sync(self, client: httpx.AsyncClient) -> int:
        """GET /v1/sync from the device's cursor until nothing is left; the changes applied."""
        applied = 0
        while True:
            params: dict[str, Any] = {"limit": 50}
            if self.cursor:
                params["cursor"] = self.cursor
            response = await client.get("/v1/sync", params=params, headers=self.headers)
            assert response.status_code == 200, response.text
            page = response.json()
            for change in page["changes"]:
                self.apply_change(change)
            applied += len(page["changes"])
            self.cursor = page["next_cursor"]
            if not page["has_more"]:
                return applied


async def send(
    client: httpx.AsyncClient, device: Device, request: Request
) -> tuple[int, dict[str, Any]]:
    response = await client.request(
        request.method, request.path, json=request.body, headers=device.headers
    )
    assert response.status_code in {200, 201}, (request.method, request.path, response.text)
    answer = response.json()
    device.apply_answer(request, answer)
    return response.status_code, answer


def comparable(store: dict[tuple[str, str], dict[str, Any]]) -> dict[Key, dict[str, Any]]:
    """Versions are read back per parent without their own id: key them by (parent, number)."""
    view: dict[Key, dict[str, Any]] = {}
    for (kind, entity_id), data in store.items():
        if kind in {"habit_version", "routine_version"}:
            parent = "habit_id" if kind == "habit_version" else "routine_id"
            rest = {k: v for k, v in data.items() if k not in {"id", parent}}
            view[(kind, data[parent], str(data["number"]))] = rest
        else:
            view[(kind, entity_id)] = data
    return view


# --- the server's state, read back through the API ----------------------------------------------


async def read_all(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], **params: Any
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, "limit": 2, **({"cursor": cursor} if cursor else {})}
        response = await client.get(path, params=query, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def server_state(
    client: httpx.AsyncClient, person: Person, first: str, last: str
) -> dict[Key, dict[str, Any]]:
    headers = person.headers
    state: dict[Key, dict[str, Any]] = {}

    async def get(path: str, **params: Any) -> Any:
        response = await client.get(path, params=params, headers=headers)
        assert response.status_code == 200, response.text
        return response.json()

    for family in await read_all(client, "/v1/families", headers):
        family_id = family["id"]
        state[("family", family_id)] = await get(f"/v1/families/{family_id}")
        for member in await read_all(client, f"/v1/families/{family_id}/members", headers):
            state[("member", member["id"])] = member
        for habit in await read_all(client, f"/v1/families/{family_id}/habits", headers):
            habit_id = habit["id"]
            state[("habit", habit_id)] = await get(f"/v1/habits/{habit_id}")
            for version in (await get(f"/v1/habits/{habit_id}/versions"))["items"]:
                state[("habit_version", habit_id, str(version["number"]))] = version
            checkins = await get(f"/v1/habits/{habit_id}/checkins", **{"from": first, "to": last})
            for checkin in checkins["items"]:
                state[("checkin", checkin["id"])] = checkin
        for routine in await read_all(client, f"/v1/families/{family_id}/routines", headers):
            routine_id = routine["id"]
            state[("routine", routine_id)] = await get(f"/v1/routines/{routine_id}")
            for version in (await get(f"/v1/routines/{routine_id}/versions"))["items"]:
                state[("routine_version", routine_id, str(version["number"]))] = version
    return state


_COUNTS = text(
    "select (select count(*) from families), (select count(*) from family_members),"
    " (select count(*) from habits), (select count(*) from habit_versions),"
    " (select count(*) from routines), (select count(*) from routine_versions),"
    " (select count(*) from checkins)"
)


async def row_counts(connection: AsyncConnection) -> tuple[int, ...]:
    counts = tuple((await connection.execute(_COUNTS)).one())
    # End the read at once: an open transaction would hold back the sync horizon.
    await connection.rollback()
    return counts


# --- the scenario -------------------------------------------------------------------------------


def offline_queue(today: date) -> list[Request]:
    """What the tablet records while offline, in the order the parent did it."""
    family_id, kid_id = str(uuid.uuid4()), str(uuid.uuid4())
    read, water, brush, routine = (str(uuid.uuid4()) for _ in range(4))
    days = [today - timedelta(days=n) for n in range(DAYS)]
    start = str(days[-1])
    queue = [
        Request("POST", "/v1/families", {"id": family_id, "name": "Offline"}, "family"),
        Request(
            "POST",
            f"/v1/families/{family_id}/members",
            {"id": kid_id, "display_name": "Kid"},
            "member",
        ),
        Request(
            "POST",
            f"/v1/families/{family_id}/habits",
            {
                "id": read,
                "name": "Read",
                "assignee_id": ME,
                "schedule": {"kind": "daily"},
                "start_date": start,
            },
            "habit",
        ),
        Request(
            "POST",
            f"/v1/families/{family_id}/habits",
            {
                "id": water,
                "name": "Water",
                "assignee_id": ME,
                "type": "numeric",
                "target_value": 8,
                "unit": "glasses",
                "schedule": {"kind": "daily"},
                "start_date": start,
            },
            "habit",
        ),
        Request(
            "POST",
            f"/v1/families/{family_id}/habits",
            {
                "id": brush,
                "name": "Brush teeth",
                "assignee_id": kid_id,
                "schedule": {"kind": "weekdays", "weekdays": [1, 2, 3, 4, 5]},
                "start_date": start,
            },
            "habit",
        ),
        Request(
            "POST",
            f"/v1/families/{family_id}/routines",
            {
                "id": routine,
                "name": "Morning",
                "assignee_id": ME,
                "time_of_day": "07:30",
                "habit_ids": [water, read],
            },
            "routine",
        ),
    ]
    # "Read": one PUT per day, as the parent ticks it off.
    for n, day in enumerate(days):
        body: dict[str, Any] = {"status": "skipped" if n % 7 == 3 else "done"}
        if n % 5 == 0:
            body["note"] = f"day {n}"
        queue.append(Request("PUT", f"/v1/habits/{read}/checkins/{day}", body, "checkin"))
    # "Water" and the kid's "Brush teeth": batches, as the tablet uploads them.
    water_items = [
        {"habit_id": water, "date": str(day), "status": "done", "value": n % 9 + 1}
        if n % 6
        else {"habit_id": water, "date": str(day), "status": "skipped"}
        for n, day in enumerate(days)
    ]
    brush_items = [
        {"habit_id": brush, "date": str(day), "status": "done"}
        for day in days
        if day.isoweekday() <= 5
    ]
    for chunk in (water_items[:15], water_items[15:], brush_items):
        queue.append(Request("POST", "/v1/sync/checkins", {"items": chunk}, "batch"))
    return queue


async def test_offline_client_replays_and_two_devices_converge(
    live_client: httpx.AsyncClient, live_connection: AsyncConnection
) -> None:
    client = live_client
    parent = await create_person(live_connection, "parent")
    await live_connection.commit()
    today = datetime.now(UTC).date()  # the parent and the family live in UTC
    first, last = str(today - timedelta(days=DAYS - 1)), str(today)
    tablet = Device("tablet", parent.headers)
    phone_token = mint_token(secret=TEST_JWT_SECRET, sub=parent.user_id, email=parent.email)
    phone = Device("phone", {"Authorization": f"Bearer {phone_token}"})
    assert phone.headers != tablet.headers

    assert await tablet.sync(client) == 0  # the tablet's last sync before going offline

    # Offline: only the queue grows. Online: it is sent in order; the owner's member id, known
    # only from the family's answer, fills in the requests that assign to the parent.
    queue = offline_queue(today)
    sent: list[Request] = []
    my_member_id = ""
    for queued in queue:
        request = queued.resolved(my_member_id)
        status, answer = await send(client, tablet, request)
        assert status == (200 if request.kind == "batch" else 201), (request.path, answer)
        if request.kind == "family":
            my_member_id = answer["my_member_id"]
        if request.kind == "batch":
            assert [r["status"] for r in answer["results"]] == [201] * len(request.body["items"])
        sent.append(request)
    checkins_sent = sum(
        len(r.body["items"]) if r.kind == "batch" else r.kind == "checkin" for r in sent
    )
    counts = await row_counts(live_connection)
    state = await server_state(client, parent, first, last)
    assert counts[-1] == checkins_sent == sum(1 for key in state if key[0] == "checkin")
    assert counts[:3] == (1, 2, 3)  # one family, parent + kid, three habits

    # Flaky network: every request again, twice, in any order. Nothing new is created.
    replays = sent * 2
    random.Random(5).shuffle(replays)
    for request in replays:
        status, answer = await send(client, tablet, request)
        assert status == 200, (request.method, request.path, answer)
        if request.kind == "batch":
            assert {r["status"] for r in answer["results"]} == {200}
        elif request.method == "POST":
            assert answer["id"] == request.body["id"]
    assert await row_counts(live_connection) == counts
    replayed_state = await server_state(client, parent, first, last)
    assert replayed_state == state  # identical writes touch nothing, not even updated_at

    # A second device from scratch, the tablet from where it left off: both hold the server's.
    await phone.sync(client)
    await tablet.sync(client)
    assert comparable(phone.store) == replayed_state
    assert comparable(tablet.store) == replayed_state
    assert sum(1 for kind, _ in phone.store if kind == "checkin") == checkins_sent

    # A family deleted on the phone: its tombstone empties it from both devices.
    scratch = str(uuid.uuid4())
    await send(
        client, phone, Request("POST", "/v1/families", {"id": scratch, "name": "Tmp"}, "family")
    )
    await tablet.sync(client)
    assert ("family", scratch) in tablet.store
    deleted = await client.delete(f"/v1/families/{scratch}", headers=phone.headers)
    assert deleted.status_code == 204
    deleted = await client.delete(f"/v1/families/{queue[0].body['id']}", headers=phone.headers)
    assert deleted.status_code == 204
    await phone.sync(client)
    await tablet.sync(client)
    final_state = await server_state(client, parent, first, last)
    assert final_state == {}
    assert comparable(phone.store) == final_state
    assert comparable(tablet.store) == final_state
