"""Where the tests' Postgres comes from: TEST_DATABASE_URL, testcontainers when asked, or the
embedded server in a throw-away folder."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from app.core.embedded_db import EmbeddedPostgres, free_port


@contextmanager
def embedded_test_server() -> Iterator[EmbeddedPostgres]:
    folder = Path(tempfile.mkdtemp(prefix="loopin-test-pg-"))
    server = EmbeddedPostgres(data_dir=folder, port=free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop(mode="immediate")
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def testcontainers_url() -> Iterator[str]:
    from testcontainers.postgres import PostgresContainer

    with PostgresContainer("postgres:16-alpine", driver=None) as container:
        yield container.get_connection_url()


@contextmanager
def test_server_url() -> Iterator[tuple[str, EmbeddedPostgres | None]]:
    """The URL of the database the test session owns, and the embedded server if we run one."""
    explicit = os.environ.get("TEST_DATABASE_URL")
    if explicit:
        yield explicit, None
    elif os.environ.get("LOOPIN_TEST_TESTCONTAINERS") == "1":
        with testcontainers_url() as url:
            yield url, None
    else:
        with embedded_test_server() as server:
            yield server.url, server
