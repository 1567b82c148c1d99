"""The hot paths' lean pipeline (`DriverRoute`) answers exactly as FastAPI's generic handler
would for the same endpoint: each request below is sent to the served route and to a twin of
it registered as a plain `APIRoute`, and the answers are compared whole."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncConnection

from app.api import deps
from app.api.deps import SessionDep, get_claims, get_settings
from app.api.driver_route import DriverRoute
from app.api.routes import boards, checkins, habits
from app.core.security import TokenClaims
from app.schemas.board import FamilyBoard, TodayBoard
from app.schemas.habit import CheckinRead, HabitStats
from tests.conftest import StatementLog
from tests.support.habits import Household, Measure, create_habit, days_ago

GENERIC = "/generic"

# The served routes' endpoints, registered again under GENERIC with FastAPI's own handler.
TWINS: list[tuple[str, str, Callable[..., Any], type[Any]]] = [
    ("PUT", "/v1/habits/{habit_id}/checkins/{date}", checkins.put, CheckinRead),
    ("GET", "/v1/me/today", boards.today_board, TodayBoard),
    ("GET", "/v1/families/{family_id}/board", boards.family_board, FamilyBoard),
    ("GET", "/v1/habits/{habit_id}/stats", habits.stats, HabitStats),
]


@pytest.fixture
def twin_app(app: FastAPI) -> FastAPI:
    for method, path, endpoint, model in TWINS:
        app.router.add_api_route(
            GENERIC + path,
            endpoint,
            methods=[method],
            response_model=model,
            route_class_override=APIRoute,
        )
    return app


def test_the_hot_routes_are_served_by_the_lean_pipeline() -> None:
    routers = (boards.router, checkins.router, habits.router)
    served = {
        (method, route.path)
        for router in routers
        for route in router.routes
        if isinstance(route, DriverRoute)
        for method in route.methods or ()
    }
    assert served == {(method, path) for method, path, _, _ in TWINS}


def answer(response: httpx.Response) -> tuple[int, str | None, Any]:
    body = response.json() if response.content else None
    return response.status_code, response.headers.get("content-type"), body


async def both(
    client: httpx.AsyncClient, method: str, path: str, **kwargs: Any
) -> tuple[tuple[int, str | None, Any], tuple[int, str | None, Any]]:
    served = await client.request(method, path, **kwargs)
    generic = await client.request(method, GENERIC + path, **kwargs)
    return answer(served), answer(generic)


def auth(person_headers: dict[str, str], **extra: str) -> dict[str, str]:
    return {**person_headers, **extra}


BAD_AUTHORIZATION = [
    {},
    {"Authorization": "Basic dGVlbjpzZWNyZXQ="},
    {"Authorization": "Bearer"},
    {"Authorization": "Bearer not-a-token"},
    {"Authorization": "bearer eyJhbGciOiJIUzI1NiJ9.e30.c2ln"},
]


class TestSameAnswersAsFastAPI:
    @pytest.mark.parametrize("headers", BAD_AUTHORIZATION)
    @pytest.mark.parametrize(("method", "path"), [(m, p) for m, p, _, _ in TWINS])
    async def test_unauthenticated(
        self, twin_app: FastAPI, client: httpx.AsyncClient, method: str, path: str, headers: Any
    ) -> None:
        concrete = path.format(habit_id=uuid.uuid4(), family_id=uuid.uuid4(), date="2026-01-01")
        served, generic = await both(
            client, method, concrete, headers=headers, json={"status": "done"}
        )
        assert served[0] == 401
        assert served == generic

    @pytest.mark.parametrize(
        ("path_tail", "content", "content_type"),
        [
            ("{habit}/checkins/{day}", b'{"status":"done"}', "application/json"),
            ("{habit}/checkins/{day}", b'{"status":"done"}', "application/json; charset=utf-8"),
            ("{habit}/checkins/{day}", b'{"status":"done"}', "application/merge-patch+json"),
            ("{habit}/checkins/{day}", b'{"status":"done"}', "text/plain"),
            ("{habit}/checkins/{day}", b'{"status":"done"}', None),
            ("{habit}/checkins/{day}", b"", "application/json"),
            ("{habit}/checkins/{day}", b"null", "application/json"),
            ("{habit}/checkins/{day}", b"[]", "application/json"),
            ("{habit}/checkins/{day}", b'{"status": "done",', "application/json"),
            ("{habit}/checkins/{day}", b"\xb6", "application/json"),
            ("{habit}/checkins/{day}", b"\x00\x00\x00\x00\x00", "application/json"),
            ("{habit}/checkins/{day}", b'{"status":"maybe","mood":1}', "application/json"),
            ("{habit}/checkins/{day}", b'{"status":"done","value":-1}', "application/json"),
            ("{habit}/checkins/2026-02-30", b'{"status":"maybe"}', "application/json"),
            ("not-a-uuid/checkins/yesterday", b"{}", "application/json"),
            ("{other}/checkins/{day}", b'{"status":"done"}', "application/json"),
        ],
    )
    async def test_put_checkin(
        self,
        twin_app: FastAPI,
        client: httpx.AsyncClient,
        connection: AsyncConnection,
        household: Household,
        path_tail: str,
        content: bytes,
        content_type: str | None,
    ) -> None:
        habit_id = await create_habit(
            connection, household.family_id, household.teen_member, measure=Measure.numeric(3)
        )
        boolean_habit = await create_habit(connection, household.family_id, household.teen_member)
        path = "/v1/habits/" + path_tail.format(
            habit=boolean_habit, other=habit_id, day=days_ago(1)
        )
        headers = dict(household.teen.headers)
        if content_type is not None:
            headers["Content-Type"] = content_type

        served = answer(await client.put(path, content=content, headers=headers))
        generic = answer(await client.put(GENERIC + path, content=content, headers=headers))

        if served[0] == 201:  # the twin found the row the served route created
            assert generic[0] == 200
            served = answer(await client.put(path, content=content, headers=headers))
        assert served == generic

    @pytest.mark.parametrize(
        "query", ["", "?date=2026-01-01", "?date=", "?date=tomorrow", "?date=1&date=2026-01-02"]
    )
    async def test_boards(
        self, twin_app: FastAPI, client: httpx.AsyncClient, household: Household, query: str
    ) -> None:
        for path in (
            "/v1/me/today",
            f"/v1/families/{household.family_id}/board",
            f"/v1/families/{household.outsider_family_id}/board",
            "/v1/families/family/board",
        ):
            served, generic = await both(
                client, "GET", path + query, headers=household.owner.headers
            )
            assert served == generic, path + query

    async def test_stats(
        self,
        twin_app: FastAPI,
        client: httpx.AsyncClient,
        connection: AsyncConnection,
        household: Household,
    ) -> None:
        habit_id = await create_habit(connection, household.family_id, household.teen_member)
        for path in (f"/v1/habits/{habit_id}/stats", f"/v1/habits/{uuid.uuid4()}/stats"):
            served, generic = await both(client, "GET", path, headers=household.teen.headers)
            assert served == generic, path
        served, generic = await both(
            client, "GET", f"/v1/habits/{habit_id}/stats", headers=household.outsider.headers
        )
        assert served[0] == 404
        assert served == generic


async def test_a_request_that_is_not_valid_costs_no_database_round_trip(
    client: httpx.AsyncClient,
    connection: AsyncConnection,
    household: Household,
    sql_statements: StatementLog,
) -> None:
    habit_id = await create_habit(connection, household.family_id, household.teen_member)
    sql_statements.reset()

    response = await client.put(
        f"/v1/habits/{habit_id}/checkins/2026-02-30",
        json={"status": "done"},
        headers=household.teen.headers,
    )

    assert response.status_code == 422
    assert sql_statements.statements == []


def test_an_endpoint_of_another_shape_is_refused_at_start_up() -> None:
    async def needs_the_orm(session: SessionDep) -> None:
        raise AssertionError("never called")

    with pytest.raises(TypeError, match="DriverRoute"):
        DriverRoute("/v1/somewhere", needs_the_orm, methods=["GET"], response_model=TodayBoard)


@pytest.mark.parametrize(
    "option",
    [
        {"response_model_exclude_none": True},
        {"response_model_exclude_unset": True},
        {"response_model_exclude": {"date"}},
        {"response_model_include": {"date"}},
        {"response_model_by_alias": False},
        {"dependencies": [Depends(get_settings)]},
    ],
)
def test_a_route_option_the_pipeline_would_ignore_is_refused_at_start_up(
    option: dict[str, Any],
) -> None:
    with pytest.raises(TypeError, match="would ignore"):
        DriverRoute(
            "/v1/me/today", boards.today_board, methods=["GET"], response_model=TodayBoard, **option
        )


async def test_dependency_overrides_apply_to_the_hot_routes(
    app: FastAPI, client: httpx.AsyncClient, household: Household
) -> None:
    """A test (or a tool) that swaps a dependency gets its swap on these routes too: the
    token is not looked at when the claims come from an override."""
    owner = await app.state.token_verifier.verify(household.owner.token)
    expected = await client.get("/v1/me/today", headers=household.owner.headers)
    assert expected.status_code == 200

    async def claims_of_the_owner() -> TokenClaims:
        return owner

    app.dependency_overrides[get_claims] = claims_of_the_owner
    overridden = await client.get("/v1/me/today")

    assert overridden.status_code == 200, overridden.text
    assert overridden.json() == expected.json()


async def test_the_transaction_the_hot_routes_declare_is_the_one_they_run(
    app: FastAPI,
    client: httpx.AsyncClient,
    connection: AsyncConnection,
    household: Household,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Served by the lean pipeline (no override), a hot route still opens its transaction
    through `get_transaction`, the dependency it declares."""
    opened: list[str] = []
    real = deps.request_transaction

    def recording(database: Any, actor: Any) -> Any:
        opened.append(str(actor.user_id))
        return real(database, actor)

    monkeypatch.setattr(deps, "request_transaction", recording)
    habit_id = await create_habit(connection, household.family_id, household.teen_member)
    response = await client.put(
        f"/v1/habits/{habit_id}/checkins/{days_ago(1)}",
        json={"status": "done"},
        headers=household.teen.headers,
    )
    assert response.status_code == 201
    assert opened == [str(household.teen.user_id)]
