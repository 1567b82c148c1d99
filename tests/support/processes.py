"""Running `loopin` as a separate process, as an operator does."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import IO

# Settings the developer's shell may carry that would change what a `loopin` command does.
CONFIG_VARIABLES = frozenset(
    {
        "DATABASE_URL",
        "DIRECT_URL",
        "SUPABASE_URL",
        "SUPABASE_JWT_SECRET",
        "JWT_ISSUER",
        "JWT_AUDIENCE",
        "ENVIRONMENT",
        "LOOPIN_DATA_DIR",
        "EMBEDDED_PORT",
        "EMBEDDED_DB_SHAPE",
        "LOG_FORMAT",
        "LOG_LEVEL",
        "ACCESS_LOG",
        "METRICS_PORT",
        "PROMETHEUS_MULTIPROC_DIR",
        "DATABASE_POOL_SIZE",
        "MIGRATION_LOCK_TIMEOUT_MS",
    }
)


def clean_env(**settings: str) -> dict[str, str]:
    """This process's environment without the shell's Loopin settings, plus `settings`."""
    env = {k: v for k, v in os.environ.items() if k.upper() not in CONFIG_VARIABLES}
    return {**env, **settings}


def loopin(
    *args: str, env: dict[str, str], timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    """`loopin ARGS` with exactly this environment, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_serve(
    port: int, *args: str, env: dict[str, str], output: IO[str] | int = subprocess.PIPE
) -> subprocess.Popen[str]:
    """`loopin serve --port PORT ARGS` in the background, its stdout and stderr together
    into `output` (a file, or a pipe to read with `communicate`)."""
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port), *args],
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
        text=True,
    )
