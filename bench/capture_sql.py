"""Record the SQL Loopin runs for each benchmarked request, and turn it into a replay plan
for the floor app.

Loopin runs in-process (httpx over ASGI) against the seeded database with a
`before_cursor_execute` listener (and `begin`/`commit` listeners) on its engine, so we get
every statement's exact text and parameters, in order. The statements are then replayed once
in a rolled-back transaction to see their result rows, and every parameter is traced to where
its value came from:

- `{"input": name}`: the request (`user` = the token's sub, `claims` = the token's claims as
  JSON, `habit` / `family` / `date` from the path, `body.status` / `body.value`);
- `{"column": [statement, column], "row": r}`: a value an earlier statement returned (an
  array too), `{"column": [...], "all_rows": true}` for an `= any($n)` array of that column
  of all the rows, or `{"column": [...], "expand": n}` for an `IN (...)` list of them;
- `{"today": days}`: a date relative to today (Loopin's look-back windows);
- `{"new_uuid": true}`: an id the ORM generated client-side;
- `{"const": value}`: everything else (timeouts, literals).

bench/floor_app.py executes the plan. So the floor always sends exactly Loopin's current SQL,
even while Loopin's queries change; `python -m bench.capture_sql` prints the plan.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import re
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy import event

from app.core.config import DatabaseUrl, Settings
from app.db.sql import PooledDriverConnections
from app.main import create_app
from bench.cluster import (
    JWT_ISSUER,
    SUPABASE_URL,
    bench_cluster,
    database_name,
    ids_path,
    jwt_secret,
)
from bench.workload import BenchRequest, capture_requests

Recipe = dict[str, Any]
# One endpoint: its statements in order, each `{"sql": ..., "params": [recipe, ...]}`.
Plan = dict[str, list[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class Statement:
    sql: str
    parameters: tuple[Any, ...]


def normalize(sql: str) -> str:
    return re.sub(r"\s+", " ", sql).strip()


def token_claims(token: str) -> dict[str, Any]:
    """The token's payload, unverified (the floor does no auth)."""
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def request_inputs(request: BenchRequest) -> dict[str, Any]:
    """What a request carries, by the names the recipes use."""
    claims = token_claims(request.headers["Authorization"].removeprefix("Bearer "))
    inputs: dict[str, Any] = {"user": uuid.UUID(claims["sub"])}
    parts = request.path.strip("/").split("/")
    for kind, value in zip(parts[1::2], parts[2::2], strict=False):
        if kind == "habits":
            inputs["habit"] = uuid.UUID(value)
        elif kind == "families":
            inputs["family"] = uuid.UUID(value)
        elif kind == "checkins":
            inputs["date"] = date.fromisoformat(value)
    for key, value in json.loads(request.body or b"{}").items():
        inputs[f"body.{key}"] = value
    return inputs


async def record(
    database_url: str, requests: dict[str, BenchRequest]
) -> dict[str, list[Statement]]:
    """Send each request to Loopin once; the statements it ran, with BEGIN/COMMIT markers."""
    settings = Settings(
        database_url=database_url,
        supabase_jwt_secret=jwt_secret(),
        supabase_url=SUPABASE_URL,
        jwt_issuer=JWT_ISSUER,
        log_level="WARNING",
        environment="production",
        _env_file=None,
    )
    app = create_app(settings)
    captured: dict[str, list[Statement]] = {}
    recording: list[Statement] = []
    async with app.router.lifespan_context(app):
        database = app.state.database
        engine = database.engine.sync_engine

        def on_driver_statement(query: Any) -> None:
            # Statements sent on the driver itself: every request's BEGIN, user setup and
            # COMMIT (app.db.transaction), and the hot paths' SQL.
            sql = query.query.strip().rstrip(";").strip()
            if sql.upper() in ("BEGIN", "COMMIT"):
                sql = sql.upper()
            recording.append(Statement(sql, tuple(query.args or ())))

        database.driver_connections = PooledDriverConnections(
            database.engine, query_logger=on_driver_statement
        )

        # The ORM's statements. (Its BEGIN and COMMIT send nothing: the request transaction
        # is the driver's, recorded above.)
        @event.listens_for(engine, "before_cursor_execute")
        def on_execute(_c: Any, _cur: Any, sql: str, params: Any, _ctx: Any, _many: bool) -> None:
            recording.append(Statement(sql, tuple(params or ())))

        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://loopin") as client:
            for name, request in requests.items():
                # The second time: a connection's first use of a type (an array of uuid) sends
                # asyncpg's type introspection, which is not the request's SQL.
                for _ in range(2):
                    recording.clear()
                    response = await client.request(
                        request.method,
                        request.path,
                        headers=request.headers,
                        content=request.body,
                    )
                    if response.status_code >= 300:
                        raise RuntimeError(f"{name}: {response.status_code} {response.text[:300]}")
                    await asyncio.sleep(0.05)  # asyncpg calls query loggers soon, not at once
                captured[name] = list(recording)
    return captured


async def result_rows(
    database_url: str, statements: list[Statement]
) -> list[list[tuple[Any, ...]]]:
    """Each statement's rows, from a replay in a transaction that is rolled back."""
    connection = await asyncpg.connect(DatabaseUrl(database_url).libpq_url)
    try:
        transaction = connection.transaction()
        await transaction.start()
        try:
            return [
                [tuple(row) for row in await connection.fetch(s.sql, *s.parameters)]
                for s in statements
            ]
        finally:
            await transaction.rollback()
    finally:
        await connection.close()


