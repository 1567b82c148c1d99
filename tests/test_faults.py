"""Faults lose nothing (issue 5, item 8).

A dedicated Postgres (never the session's shared one) is crashed or restarted, and in the
PgBouncer lane the pooler too, in the middle of a stream of concurrent check-in writes: every
other one a PUT (a hot path, on the driver: `app.db.sql`), the rest one-item batches
through `POST /v1/sync/checkins` (the ORM session), so both ways to the database go through
the fault. Every write is a distinct (habit, date) with its own value, so afterwards each
answer can be held against the database:
- every 2xx is in the database with the value it wrote (a lost 2xx is lost user data);
- every failure is a clean 503 problem with a documented code, never a 500, never a request
  hanging past the client's bound;
- the same app instance, never restarted, answers 2xx again within 5 s of the database's
  (or pooler's) return.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import asyncpg
import httpx
import psutil
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from app.core.config import DatabaseUrl
from app.db import deadlines
from app.db.embedded_db import EmbeddedPostgres
from app.db.migrations import upgrade_to_head
from app.main import create_app
from tests.conftest import make_settings
from tests.support.builders import Person, create_owned_family
from tests.support.databases import embedded_test_server
from tests.support.habits import Measure, create_habit, local_today, member_id_of
from tests.support.pgbouncer import PgBouncer, find_pgbouncer, pgbouncer_process

REQUEST_BOUND = 10.0  # the client's patience: an answer later than this is a hang
RECOVERY_BOUND = 5.0  # from the database's return to the first 2xx
WORKERS = 6
HABITS = 40  # x 30 dates: distinct (habit, date) pairs enough for one stream
WARMUP_SUCCESSES = 20  # 2xx before the fault, so the pool holds live connections
RECOVERED_SUCCESSES = 20  # 2xx after the return, then the stream ends
STREAM_DEADLINE = 25.0
# The 503 codes the API documents for "retry shortly".
RETRYABLE_CODES = {"database_unavailable", "database_busy"}


# --- the dedicated database and the app on it -------------------------------------------------


@pytest.fixture(scope="module")
def fault_server() -> Iterator[EmbeddedPostgres]:
    """A Postgres of this module's own: the tests crash it."""
    with embedded_test_server() as server:
        upgrade_to_head(DatabaseUrl(server.url))
        yield server


@pytest.fixture
def pgbouncer_binary() -> str:
    binary = find_pgbouncer()
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("pgbouncer is not installed, and CI must run the PgBouncer lane")
        pytest.skip("pgbouncer not installed (apt-get install pgbouncer); CI runs this lane")
    return binary


@pytest.fixture
def bouncer(fault_server: EmbeddedPostgres, pgbouncer_binary: str) -> Iterator[PgBouncer]:
    with pgbouncer_process(fault_server.url, pgbouncer_binary) as bouncer:
        yield bouncer


@dataclass
class Household:
    person: Person
    habit_ids: list[uuid.UUID]


