"""A real PostgreSQL server for tests: Debian's binaries, a cluster in a temporary folder, on
loopback only, and a fresh database per test.

The server listens on ``127.0.0.1`` at a free port and on a unix socket in its own folder; only
loopback and the socket are let in (``trust``). PostgreSQL refuses to run as root: as root the
cluster is made and run as the ``postgres`` user (``runuser -u postgres --``), which owns the
folder. The binaries are looked up under ``/usr/lib/postgresql/<version>/bin`` (the newest
version); without them :func:`postgres_bin` fails with a message saying what to install.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg

from tests.helpers.ports import free_tcp_port

#: Where Debian's ``postgresql-<version>`` package puts its programs.
DEBIAN_GLOB = "/usr/lib/postgresql/*/bin"
#: The server's superuser (trusted on loopback; no password).
SUPERUSER = "dropline"
#: A role that must give its password (:data:`PASSWORD`) on loopback, for tests of logins.
PASSWORD_USER = "dropline_pw"
PASSWORD = "right-horse-battery"

_names = itertools.count(1)


def postgres_bin() -> Path:
    """The folder of the newest PostgreSQL server programs installed.

    Raises
    ------
    RuntimeError
        No ``initdb``/``pg_ctl`` there: the message names the package to install.
    """
    found = sorted((p for p in Path("/").glob(DEBIAN_GLOB.lstrip("/"))
                    if (p / "initdb").is_file() and (p / "pg_ctl").is_file()),
                   key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    if not found:
        raise RuntimeError(f"no PostgreSQL server programs in {DEBIAN_GLOB}: install Debian's "
                           "postgresql package (the test command does: apt-get install "
                           "postgresql)")
    return found[-1]


def _as_server_user() -> list[str]:
    """The command prefix that runs a server program as a user PostgreSQL accepts."""
    if os.geteuid() != 0:
        return []
    runuser = shutil.which("runuser")
    if runuser is None:
        raise RuntimeError("running as root and no runuser to run PostgreSQL as 'postgres'")
    return [runuser, "-u", "postgres", "--"]


def _run(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed ({done.returncode}): "
                           f"{(done.stderr or done.stdout).strip()[-2000:]}")


@dataclass(frozen=True, slots=True, kw_only=True)
class PostgresServer:
    """A running server: its folder, port and programs."""

    folder: Path
    port: int
    bin_dir: Path

    @property
    def data_dir(self) -> Path:
        """The cluster's data folder."""
        return self.folder / "data"

    @property
    def socket_dir(self) -> Path:
        """The folder of the server's unix socket."""
        return self.folder / "socket"

    def url(self, database: str = "postgres", *, scheme: str = "postgresql",
            user: str = SUPERUSER) -> str:
        """The URL of ``database`` over TCP on loopback (``postgresql://`` by default; the
        stores take it as it is); ``user`` may be ``name:password``."""
        return f"{scheme}://{user}@127.0.0.1:{self.port}/{database}"

    def conninfo(self, database: str = "postgres") -> str:
        """A libpq connection string of ``database``."""
        return f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname={database}"

    def create_database(self, prefix: str = "t") -> str:
        """A new empty database with a name no other test of this server has; its URL."""
        name = f"{prefix}_{os.getpid()}_{next(_names)}"
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop the database of ``url`` (made by :meth:`create_database`), ending its
        connections."""
        name = url.rsplit("/", 1)[-1]
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        """Stop the server (fast shutdown), wait for it and remove its folder."""
        try:
            _run([*_as_server_user(), str(self.bin_dir / "pg_ctl"), "stop", "-D",
                  str(self.data_dir), "-m", "fast", "-w", "-t", "30"], "pg_ctl stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


def start_postgres() -> PostgresServer:
    """Make a cluster in a new temporary folder and start it on loopback at a free port.

    The folder is the system's (short: a unix socket's path is limited to about 100 bytes),
    owned by the server's user; :meth:`PostgresServer.stop` removes it.

    Raises
    ------
    RuntimeError
        No server programs, or ``initdb``/``pg_ctl`` failed (their output in the message).
    """
    bin_dir = postgres_bin()
    prefix = _as_server_user()
    folder = Path(tempfile.mkdtemp(prefix="dropline-pg-"))
    data, sockets = folder / "data", folder / "socket"
    sockets.mkdir()
    if prefix:
        shutil.chown(folder, "postgres")
        shutil.chown(sockets, "postgres")
    _run([*prefix, str(bin_dir / "initdb"), "-D", str(data), "-U", SUPERUSER, "-A", "trust",
          "-E", "UTF8", "--locale=C", "--no-sync"], "initdb")
    with (data / "pg_hba.conf").open("w", encoding="ascii") as hba:
        hba.write("local all all trust\n"
                  f"host all {PASSWORD_USER} 127.0.0.1/32 scram-sha-256\n"
                  "host all all 127.0.0.1/32 trust\n")
    port = free_tcp_port()
    options = (f"-c listen_addresses=127.0.0.1 -c port={port} "
               f"-c unix_socket_directories={sockets} -c fsync=off "
               "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
    _run([*prefix, str(bin_dir / "pg_ctl"), "start", "-D", str(data), "-w", "-t", "60",
          "-l", str(folder / "server.log"), "-o", options], "pg_ctl start")
    server = PostgresServer(folder=folder, port=port, bin_dir=bin_dir)
    with psycopg.connect(server.conninfo(), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {PASSWORD_USER} LOGIN PASSWORD '{PASSWORD}'")
    return server
