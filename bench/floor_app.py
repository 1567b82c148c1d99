"""The floor: the least any app on this stack can do to answer the benchmark's requests.

Starlette + a raw asyncpg pool, no auth (the token's payload is read, never verified), no ORM,
no validation, no response model. Each request runs, in one transaction, exactly the SQL that
Loopin runs for it: the replay plan recorded by bench/capture_sql.py from Loopin itself (the
RLS `set_config` included), with the parameters taken from the request and from the earlier
statements' rows as the plan says. It answers with the row counts.

Served like Loopin (uvicorn, same worker count), configured by the environment:
FLOOR_DATABASE_URL (`?pgbouncer=true` turns prepared-statement caching off, as in Loopin),
FLOOR_PLAN (the plan's JSON file), FLOOR_POOL_SIZE / FLOOR_POOL_MAX (Loopin's 20 + 10).

    uvicorn bench.floor_app:create_app --factory --workers 2 --no-access-log
"""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.core.config import DatabaseUrl

Plan = dict[str, list[dict[str, Any]]]


class PlanMismatch(Exception):
    """The data has another shape than when the plan was recorded (an IN list's length)."""


def resolve(
    recipes: list[dict[str, Any]], inputs: dict[str, Any], results: list[list[asyncpg.Record]]
) -> list[Any]:
    """The parameters of one statement, as bench/capture_sql.py traced them."""
    values: list[Any] = []
    for recipe in recipes:
        if "input" in recipe:
            value = inputs.get(recipe["input"])
            values.append([value] if "as_array" in recipe else value)
        elif "column" in recipe:
            statement, column = recipe["column"]
            rows = results[statement]
            if "all_rows" in recipe:
                values.append([row[column] for row in rows])
            elif "expand" not in recipe:
                values.append(rows[recipe["row"]][column])
            elif len(rows) == recipe["expand"]:
                values.extend(row[column] for row in rows)
            else:
                raise PlanMismatch(f"{len(rows)} rows where the plan has {recipe['expand']}")
        elif "today" in recipe:
            values.append(datetime.now(UTC).date() + timedelta(days=recipe["today"]))
        elif "new_uuid" in recipe:
            values.append(uuid.uuid4())
        else:
            values.append(recipe["const"])
    return values


def token_inputs(request: Request) -> dict[str, Any]:
    """The caller, from the bearer token's payload: read, not verified."""
    payload = request.headers["authorization"].split(".")[1]
    claims = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    return {"user": uuid.UUID(orjson.loads(claims)["sub"]), "claims": claims.decode()}


async def run_plan(request: Request, endpoint: str, inputs: dict[str, Any]) -> Response:
    plan: Plan = request.app.state.plan
    pool: asyncpg.Pool = request.app.state.pool
    results: list[list[asyncpg.Record]] = []
    async with pool.acquire() as connection, connection.transaction():
        for statement in plan[endpoint]:
            parameters = resolve(statement["params"], inputs, results)
            results.append(await connection.fetch(statement["sql"], *parameters))
    return Response(
        orjson.dumps({"rows": [len(rows) for rows in results]}), 200, None, "application/json"
    )


async def today(request: Request) -> Response:
    return await run_plan(request, "today", token_inputs(request))


async def checkin(request: Request) -> Response:
    body = orjson.loads(await request.body())
    inputs = {
        **token_inputs(request),
        "habit": uuid.UUID(request.path_params["habit"]),
        "date": date.fromisoformat(request.path_params["day"]),
        "body.status": body.get("status"),
        "body.value": body.get("value"),
    }
    return await run_plan(request, "checkin", inputs)


async def board(request: Request) -> Response:
    inputs = {**token_inputs(request), "family": uuid.UUID(request.path_params["family"])}
    return await run_plan(request, "board", inputs)


async def stats(request: Request) -> Response:
    inputs = {**token_inputs(request), "habit": uuid.UUID(request.path_params["habit"])}
    return await run_plan(request, "stats", inputs)


async def health(_: Request) -> Response:
    return Response(b'{"status":"ok"}', 200, None, "application/json")


async def _no_reset(_: asyncpg.Connection) -> None:
    """Every request's transaction has ended (and its SET LOCALs with it) before release:
    nothing to reset, so no extra round trip (asyncpg's default reset costs one)."""


def create_app() -> Starlette:
    url = DatabaseUrl(os.environ["FLOOR_DATABASE_URL"])
    plan: Plan = orjson.loads(Path(os.environ["FLOOR_PLAN"]).read_bytes())
    pooled = url.looks_pooled

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.plan = plan
        app.state.pool = await asyncpg.create_pool(
            url.libpq_url,
            min_size=int(os.environ.get("FLOOR_POOL_SIZE", "20")),
            max_size=int(os.environ.get("FLOOR_POOL_MAX", "30")),
            reset=_no_reset,
            # Behind PgBouncer in transaction mode, as Loopin: no statement cache, no
            # startup parameters.
            statement_cache_size=0 if pooled else 100,
            server_settings=None if pooled else {"application_name": "loopin-floor"},
        )
        try:
            yield
        finally:
            await app.state.pool.close()

    return Starlette(
        routes=[
            Route("/health", health),
            Route("/v1/me/today", today),
            Route("/v1/habits/{habit}/checkins/{day}", checkin, methods=["PUT"]),
            Route("/v1/families/{family}/board", board),
            Route("/v1/habits/{habit}/stats", stats),
        ],
        lifespan=lifespan,
    )
