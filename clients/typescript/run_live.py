"""Runs the TypeScript example client against a live `loopin serve`, as the mobile app would
meet it: its own embedded Postgres (fresh LOOPIN_DATA_DIR, free EMBEDDED_PORT), a free API
port, a token minted by `loopin token`. First the app's flows; then the database is stopped
and the client must get a 503 problem with Retry-After. `make client-live` runs it after
`make client` has built `dist/`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from app.core.config import Settings
from app.db.embedded_db import embedded_from_env, free_port

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
READY_WITHIN_SECONDS = 180


def _wait_until_ready(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_WITHIN_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"loopin serve exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/health/ready", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise SystemExit(f"loopin serve was not ready within {READY_WITHIN_SECONDS} s")


def _node(mode: str, env: dict[str, str]) -> None:
    subprocess.run(["node", str(HERE / "dist" / "live.js"), mode], env=env, check=True)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="loopin-ts-live-") as work:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DATABASE_", "DIRECT_URL", "SUPABASE_", "JWT_"))
        }
        env.update(
            LOOPIN_DATA_DIR=str(Path(work) / "data"),
            EMBEDDED_PORT=str(free_port()),
            ENVIRONMENT="development",
        )
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log = (Path(work) / "serve.log").open("wb")
        # Run from the temporary folder, so no `.env` of the checkout applies.
        server = subprocess.Popen(
            [str(BIN / "loopin"), "serve", "--port", str(port)],
            cwd=work,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_ready(url, server)
            token = subprocess.run(
                [str(BIN / "loopin"), "token", "--email", "typescript@loopin.test"],
                cwd=work,
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
            client_env = {**env, "LOOPIN_API_URL": url, "LOOPIN_TOKEN": token}
            _node("flows", client_env)
            settings = Settings(_env_file=None, **_embedded_settings(env))
            embedded_from_env(
                settings.loopin_data_dir, settings.embedded_port, settings.embedded_db_shape
            ).stop()
            _node("outage", client_env)
        except BaseException:
            log.flush()
            sys.stderr.write((Path(work) / "serve.log").read_text(errors="replace")[-4000:])
            raise
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            log.close()
    print("typescript client: live flows passed")
    return 0


def _embedded_settings(env: dict[str, str]) -> dict[str, str]:
    return {"loopin_data_dir": env["LOOPIN_DATA_DIR"], "embedded_port": env["EMBEDDED_PORT"]}


if __name__ == "__main__":
    raise SystemExit(main())
