"""The `loopin` command as an operator meets it: one clear line, never a traceback wall."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx

from app.core.embedded_db import free_port


def run_loopin(
    *args: str, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class TestDoctor:
    def test_reports_unreachable_database_with_a_fix(self) -> None:
        result = run_loopin(
            "doctor", env={"DATABASE_URL": f"postgresql://u:pw@127.0.0.1:{free_port()}/db"}
        )
        assert result.returncode == 1
        assert "[FAIL] database reachable" in result.stdout
        assert "refused the connection" in result.stdout
        assert "fix:" in result.stdout
        assert "Traceback" not in result.stdout + result.stderr

    def test_healthy_setup_passes(self, database_url: str) -> None:
        result = run_loopin(
            "doctor",
            env={"DATABASE_URL": database_url, "SUPABASE_JWT_SECRET": "x" * 40},
        )
        assert result.returncode == 0, result.stdout
        assert "[ok] migrations" in result.stdout
        assert "[ok] pooler mode: session" in result.stdout

    def test_bad_setting_is_one_line(self) -> None:
        result = run_loopin("doctor", env={"DATABASE_URL": "mysql://x/y"})
        assert result.returncode == 1
        assert "setting DATABASE_URL: must start with postgresql://" in result.stdout


class TestServeWithBadDatabase:
    def test_one_line_at_start_and_503_from_ready(self) -> None:
        port = free_port()
        bad_url = f"postgresql://u:pw@127.0.0.1:{free_port()}/db"
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
            env={**os.environ, "DATABASE_URL": bad_url, "SUPABASE_JWT_SECRET": "x" * 40},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            response = _wait_for(f"http://127.0.0.1:{port}/health/ready")
            assert response.status_code == 503
            assert response.json()["code"] == "database_unavailable"
        finally:
            process.terminate()
            output, _ = process.communicate(timeout=20)
        assert "refused the connection" in output
        assert "Traceback" not in output


def _wait_for(url: str) -> httpx.Response:
    deadline = time.monotonic() + 30
    while True:
        try:
            return httpx.get(url, timeout=5)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
