"""Schemathesis against the app's own OpenAPI document, in-process, as a user who owns data.

Every check Schemathesis has, on schema-valid and schema-violating (negative) data alike:
never a 5xx, a documented status code, content type and body, documented headers; a request
the schema allows is not refused (beyond 401/403/404/409 and the rules an operation lists as
`x-problem-codes`, see `app.schemas.problem.problems`), one it forbids is not accepted; the
token is enforced (the checks' own probes without it and with a wrong one); and a 405 lists
in `Allow` exactly the methods the document gives the path.

How it is set up
- The app runs in-process (ASGI) through Schemathesis's transport, with its lifespan and its
  own pool, committing for real (committing mode): the fuzzer's requests must see the data
  built for them. Everything committed is truncated when the module is done, as
  `live_connection` does.
- The fuzzer is a real user, and every request carries their bearer token as an explicit
  header (Schemathesis generates no security parameters of its own; its ignored_auth probes,
  sent to the same in-process app, test the 401s). Their
  family has a managed kid, three habits (boolean daily, numeric on weekdays, the kid's
  per-period one) with check-ins in the past days, a routine and a pending invitation. It is
  built through the API with client-generated ids (retry-safe creates), so the ids are known
  before the run.
- About half the time, a generated id, date or token is swapped for a real one (path, query
  and body: `family_id`, `member_id`, `assignee_id`, `habit_ids`, an existing `id` for a
  retried create, the invitation `token`, dates around the check-in window, ...), so the
  fuzzer gets past the 404s into the code behind them. The choice is seeded by the case's
  content, so it also applies to Schemathesis's coverage and examples phases (which draw no
  random data) and a failing case replays the same way.
- DELETE operations would destroy the shared family mid-run and turn the rest of the run
  into 404s. So the shared run excludes them, and a second test fuzzes them as a second user
  (a `DELETE /v1/me` cannot take the first user's data with it) against a family of the same
  shape with fresh ids, rebuilt after every successful delete.

Run time is bounded for CI by the `loopin-fuzz` Hypothesis profile (25 examples per
operation, half for the id-only DELETEs, no deadline) on top of Schemathesis's deterministic
coverage cases: 1-2 minutes on two cores. `LOOPIN_FUZZ_EXAMPLES=200` digs deeper locally.
"""

from __future__ import annotations

import os
import random
import uuid
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck
from schemathesis.core.failures import AcceptedNegativeData, FailureGroup
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.python.asgi import shutdown_lifespans
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.api.openapi_export import openapi_document
from app.core.config import Settings
from app.main import create_app
from tests.support.builders import Person, create_person
from tests.support.habits import last_weekday, local_today

pytestmark = pytest.mark.committing

