"""Run and inspect Alembic migrations from code (the CLI, the tests, `doctor`)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from app.core.config import REPO_ROOT, DatabaseUrl

ALEMBIC_INI = REPO_ROOT / "alembic.ini"


def alembic_config(url: DatabaseUrl) -> Config:
    config = Config(str(ALEMBIC_INI))
    config.attributes["database_url"] = url.libpq_url
    config.attributes["configure_logger"] = False
    return config


def upgrade_to_head(url: DatabaseUrl) -> None:
    command.upgrade(alembic_config(url), "head")


def head_revision(url: DatabaseUrl) -> str | None:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


async def current_revision(url: DatabaseUrl) -> str | None:
    engine = create_async_engine(url.sqlalchemy_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            exists = await connection.scalar(text("select to_regclass('public.alembic_version')"))
            if exists is None:
                return None
            revision: str | None = await connection.scalar(
                text("select version_num from alembic_version")
            )
            return revision
    finally:
        await engine.dispose()