def trace(value: Any, inputs: dict[str, Any], earlier: list[list[tuple[Any, ...]]]) -> Recipe:
    """Where one parameter's value came from (see the module docstring)."""
    if isinstance(value, str) and value.startswith("{"):
        claims = json.loads(value)
        if isinstance(claims, dict) and claims.get("sub") == str(inputs["user"]):
            return {"input": "claims"}
    for name, candidate in inputs.items():
        if value is not None and type(value) is not bool and candidate == value:
            return {"input": name}
    if isinstance(value, list):
        return _traced_array(value, inputs, earlier)
    if isinstance(value, uuid.UUID | date):
        for number, rows in enumerate(earlier):
            if isinstance(value, date) and len(rows) != 1:
                continue  # a date found among many rows is a coincidence, not a lookup
            for row_number, row in enumerate(rows):
                if value in row:
                    return {"column": [number, row.index(value)], "row": row_number}
    if isinstance(value, date):
        return {"today": (value - datetime.now(UTC).date()).days}
    if isinstance(value, uuid.UUID):
        return {"new_uuid": True}
    return {"const": str(value) if isinstance(value, Decimal) else value}


def _traced_array(
    value: list[Any], inputs: dict[str, Any], earlier: list[list[tuple[Any, ...]]]
) -> Recipe:
    """An `= any($n)` array: of one input, an array an earlier row returned, or one column of
    all the rows of an earlier statement."""
    for name, candidate in inputs.items():
        if value == [candidate]:
            return {"input": name, "as_array": True}
    for number, rows in enumerate(earlier):
        for row_number, row in enumerate(rows):
            if value in row:
                return {"column": [number, row.index(value)], "row": row_number}
    for number, rows in enumerate(earlier):
        if rows and len(rows) == len(value):
            for column in range(len(rows[0])):
                if [row[column] for row in rows] == value:
                    return {"column": [number, column], "all_rows": True}
    return {"const": [str(item) for item in value]}


def column_run(
    parameters: tuple[Any, ...], start: int, earlier: list[list[tuple[Any, ...]]]
) -> Recipe | None:
    """An `IN (...)` list: parameters from `start` on that are, in order, one column of all
    the rows of an earlier statement (the longest such column wins)."""
    best: Recipe | None = None
    for number, rows in enumerate(earlier):
        count = len(rows)
        if count < 2 or start + count > len(parameters) or (best and best["expand"] >= count):
            continue
        values = parameters[start : start + count]
        if not all(isinstance(value, uuid.UUID) for value in values):
            continue
        for column in range(len(rows[0])):
            if all(row[column] == value for row, value in zip(rows, values, strict=True)):
                best = {"column": [number, column], "expand": count}
                break
    return best


def replay_plan(
    statements: list[Statement], rows: list[list[tuple[Any, ...]]], inputs: dict[str, Any]
) -> list[dict[str, Any]]:
    """`statements` without BEGIN/COMMIT (the floor opens its own transaction)."""
    plan = []
    for number, statement in enumerate(statements):
        earlier, parameters = rows[:number], statement.parameters
        recipes: list[Recipe] = []
        index = 0
        while index < len(parameters):
            run = column_run(parameters, index, earlier)
            if run is not None:
                recipes.append(run)
                index += run["expand"]
            else:
                recipes.append(trace(parameters[index], inputs, earlier))
                index += 1
        plan.append({"sql": statement.sql, "params": recipes})
    return plan


async def capture(
    database_url: str, requests: dict[str, BenchRequest]
) -> tuple[dict[str, list[Statement]], Plan]:
    """Loopin's statements per endpoint (BEGIN/COMMIT included), and the floor's plan."""
    captured = await record(database_url, requests)
    plan: Plan = {}
    for name, statements in captured.items():
        if [s.sql for s in statements[:1] + statements[-1:]] != ["BEGIN", "COMMIT"]:
            raise RuntimeError(f"{name}: expected one transaction, got {statements}")
        sql = [s for s in statements if s.sql not in ("BEGIN", "COMMIT")]
        rows = await result_rows(database_url, sql)
        plan[name] = replay_plan(sql, rows, request_inputs(requests[name]))
    return captured, plan


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.capture_sql", description=__doc__)
    parser.add_argument("--scale", default="S")
    parser.add_argument("--database-url", help="default: the bench cluster's bench_<scale>")
    parser.add_argument("--out", type=Path, help="write the floor's replay plan here (JSON)")
    args = parser.parse_args(argv)
    url = args.database_url
    if url is None:
        server = bench_cluster()
        if not server.is_running():
            raise SystemExit("the bench cluster is not running (python -m bench.run starts it)")
        url = f"postgresql://postgres@127.0.0.1:{server.port}/{database_name(args.scale)}"
    requests = capture_requests(json.loads(ids_path(args.scale).read_text()))
    _, plan = asyncio.run(capture(url, requests))
    for name, statements in plan.items():
        print(f"== {name}: {requests[name].method} {requests[name].path}")
        for number, statement in enumerate(statements, 1):
            print(f"  {number}. {normalize(statement['sql'])}\n     params: {statement['params']}")
    if args.out:
        args.out.write_text(json.dumps(plan, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
