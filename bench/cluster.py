"""The bench's own embedded Postgres cluster (never the developer's `.loopin/`), its
databases (one per scale), and the JWT secret the seeded tokens are signed with."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

import asyncpg

from app.core.config import DatabaseUrl
from app.db.embedded_db import EmbeddedPostgres

BENCH_DIR = Path(__file__).resolve().parent
DATA_DIR = BENCH_DIR / ".data"
DEFAULT_PG_PORT = int(os.environ.get("BENCH_PG_PORT", "54340"))

# Production-like memory for the database (a small Supabase instance has ~1 GB of buffers);
# the embedded default of 128 MB would turn the M scale into a test of the OS page cache.
# Connections: both scales' Loopin and floor pools are open at once (bench/run.py).
SERVER_SETTINGS = {
    "shared_buffers": "1GB",
    "effective_cache_size": "4GB",
    "work_mem": "8MB",
    "max_connections": "300",
}


def bench_cluster(port: int = DEFAULT_PG_PORT) -> EmbeddedPostgres:
    return EmbeddedPostgres(data_dir=DATA_DIR / "pg", port=port)


def database_name(scale: str) -> str:
    return f"bench_{scale.lower()}"


def ids_path(scale: str) -> Path:
    return DATA_DIR / f"ids-{scale.upper()}.json"


# Production requires an https project URL and an issuer (app.core.config): the bench's
# tokens carry this issuer, and no key is ever fetched from the URL (they are HS256).
SUPABASE_URL = "https://bench.loopin.invalid"
JWT_ISSUER = f"{SUPABASE_URL}/auth/v1"


def jwt_secret() -> str:
    """BENCH_JWT_SECRET, else a secret generated once into .data/ (the server gets the same)."""
    explicit = os.environ.get("BENCH_JWT_SECRET")
    if explicit:
        return explicit
    path = DATA_DIR / "jwt-secret"
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


async def start_cluster(server: EmbeddedPostgres) -> None:
    """Start the cluster with SERVER_SETTINGS (restarting once if they are not in force)."""
    server.start()
    connection = await asyncpg.connect(server.admin_url)
    try:
        stale = [
            name
            for name, value in SERVER_SETTINGS.items()
            if await connection.fetchval(f"select current_setting('{name}')") != value
        ]
        for name in stale:
            await connection.execute(f"alter system set {name} = '{SERVER_SETTINGS[name]}'")
    finally:
        await connection.close()
    if stale:
        server.restart()


async def ensure_database(server: EmbeddedPostgres, name: str) -> str:
    """Create the database if missing; return its URL."""
    connection = await asyncpg.connect(server.admin_url)
    try:
        if not await connection.fetchval("select 1 from pg_database where datname = $1", name):
            await connection.execute(f'create database "{name}"')
    finally:
        await connection.close()
    return f"postgresql://postgres@127.0.0.1:{server.port}/{name}"


async def recreate_database(server: EmbeddedPostgres, name: str) -> str:
    """Drop and create the database: a clean schema, built again by the migrations."""
    connection = await asyncpg.connect(server.admin_url)
    try:
        await connection.execute(f'drop database if exists "{name}" with (force)')
    finally:
        await connection.close()
    return await ensure_database(server, name)


async def database_directory(url: str) -> Path | None:
    """Where the database's files are, when they are on this machine and we may ask."""
    connection = await asyncpg.connect(DatabaseUrl(url).libpq_url)
    try:
        data_directory = await connection.fetchval("select current_setting('data_directory')")
        oid = await connection.fetchval(
            "select oid from pg_database where datname = current_database()"
        )
    except asyncpg.InsufficientPrivilegeError:
        return None
    finally:
        await connection.close()
    directory = Path(data_directory) / "base" / str(oid)
    return directory if directory.is_dir() else None


def warm_os_cache(directory: Path) -> int:
    """Read the database's files once, so the OS holds them in its page cache; the bytes read.

    A database in production serves its working set from memory; a freshly seeded or
    restarted bench cluster would serve M (≈5 GB) from disk for much of the run instead, a
    cold start that showed as 0.4 to 0.6 s p99 tails at M for Loopin and the floor alike. The
    files are ~8 s of sequential reading here; Postgres' own buffers (1 GB) fill by use."""
    read = 0
    for path in directory.iterdir():
        with contextlib.suppress(OSError), path.open("rb", buffering=0) as file:
            while chunk := file.read(8 << 20):
                read += len(chunk)
    return read
