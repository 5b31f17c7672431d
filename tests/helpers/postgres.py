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
import tempfile
from pathlib import Path

import psycopg

from dropline.region import postgres as region_postgres
from dropline.region.postgres import SUPERUSER, PostgresServer, postgres_bin
from tests.helpers.ports import free_tcp_port

#: A role that must give its password (:data:`PASSWORD`) on loopback, for tests of logins.
PASSWORD_USER = "dropline_pw"
PASSWORD = "right-horse-battery"

_names = itertools.count(1)

__all__ = ["PASSWORD", "PASSWORD_USER", "SUPERUSER", "PostgresServer", "create_database",
           "drop_database", "postgres_bin", "start_postgres"]


def create_database(server: PostgresServer, prefix: str = "t") -> str:
    """A new empty database of ``server`` with a name no other test has; its URL."""
    return server.ensure_database(f"{prefix}_{os.getpid()}_{next(_names)}")


def drop_database(server: PostgresServer, url: str) -> None:
    """Drop the database of ``url`` (made by :func:`create_database`), ending its
    connections."""
    name = url.rsplit("/", 1)[-1]
    with psycopg.connect(server.conninfo(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_postgres() -> PostgresServer:
    """A throwaway cluster in a new temporary folder on loopback at a free port, nothing
    forced to disk, with the password role :data:`PASSWORD_USER`.

    The folder is the system's (short: a unix socket's path is limited to about 100 bytes);
    ``stop(remove=True)`` removes it.

    Raises
    ------
    RegionError
        No server programs, or ``initdb``/``pg_ctl`` failed (their output in the message).
    """
    folder = Path(tempfile.mkdtemp(prefix="dropline-pg-"))
    server = region_postgres.start_postgres(
        folder, free_tcp_port(), settings=region_postgres.FAST_SETTINGS,
        hba_lines=[f"host all {PASSWORD_USER} 127.0.0.1/32 scram-sha-256"])
    with psycopg.connect(server.conninfo(), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {PASSWORD_USER} LOGIN PASSWORD '{PASSWORD}'")
    return server
