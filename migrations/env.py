"""Alembic environment: async, on DIRECT_URL (falls back to DATABASE_URL)."""

from __future__ import annotations

import asyncio
from logging.config import fileConfig
from typing import Any

from alembic import context
from sqlalchemy import event, pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

import app.models  # noqa: F401  (registers every table on the metadata)
from app.core.config import DatabaseUrl, SettingsError, load_settings
from app.models.base import Base

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def _migration_url() -> DatabaseUrl:
    # Tests and the CLI hand the URL in directly; operators set DIRECT_URL.
    explicit = config.attributes.get("database_url")
    if explicit:
        return DatabaseUrl(explicit)
    url = load_settings().migration_url
    if url is None:
        raise SettingsError("setting DIRECT_URL: not set (nor DATABASE_URL) - nothing to migrate")
    return url


def _include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    # Only `public` is ours; the Supabase slice in `auth` is created by hand-written SQL.
    return not (type_ == "table" and getattr(obj, "schema", None) not in (None, "public"))


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        compare_server_default=True,
        include_object=_include_object,
        transaction_per_migration=True,
    )


def run_migrations_offline() -> None:
    context.configure(
        url=_migration_url().sqlalchemy_url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_sync(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


def _session_lock_timeout(milliseconds: int) -> Any:
    def set_lock_timeout(dbapi_connection: Any, _record: Any) -> None:
        # SQLAlchemy's recipe for a session setting on connect: outside any transaction.
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        cursor = dbapi_connection.cursor()
        cursor.execute(f"set lock_timeout = {milliseconds}")
        cursor.close()
        dbapi_connection.autocommit = autocommit

    return set_lock_timeout


async def run_migrations_online() -> None:
    url = _migration_url()
    # DIRECT_URL should bypass the pooler, but if only a pooled URL exists keep asyncpg from
    # caching statements the pooler cannot keep.
    connect_args: dict[str, Any] = {"statement_cache_size": 0} if url.looks_pooled else {}
    engine = create_async_engine(
        url.sqlalchemy_url, poolclass=pool.NullPool, connect_args=connect_args
    )
    lock_timeout_ms = config.attributes.get("lock_timeout_ms")
    if lock_timeout_ms is not None:
        # `loopin migrate`: a DDL statement waiting for a table's lock behind live traffic
        # makes every later query on that table queue behind it; give up after this long
        # instead (the migration fails, its transaction rolls back, the command says so).
        event.listen(engine.sync_engine, "connect", _session_lock_timeout(int(lock_timeout_ms)))
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_sync)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    existing = config.attributes.get("connection")
    if existing is not None:
        _run_sync(existing)
    else:
        asyncio.run(run_migrations_online())
