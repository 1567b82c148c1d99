"""`loopin serve` in production writes one JSON object per line from start to stop: its own
lines, uvicorn's, the app's and the access lines."""

from __future__ import annotations

import json
import signal
import time

import httpx

from app.db.embedded_db import free_port
from tests.support.builders import TEST_JWT_SECRET
from tests.support.processes import clean_env, start_serve


def test_production_log_is_json_lines_with_the_access_line(database_url: str) -> None:
    port = free_port()
    env = clean_env()
    env.update(
        DATABASE_URL=database_url,
        SUPABASE_JWT_SECRET=TEST_JWT_SECRET,
        ENVIRONMENT="production",
        # What production requires (app.core.config); no key is fetched for these requests.
        SUPABASE_URL="https://loopin-test.supabase.co",
        JWT_ISSUER="https://loopin-test.supabase.co/auth/v1",
    )
    process = start_serve(port, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, "loopin serve exited"
            try:
                response = httpx.get(
                    f"http://127.0.0.1:{port}/health", headers={"X-Request-ID": "lb-1234"}
                )
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        missing = httpx.get(f"http://127.0.0.1:{port}/v1/families/not-a-uuid")
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)

    assert response.headers["X-Request-ID"] == "lb-1234"
    lines = [json.loads(line) for line in output.splitlines()]  # every line is one object
    loggers = {line["logger"] for line in lines}
    assert {"app.cli", "uvicorn.error", "app", "app.access"} <= loggers
    assert "uvicorn.access" not in loggers
    access = [line for line in lines if line["logger"] == "app.access"]
    assert [(a["route"], a["status"]) for a in access] == [
        ("/health", 200),
        ("/v1/families/{family_id}", 401),
    ]
    assert access[0]["request_id"] == "lb-1234"
    assert access[1]["request_id"] == missing.headers["X-Request-ID"]
    assert process.returncode == 0