async def build_household(database_url: str) -> Household:
    """A UTC family whose owner has HABITS numeric daily habits started 30 days ago."""
    engine = create_async_engine(DatabaseUrl(database_url).sqlalchemy_url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            person, family_id = await create_owned_family(connection, "parent")
            member_id = await member_id_of(connection, family_id, person.user_id)
            habit_ids = [
                await create_habit(
                    connection,
                    family_id,
                    member_id,
                    name=f"Habit {n}",
                    measure=Measure.numeric(10, "min"),
                )
                for n in range(HABITS)
            ]
    finally:
        await engine.dispose()
    return Household(person, habit_ids)


async def stored_values(
    database_url: str, habit_ids: list[uuid.UUID]
) -> dict[tuple[uuid.UUID, date], Decimal]:
    engine = create_async_engine(DatabaseUrl(database_url).sqlalchemy_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text("select habit_id, date, value from checkins where habit_id = any(:ids)"),
                {"ids": habit_ids},
            )
            return {(row.habit_id, row.date): row.value for row in rows}
    finally:
        await engine.dispose()


@asynccontextmanager
async def running_app(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan on `database_url`, with short timeouts so nothing waits long
    on a dead database. The same instance lives through the fault: it is never restarted."""
    settings = make_settings(
        database_url,
        database_pool_size=5,
        database_max_overflow=5,
        database_connect_timeout=1,
        database_pool_timeout=2,
        statement_timeout_ms=3000,
        lock_timeout_ms=1000,
        health_timeout_seconds=1,
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        yield client


# --- the stream of check-ins and the fault in its middle ----------------------------------------


@dataclass
class Outcome:
    """One PUT and how it was answered; `status` None: no answer within REQUEST_BOUND."""

    habit_id: uuid.UUID
    day: date
    value: int
    started: float
    finished: float = 0.0
    status: int | None = None
    content_type: str = ""
    code: str | None = None
    body: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def through_orm(self) -> bool:
        """Every other write goes through the ORM session instead of the hot path."""
        return self.value % 2 == 0


@dataclass
class Fault:
    """`down()` takes the service away (returns once it is gone), `up()` brings it back;
    the service is back when a `select 1` through `probe_url` succeeds."""

    down: Callable[[], Awaitable[None]]
    up: Callable[[], Awaitable[None]]
    probe_url: str


@dataclass
class Stream:
    outcomes: list[Outcome] = field(default_factory=list)
    fault_at: float = 0.0
    back_at: float = 0.0
    answered: asyncio.Event = field(default_factory=asyncio.Event)

    def successes_after(self, moment: float) -> list[Outcome]:
        return [o for o in self.outcomes if o.ok and o.finished > moment]

    async def until(self, condition: Callable[[], bool], deadline: float) -> None:
        """Wait, answer by answer, until `condition()` holds or the deadline passes."""
        while not condition():
            self.answered.clear()
            try:
                await asyncio.wait_for(self.answered.wait(), deadline - time.monotonic())
            except TimeoutError:
                return


async def first_answer(probe_url: str) -> float:
    """Poll until the database answers through `probe_url`; the moment it did."""
    url = DatabaseUrl(probe_url)
    while True:
        try:
            connection = await asyncpg.connect(url.libpq_url, timeout=1, statement_cache_size=0)
            try:
                await connection.fetchval("select 1")
            finally:
                await connection.close()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            await asyncio.sleep(0.02)
        else:
            return time.monotonic()


def write(client: httpx.AsyncClient, outcome: Outcome, person: Person) -> Awaitable[httpx.Response]:
    if outcome.through_orm:
        item = {
            "habit_id": str(outcome.habit_id),
            "date": str(outcome.day),
            "status": "done",
            "value": outcome.value,
        }
        return client.post("/v1/sync/checkins", json={"items": [item]}, headers=person.headers)
    return client.put(
        f"/v1/habits/{outcome.habit_id}/checkins/{outcome.day}",
        json={"status": "done", "value": outcome.value},
        headers=person.headers,
    )


async def stream_through_fault(
    client: httpx.AsyncClient, household: Household, fault: Fault
) -> Stream:
    """WORKERS concurrent clients PUT distinct check-ins; after WARMUP_SUCCESSES the fault
    strikes; the stream goes on until RECOVERED_SUCCESSES answered 2xx after the return."""
    today = local_today()
    pairs = iter(
        [
            (habit_id, today - timedelta(days=days))
            for days in range(30)
            for habit_id in household.habit_ids
        ]
    )
    values = itertools.count(1)
    stream = Stream()
    stop = asyncio.Event()

    async def worker() -> None:
        while not stop.is_set():
            pair = next(pairs, None)
            if pair is None:
                return
            outcome = Outcome(*pair, value=next(values), started=time.monotonic())
            stream.outcomes.append(outcome)
            try:
                response = await asyncio.wait_for(
                    write(client, outcome, household.person), REQUEST_BOUND
                )
            except TimeoutError:
                outcome.finished = time.monotonic()
                stream.answered.set()
                continue
            outcome.finished = time.monotonic()
            stream.answered.set()
            outcome.status = response.status_code
            if outcome.through_orm and response.status_code == 200:
                outcome.status = response.json()["results"][0]["status"]
            outcome.content_type = response.headers.get("content-type", "")
            outcome.body = response.text
            if not outcome.ok:
                try:
                    outcome.code = response.json().get("code")
                except ValueError:
                    outcome.code = None
                await asyncio.sleep(0.05)  # a client backs off after a failure

    workers = [asyncio.create_task(worker()) for _ in range(WORKERS)]
    deadline = time.monotonic() + STREAM_DEADLINE
    try:
        await stream.until(lambda: len(stream.successes_after(0)) >= WARMUP_SUCCESSES, deadline)
        stream.fault_at = time.monotonic()
        await fault.down()
        probe = asyncio.create_task(first_answer(fault.probe_url))
        await asyncio.sleep(0.5)  # the outage: requests meet a dead service
        await fault.up()
        stream.back_at = await asyncio.wait_for(probe, 10)
        await stream.until(
            lambda: len(stream.successes_after(stream.back_at)) >= RECOVERED_SUCCESSES,
            min(deadline, stream.back_at + 2 * RECOVERY_BOUND),
        )
    finally:
        stop.set()
        await asyncio.gather(*workers)
    return stream


def restart_postgres(server: EmbeddedPostgres, mode: str) -> Fault:
    """`immediate` is a crash (no shutdown checkpoint, crash recovery at start), `fast` an
    orderly restart (sessions are terminated with an admin-shutdown error)."""

    async def down() -> None:
        await asyncio.to_thread(server.stop, mode)

    async def up() -> None:
        await asyncio.to_thread(server.start)

    return Fault(down, up, probe_url=server.url)


def restart_pgbouncer(bouncer: PgBouncer) -> Fault:
    async def down() -> None:
        await asyncio.to_thread(bouncer.stop)

    async def up() -> None:
        await asyncio.to_thread(bouncer.start)

    return Fault(down, up, probe_url=bouncer.url)


# --- what a user would notice -------------------------------------------------------------------


def describe(outcomes: list[Outcome]) -> str:
    kinds: dict[tuple[int | None, str | None], Outcome] = {}
    for outcome in outcomes:
        kinds.setdefault((outcome.status, outcome.code), outcome)
    return "; ".join(
        f"{status} {code} x{sum(1 for o in outcomes if (o.status, o.code) == (status, code))}: "
        f"{example.body[:300]}"
        for (status, code), example in kinds.items()
    )


async def assert_nothing_lost(
    stream: Stream, household: Household, database_url: str, client: httpx.AsyncClient
) -> None:
    outcomes = stream.outcomes
    hung = [o for o in outcomes if o.status is None]
    assert not hung, f"{len(hung)} requests got no answer within {REQUEST_BOUND} s"
    slowest = max(o.finished - o.started for o in outcomes)
    assert slowest < REQUEST_BOUND

    failures = [o for o in outcomes if not o.ok]
    assert failures, "the fault never reached the stream: nothing was tested"
    unclean = [
        o
        for o in failures
        if o.status != 503
        or o.content_type != "application/problem+json"
        or o.code not in RETRYABLE_CODES
    ]
    assert not unclean, f"failures that are not a clean 503 problem: {describe(unclean)}"

    assert [o for o in outcomes if o.ok and o.finished < stream.fault_at], "no 2xx before"
    recovered = stream.successes_after(stream.back_at)
    assert recovered, f"no 2xx after the return; failures: {describe(failures[-5:])}"
    first = min(o.finished for o in recovered)
    assert first - stream.back_at < RECOVERY_BOUND, (
        f"the API answered 2xx only {first - stream.back_at:.1f} s after the database's return"
    )

    stored = await stored_values(database_url, household.habit_ids)
    answered = [o for o in outcomes if o.ok]
    lost = [o for o in answered if stored.get((o.habit_id, o.day)) != o.value]
    assert not lost, (
        f"{len(lost)} of {len(answered)} check-ins answered 2xx are not in the database "
        f"with their value, e.g. {lost[0]}"
    )
    assert {o.status for o in answered} == {201}  # each pair was new
    sent = {(o.habit_id, o.day) for o in outcomes}
    assert set(stored) <= sent

    ready = await client.get("/health/ready")
    assert ready.status_code == 200, ready.text


# --- the tests ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["immediate", "fast"])
async def test_postgres_restart_mid_stream(fault_server: EmbeddedPostgres, mode: str) -> None:
    household = await build_household(fault_server.url)
    async with running_app(fault_server.url) as client:
        stream = await stream_through_fault(client, household, restart_postgres(fault_server, mode))
        await assert_nothing_lost(stream, household, fault_server.url, client)


@pytest.mark.pgbouncer
async def test_pgbouncer_restart_mid_stream(
    fault_server: EmbeddedPostgres, bouncer: PgBouncer
) -> None:
    household = await build_household(fault_server.url)
    async with running_app(bouncer.url) as client:
        stream = await stream_through_fault(client, household, restart_pgbouncer(bouncer))
        await assert_nothing_lost(stream, household, fault_server.url, client)


@pytest.mark.pgbouncer
async def test_postgres_crash_behind_pgbouncer_mid_stream(
    fault_server: EmbeddedPostgres, bouncer: PgBouncer
) -> None:
    household = await build_household(fault_server.url)
    async with running_app(bouncer.url) as client:
        stream = await stream_through_fault(
            client, household, restart_postgres(fault_server, "immediate")
        )
        await assert_nothing_lost(stream, household, fault_server.url, client)


async def timed_write(
    client: httpx.AsyncClient, outcome: Outcome, person: Person
) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    answer = await write(client, outcome, person)
    return answer, time.monotonic() - started


@contextmanager
def frozen(server: EmbeddedPostgres) -> Iterator[None]:
    """Every Postgres process stopped (SIGSTOP): sockets stay open, nothing answers, no
    server-side timeout can fire; what a hung server or a stuck pooler queue looks like."""
    postmaster = psutil.Process(int((server.pgdata / "postmaster.pid").read_text().split()[0]))
    processes = [postmaster, *postmaster.children()]
    for process in processes:
        process.suspend()
    try:
        yield
    finally:
        for process in processes:
            process.resume()


async def test_a_frozen_database_is_answered_503_at_the_deadline(
    fault_server: EmbeddedPostgres,
) -> None:
    household = await build_household(fault_server.url)
    today = local_today()
    hot, orm, after_hot, after_orm = (
        Outcome(habit_id, today, value=value, started=0.0)
        for value, habit_id in enumerate(household.habit_ids[:4], start=1)
    )
    async with running_app(fault_server.url) as client:
        # Two connections in the pool, so neither frozen request has to open one.
        warm = await asyncio.gather(
            *(
                write(client, Outcome(habit_id, today, value, 0.0), household.person)
                for value, habit_id in ((5, household.habit_ids[5]), (6, household.habit_ids[6]))
            )
        )
        assert [answer.status_code for answer in warm] == [201, 200]

        with frozen(fault_server):
            answers = await asyncio.wait_for(
                asyncio.gather(*(timed_write(client, o, household.person) for o in (hot, orm))),
                REQUEST_BOUND,
            )

        deadline = 3.0 + deadlines.GRACE_SECONDS  # running_app's statement timeout + grace
        # The ORM path may take 2 s more: SQLAlchemy tries a graceful close of a connection
        # whose statement was cancelled before it invalidates it.
        for (answer, waited), allowance in zip(answers, (1.0, 3.0), strict=True):
            assert answer.status_code == 503, answer.text
            assert answer.json()["code"] == "database_unavailable"
            assert answer.headers["retry-after"] == "1"
            assert deadline - 0.5 < waited < deadline + allowance

        # Thawed, the same app writes again (the cancelled requests' connections were
        # discarded, not handed out mid-statement).
        again = await asyncio.gather(
            *(write(client, o, household.person) for o in (after_hot, after_orm))
        )
        assert [a.status_code for a in again] == [201, 200], [a.text for a in again]
    stored = await stored_values(fault_server.url, household.habit_ids)
    assert (hot.habit_id, today) not in stored  # the cancelled writes never reached it
    assert (orm.habit_id, today) not in stored
