"""The request transaction (app.db.transaction) on the app's own pool, committing for real:
hand-written SQL and the ORM session of a request share one connection and one transaction,
which only the owner commits or rolls back."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from app.db.database import Database
from app.db.transaction import request_transaction
from app.domain.actor import Actor
from tests.conftest import make_settings

pytestmark = pytest.mark.asyncio

ACTOR = Actor(user_id=uuid.uuid4(), email=None, claims_json='{"sub": "x"}')
PROBE = "loopin.test_probe"


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """One pooled connection, so every transaction below runs on the same one."""
    settings = make_settings(database_url, database_pool_size=1, database_max_overflow=0)
    url = settings.runtime_url
    assert url is not None
    database = Database(settings, url)
    yield database
    await database.dispose()


async def probe(database: Database) -> str | None:
    """The connection-level setting that `set_probe` changes (kept only if committed)."""
    async with request_transaction(database, ACTOR) as transaction:
        value: str | None = await transaction.sql.fetchval(
            "select current_setting($1, true)", PROBE
        )
        return value


async def test_the_session_runs_in_the_transaction_of_the_hand_written_sql(
    database: Database,
) -> None:
    async with request_transaction(database, ACTOR) as transaction:
        on_driver = await transaction.sql.fetchrow(
            "select pg_backend_pid() as pid, txid_current() as txid, current_user as role"
        )
        result = await transaction.session.execute(
            text("select pg_backend_pid(), txid_current(), current_user")
        )
        assert tuple(result.one()) == tuple(on_driver)
        assert on_driver["role"] == "loopin_api"  # the user's setup applies to both

        # Code that commits its session itself flushes; the transaction goes on.
        await transaction.session.commit()
        assert await transaction.sql.fetchval("select txid_current()") == on_driver["txid"]


async def test_what_the_session_wrote_is_committed_with_the_request(database: Database) -> None:
    async with request_transaction(database, ACTOR) as transaction:
        await transaction.session.execute(
            text("select set_config(:name, 'committed', false)"), {"name": PROBE}
        )
    assert await probe(database) == "committed"


async def test_a_failing_request_rolls_back_the_session_and_the_sql(database: Database) -> None:
    async with request_transaction(database, ACTOR) as transaction:
        await transaction.sql.execute(f"select set_config('{PROBE}', 'before', false)")

    async def failing_request() -> None:
        async with request_transaction(database, ACTOR) as transaction:
            await transaction.session.execute(
                text("select set_config(:name, 'by the session', false)"), {"name": PROBE}
            )
            await transaction.session.commit()  # not the request's commit
            raise RuntimeError("handler failed")

    with pytest.raises(RuntimeError, match="handler failed"):
        await failing_request()

    assert await probe(database) == "before"
    assert database.engine.pool.checkedout() == 0


async def test_a_session_savepoint_nests_inside_the_request_transaction(
    database: Database,
) -> None:
    async with request_transaction(database, ACTOR) as transaction:
        await transaction.sql.execute(f"select set_config('{PROBE}', 'kept', false)")
        session = transaction.session

        async def failing_savepoint() -> None:
            async with session.begin_nested():
                await session.execute(
                    text("select set_config(:name, 'undone', false)"), {"name": PROBE}
                )
                raise RuntimeError("savepoint rolled back")

        with pytest.raises(RuntimeError, match="savepoint"):
            await failing_savepoint()
        assert await transaction.sql.fetchval("select current_setting($1)", PROBE) == "kept"
    assert await probe(database) == "kept"
