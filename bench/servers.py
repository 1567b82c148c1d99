"""The processes a bench run starts: Loopin as deployed, the floor app, PgBouncer."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psutil

from app.core.config import REPO_ROOT
from app.db.embedded_db import free_port
from bench.cluster import DATA_DIR, JWT_ISSUER, SUPABASE_URL, jwt_secret

BIN = REPO_ROOT / ".venv" / "bin"
# Settings a developer's shell may carry that must not leak into the servers under test.
_SCRUBBED = ("DATABASE_", "DIRECT_URL", "SUPABASE_", "JWT_", "STATEMENT_", "LOCK_", "LOOPIN_")


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def workers(self) -> list[psutil.Process]:
        """The processes serving requests: uvicorn's spawned workers (not its resource
        tracker), or the server itself when it runs a single worker."""
        try:
            main = psutil.Process(self.process.pid)
            spawned = [c for c in main.children() if "spawn_main" in " ".join(c.cmdline())]
        except psutil.NoSuchProcess:
            return []
        return spawned or [main]


def _environment(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED)}
    env.update(settings)
    return env


def _wait_ready(server: Server, path: str, workers: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited; see {server.log}:\n{server.log.read_text()}")
        try:
            answered = httpx.get(server.url + path, timeout=2).status_code == 200
        except httpx.HTTPError:
            answered = False
        if answered and len(server.workers()) == workers:
            return
        time.sleep(0.3)
    raise RuntimeError(f"{server.name} did not answer {path} within {timeout:.0f} s")


def _start(
    name: str, command: list[str], env: dict[str, str], ready_path: str, workers: int
) -> Server:
    log = DATA_DIR / f"{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    port = int(command[command.index("--port") + 1])
    with log.open("wb") as output:
        # A session of its own, so stopping it reaches its workers and nothing else.
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(name, process, port, log)
    try:
        _wait_ready(server, ready_path, workers)
    except BaseException:
        stop(server)
        raise
    return server


def stop(server: Server) -> None:
    if server.process.poll() is None:
        os.killpg(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(5)


def start_loopin(database_url: str, workers: int) -> Server:
    """`loopin serve` as deployed: production environment, WARNING logs, no access log."""
    env = _environment(
        DATABASE_URL=database_url,
        SUPABASE_JWT_SECRET=jwt_secret(),
        SUPABASE_URL=SUPABASE_URL,
        JWT_ISSUER=JWT_ISSUER,
        LOG_LEVEL="WARNING",
        ENVIRONMENT="production",
    )
    command = [
        str(BIN / "loopin"),
        "serve",
        "--port",
        str(free_port()),
        "--workers",
        str(workers),
        "--no-access-log",
    ]
    return _start("loopin", command, env, "/health/ready", workers)


def start_floor(database_url: str, workers: int, plan: Path) -> Server:
    env = _environment(FLOOR_DATABASE_URL=database_url, FLOOR_PLAN=str(plan))
    command = [
        str(BIN / "uvicorn"),
        "bench.floor_app:create_app",
        "--factory",
        "--port",
        str(free_port()),
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    return _start("floor", command, env, "/health", workers)


@contextmanager
def serving(database_url: str, workers: int, plan: Path) -> Iterator[dict[str, Server]]:
    """Loopin and the floor, side by side on the same database (one is idle while the
    other is measured, so their runs interleave under the same machine conditions)."""
    servers: dict[str, Server] = {}
    try:
        servers["loopin"] = start_loopin(database_url, workers)
        servers["floor"] = start_floor(database_url, workers, plan)
        yield servers
    finally:
        for server in servers.values():
            stop(server)


@contextmanager
def pgbouncer(database_url: str) -> Iterator[tuple[str, psutil.Process]]:
    """PgBouncer in transaction mode in front of `database_url` (tests/support/pgbouncer.py's
    setup, with the pool sized for two workers' pools): its URL, with ?pgbouncer=true so the
    apps switch to transaction mode, and its process (for its CPU)."""
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    parts = urlsplit(database_url)
    user, dbname, port = parts.username or "postgres", parts.path.lstrip("/"), free_port()
    folder = DATA_DIR / "pgbouncer"
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o777)
    (folder / "userlist.txt").write_text(f'"{user}" ""\n')
    (folder / "pgbouncer.ini").write_text(
        f"""[databases]
{dbname} = host={parts.hostname} port={parts.port or 5432} dbname={dbname} user={user}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {folder}/userlist.txt
pool_mode = transaction
max_client_conn = 1000
default_pool_size = 20
ignore_startup_parameters = extra_float_digits
logfile = {folder}/pgbouncer.log
pidfile = {folder}/pgbouncer.pid
"""
    )
    command = [binary, str(folder / "pgbouncer.ini")]
    if os.geteuid() == 0:  # PgBouncer refuses to run as root
        command[1:1] = ["-u", "pgserver"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not _listening(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"pgbouncer did not start; see {folder}/pgbouncer.log")
            time.sleep(0.05)
        yield (
            urlunsplit(
                (parts.scheme, f"{user}@127.0.0.1:{port}", f"/{dbname}", "pgbouncer=true", "")
            ),
            psutil.Process(process.pid),
        )
    finally:
        process.terminate()
        process.wait(10)


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0