hypothesis.settings.register_profile(
    "loopin-fuzz",
    max_examples=int(os.environ.get("LOOPIN_FUZZ_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
    print_blob=True,
)
FUZZ = hypothesis.settings.get_profile("loopin-fuzz")
# DELETE operations take nothing but ids in the path: fewer examples cover them.
FUZZ_IDS_ONLY = hypothesis.settings(FUZZ, max_examples=max(FUZZ.max_examples // 2, 1))

DOCUMENT = openapi_document()
# Schemathesis's positive_data_acceptance takes its expected statuses per run (401, 403,
# 404, 409, 429 by default); an operation also refuses schema-valid requests with the
# statuses it lists rules for (`x-problem-codes`: a date before the habit's start, a stale
# version, ...), which no schema can rule out. `_validate` lets those through, per operation.
# Batch items are documented as BatchCheckinItem but answered one by one, by contract: a
# malformed item gets its own 422 result inside a 200, so the batch is not rejected whole.
ITEMS_ANSWERED_ONE_BY_ONE = {("POST", "/v1/sync/checkins")}


def _rule_statuses(operation: dict[str, Any]) -> set[int]:
    return {
        int(status)
        for status, answer in operation["responses"].items()
        if answer.get("x-problem-codes")
    }


RULE_STATUSES = {
    (method.upper(), path): _rule_statuses(operation)
    for path, item in DOCUMENT["paths"].items()
    for method, operation in item.items()
}

# Every check of Schemathesis, on positive and negative (schema-violating) data. The
# coverage phase also tries methods a path does not have (TRACE, ...), so 405 answers and
# their `Allow` headers are checked too.
CONFIG = schemathesis.Config.from_dict(
    {
        "generation": {
            "mode": "all",
            # The token is the fuzzer's own (sent with every call); the ignored_auth check's
            # probes send none and a wrong one, and tests/api/test_auth.py covers the rest.
            "with-security-parameters": False,
            # Unknown query parameters are ignored, as the document does not forbid them
            # (OpenAPI has no `additionalProperties` for a query).
            "allow-extra-parameters": False,
        },
    }
)


def _validate(case: schemathesis.Case, app: FastAPI, person: Person) -> int:
    """The call with every check, less the refusals the operation documents; its status."""
    key = (case.method.upper(), case.operation.path)
    try:
        return case.call_and_validate(app=app, headers=_auth(person)).status_code
    except FailureGroup as group:
        remaining = [
            failure
            for failure in group.exceptions
            if not (
                isinstance(failure, RejectedPositiveData)
                and failure.status_code in RULE_STATUSES[key]
            )
            and not (isinstance(failure, AcceptedNegativeData) and key in ITEMS_ANSWERED_ONE_BY_ONE)
        ]
        if remaining:
            raise FailureGroup(remaining, str(group)) from None
        # Only documented refusals (4xx) or batch answers were let through: nothing deleted.
        return next((f.status_code for f in group.exceptions if hasattr(f, "status_code")), 400)


schema = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG)


# --- the data the fuzzer owns ----------------------------------------------------------------


@dataclass(frozen=True)
class World:
    """One family and everything in it, by id (as the strings a client sends)."""

    family_id: str
    owner_member_id: str
    kid_member_id: str
    daily_habit_id: str
    weekdays_habit_id: str
    kid_habit_id: str
    routine_id: str
    invitation_id: str
    invitation_token: str

    @classmethod
    def with_new_ids(cls, invitation_token: str = "") -> World:
        ids = [str(uuid.uuid4()) for _ in range(8)]
        return cls(*ids, invitation_token=invitation_token)

    @property
    def member_ids(self) -> list[str]:
        return [self.owner_member_id, self.kid_member_id]

    @property
    def habit_ids(self) -> list[str]:
        return [self.daily_habit_id, self.weekdays_habit_id, self.kid_habit_id]

    @property
    def ids(self) -> list[str]:
        return [*self.member_ids, *self.habit_ids, self.family_id, self.routine_id]

    def translation(self, other: World) -> dict[str, str]:
        """Each of this world's values → the same thing in `other`."""
        return {
            getattr(self, name): getattr(other, name)
            for name in self.__dataclass_fields__
            if getattr(self, name) != getattr(other, name)
        }


# The ids swapped into generated cases. The shared family is built with exactly these (only
# the owner's member id and the invitation token are the server's); the DELETE run maps them
# to its fresh family.
PLACEHOLDER = World.with_new_ids(invitation_token="placeholder-invitation-token")
TODAY = local_today("UTC")
HABIT_START = TODAY - timedelta(days=20)


_DAYS_AROUND = [
    (TODAY + timedelta(days=offset)).isoformat() for offset in range(-40, 3)
]  # around the check-in window: a few in the future, a few past the backfill


REAL_VALUES: dict[str, Callable[[random.Random], Any]] = {
    "family_id": lambda _: PLACEHOLDER.family_id,
    "member_id": lambda rng: rng.choice(PLACEHOLDER.member_ids),
    "assignee_id": lambda rng: rng.choice(PLACEHOLDER.member_ids),
    "habit_id": lambda rng: rng.choice(PLACEHOLDER.habit_ids),
    "habit_ids": lambda rng: rng.sample(PLACEHOLDER.habit_ids, rng.randint(1, 3)),
    "routine_id": lambda _: PLACEHOLDER.routine_id,
    "invitation_id": lambda _: PLACEHOLDER.invitation_id,
    "token": lambda _: PLACEHOLDER.invitation_token,
    "id": lambda rng: rng.choice(PLACEHOLDER.ids),  # a retried create, or an id taken elsewhere
    "date": lambda rng: rng.choice(_DAYS_AROUND),
    "from": lambda rng: rng.choice(_DAYS_AROUND),
    "to": lambda rng: rng.choice(_DAYS_AROUND),
    "effective_from": lambda rng: rng.choice(_DAYS_AROUND),
    "start_date": lambda rng: rng.choice(_DAYS_AROUND),
    "number": lambda rng: rng.randint(1, 3),
    "timezone": lambda rng: rng.choice(["UTC", "Europe/Berlin", "America/Mexico_City"]),
}
# Values the schema can only describe by shape (an IANA zone name the server's time-zone
# database knows): always real in a schema-valid case, or it would be refused for a reason
# the document states in words only.
ALWAYS_REAL = {"timezone"}


def _sometimes_real(value: Any, rng: random.Random, key: str | None = None) -> Any:
    """The generated value, or (about half the time) a real one for the fields we know."""
    if key in ALWAYS_REAL and isinstance(value, str):
        return REAL_VALUES[key](rng)
    if key in REAL_VALUES:
        return REAL_VALUES[key](rng) if rng.random() < 0.5 else value
    if isinstance(value, dict):
        return {k: _sometimes_real(v, rng, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_sometimes_real(item, rng) for item in value]
    return value


def _use_real_ids(case: schemathesis.Case) -> None:
    """Swap generated ids, dates, ... for the placeholders of real ones, about half the time.

    The choice is seeded by the case's own content, so a failing case replays the same way
    (also in Schemathesis's coverage and examples phases, which draw no random data).
    Schema-violating cases stay as generated: a swap could make them valid."""
    if case.meta is not None and case.meta.generation.mode.is_negative:
        return
    rng = random.Random(zlib.crc32(repr((case.path_parameters, case.query, case.body)).encode()))
    case.path_parameters = _sometimes_real(case.path_parameters, rng)
    case.query = _sometimes_real(case.query, rng)
    if isinstance(case.body, dict | list):
        case.body = _sometimes_real(case.body, rng)


def _translate(value: Any, mapping: dict[str, str]) -> Any:
    if isinstance(value, str):
        return mapping.get(value, value)
    if isinstance(value, dict):
        return {k: _translate(v, mapping) for k, v in value.items()}
    if isinstance(value, list):
        return [_translate(item, mapping) for item in value]
    return value


def _mentions(value: Any, targets: set[str]) -> bool:
    if isinstance(value, str):
        return value in targets
    if isinstance(value, dict):
        return any(_mentions(v, targets) for v in value.values())
    if isinstance(value, list):
        return any(_mentions(item, targets) for item in value)
    return False


def _point_at(case: schemathesis.Case, world: World) -> None:
    mapping = PLACEHOLDER.translation(world)
    if not mapping:
        return
    case.path_parameters = _translate(case.path_parameters, mapping)
    case.query = _translate(case.query, mapping)
    if isinstance(case.body, dict | list):
        case.body = _translate(case.body, mapping)


def _uses_placeholders(case: schemathesis.Case) -> bool:
    targets = {getattr(PLACEHOLDER, name) for name in PLACEHOLDER.__dataclass_fields__}
    body = case.body if isinstance(case.body, dict | list) else None
    return any(_mentions(part, targets) for part in (case.path_parameters, case.query, body))


def _in_process(case: schemathesis.Case, app: FastAPI) -> None:
    """The checks' own probes (a request without the token, with a wrong one) go to the same
    in-process app as the case."""
    case.operation.app = app
    case.operation.schema.app = app


# --- building it through the API -------------------------------------------------------------


def _auth(person: Person) -> dict[str, str]:
    return {"Authorization": f"Bearer {person.token}"}


def _send(
    app: FastAPI,
    person: Person,
    method: str,
    path: str,
    *,
    path_parameters: dict[str, Any] | None = None,
    body: Any = None,
) -> Any:
    operation = schema[path][method]
    if body is None:
        case = operation.Case(path_parameters=path_parameters or {})
    else:
        case = operation.Case(path_parameters=path_parameters or {}, body=body)
    response = case.call(app=app, headers=_auth(person))
    assert response.status_code in (200, 201), (method, path, response.text)
    return response.json()


def build_world(app: FastAPI, person: Person, ids: World) -> World:
    """The family of the module docstring, owned by `person`, with the given ids."""
    family = {"family_id": ids.family_id}
    _send(app, person, "GET", "/v1/me")
    created = _send(
        app,
        person,
        "POST",
        "/v1/families",
        body={"id": ids.family_id, "name": "The Fuzzers", "timezone": "UTC"},
    )
    world = replace(ids, owner_member_id=created["my_member_id"])
    _send(
        app,
        person,
        "POST",
        "/v1/families/{family_id}/members",
        path_parameters=family,
        body={"id": ids.kid_member_id, "display_name": "Kiddo"},
    )
    habits = [
        {
            "id": ids.daily_habit_id,
            "name": "Read",
            "assignee_id": world.owner_member_id,
            "schedule": {"kind": "daily"},
        },
        {
            "id": ids.weekdays_habit_id,
            "name": "Run",
            "assignee_id": world.owner_member_id,
            "type": "numeric",
            "target_value": 5,
            "unit": "km",
            "target_direction": "at_least",
            "schedule": {"kind": "weekdays", "weekdays": [1, 3, 5]},
        },
        {
            "id": ids.kid_habit_id,
            "name": "Tidy up 🧸",
            "assignee_id": ids.kid_member_id,
            "schedule": {"kind": "per_period", "times": 3, "period": "week"},
        },
    ]
    for habit in habits:
        _send(
            app,
            person,
            "POST",
            "/v1/families/{family_id}/habits",
            path_parameters=family,
            body={**habit, "start_date": HABIT_START.isoformat()},
        )
    checkins = [
        (ids.daily_habit_id, TODAY - timedelta(days=1), {"status": "done"}),
        (ids.daily_habit_id, TODAY - timedelta(days=2), {"status": "skipped", "note": "ill"}),
        (ids.weekdays_habit_id, last_weekday(3, before=TODAY), {"status": "done", "value": 6.5}),
        (ids.kid_habit_id, TODAY - timedelta(days=3), {"status": "done"}),
    ]
    batch = _send(
        app,
        person,
        "POST",
        "/v1/sync/checkins",
        body={
            "items": [
                {"habit_id": habit_id, "date": day.isoformat(), **checkin}
                for habit_id, day, checkin in checkins
            ]
        },
    )
    assert [result["status"] for result in batch["results"]] == [201] * len(checkins), batch
    _send(
        app,
        person,
        "POST",
        "/v1/families/{family_id}/routines",
        path_parameters=family,
        body={
            "id": ids.routine_id,
            "name": "Morning",
            "assignee_id": world.owner_member_id,
            "time_of_day": "07:30",
            "habit_ids": [ids.daily_habit_id, ids.weekdays_habit_id],
        },
    )
    invitation = _send(
        app,
        person,
        "POST",
        "/v1/families/{family_id}/invitations",
        path_parameters=family,
        body={"id": ids.invitation_id, "role": "member", "email": "gran@example.com"},
    )
    return replace(world, invitation_token=invitation["token"])


# --- fixtures ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FuzzPeople:
    owner: Person  # owns the shared family
    wrecker: Person  # runs the DELETE operations, each on a family of its own


@pytest.fixture(scope="module")
async def fuzz_people(engine: AsyncEngine) -> AsyncIterator[FuzzPeople]:
    async with engine.begin() as connection:
        people = FuzzPeople(
            owner=await create_person(connection, "fuzzer"),
            wrecker=await create_person(connection, "wrecker"),
        )
    yield people
    async with engine.begin() as connection:
        await connection.execute(
            text("truncate auth.users, public.users, public.families, public.sync_changes cascade")
        )


@pytest.fixture(scope="module")
def fuzz_app(settings: Settings, fuzz_people: FuzzPeople) -> Iterator[FastAPI]:
    """The app with its lifespan (its own pool), served in-process by Schemathesis. The
    wrecker builds a new family (with a batch of check-ins) after each DELETE that spoils
    one, keeping the old: more than the default families-per-login quota and batch-writes
    rate limit over a run, which are not what this test is about."""
    roomy = {"max_families_per_user": 100_000, "rate_limit_batch_writes_per_minute": 100_000}
    app = create_app(settings.model_copy(update=roomy))
    yield app
    shutdown_lifespans()  # closes the pool before the data is truncated


@pytest.fixture(scope="module")
def shared_world(fuzz_app: FastAPI, fuzz_people: FuzzPeople) -> World:
    world = build_world(fuzz_app, fuzz_people.owner, PLACEHOLDER)
    assert world.owner_member_id != PLACEHOLDER.owner_member_id
    return world


@dataclass
class Wreckage:
    """The DELETE run's family: fresh ids, rebuilt after anything in it was deleted."""

    app: FastAPI
    person: Person
    world: World | None = None

    def intact(self) -> World:
        if self.world is None:
            self.world = build_world(self.app, self.person, World.with_new_ids())
        return self.world

    def spoil(self) -> None:
        self.world = None


@pytest.fixture(scope="module")
def wreckage(fuzz_app: FastAPI, fuzz_people: FuzzPeople) -> Wreckage:
    return Wreckage(fuzz_app, fuzz_people.wrecker)


# --- the runs -----------------------------------------------------------------------------------


@schema.exclude(method="DELETE").parametrize()
@FUZZ
def test_api_conforms_to_its_schema(
    case: schemathesis.Case, fuzz_app: FastAPI, fuzz_people: FuzzPeople, shared_world: World
) -> None:
    _use_real_ids(case)
    _point_at(case, shared_world)
    _in_process(case, fuzz_app)
    _validate(case, fuzz_app, fuzz_people.owner)


@schema.include(method="DELETE").parametrize()
@FUZZ_IDS_ONLY
def test_delete_operations_conform_to_the_schema(
    case: schemathesis.Case, fuzz_app: FastAPI, fuzz_people: FuzzPeople, wreckage: Wreckage
) -> None:
    _use_real_ids(case)
    if _uses_placeholders(case):
        _point_at(case, wreckage.intact())
    _in_process(case, fuzz_app)
    if _validate(case, fuzz_app, fuzz_people.wrecker) < 300:
        wreckage.spoil()
