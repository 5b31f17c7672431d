"""A PostgreSQL cluster of dropline's own from Debian's server programs, on loopback only.

The cluster lives in a folder (``data/`` for the cluster, ``socket/`` for its unix socket,
``server.log``); it listens on ``127.0.0.1`` at the given port and lets in loopback and the
socket (``trust``: only this machine's users reach it). PostgreSQL refuses to run as root: as
root the cluster is made and run as the ``postgres`` user (``runuser -u postgres --``), which
then owns the folder. The programs are looked up under ``/usr/lib/postgresql/<version>/bin``
(the newest version).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg

from dropline.region.errors import RegionError

#: Where Debian's ``postgresql-<version>`` package puts its programs.
DEBIAN_GLOB = "/usr/lib/postgresql/*/bin"
#: The cluster's superuser (trusted on loopback; no password).
SUPERUSER = "dropline"
#: Server settings of a throwaway cluster (tests, benchmarks): nothing forced to disk.
FAST_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")


def postgres_bin() -> Path:
    """The folder of the newest PostgreSQL server programs installed.

    Raises
    ------
    RegionError
        No ``initdb``/``pg_ctl`` there: the message names the package to install.
    """
    found = sorted((p for p in Path("/").glob(DEBIAN_GLOB.lstrip("/"))
                    if (p / "initdb").is_file() and (p / "pg_ctl").is_file()),
                   key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    if not found:
        raise RegionError(f"no PostgreSQL server programs in {DEBIAN_GLOB}: install Debian's "
                          "postgresql package (apt-get install postgresql)")
    return found[-1]


def server_user_prefix() -> list[str]:
    """The command prefix that runs a server program as a user PostgreSQL accepts."""
    if os.geteuid() != 0:
        return []
    runuser = shutil.which("runuser")
    if runuser is None:
        raise RegionError("running as root and no runuser to run PostgreSQL as 'postgres'")
    return [runuser, "-u", "postgres", "--"]


def _run(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RegionError(f"{what} failed ({done.returncode}): "
                          f"{(done.stderr or done.stdout).strip()[-2000:]}")


@dataclass(frozen=True, slots=True, kw_only=True)
class PostgresServer:
    """A running cluster: its folder, port and programs."""

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
        """The URL of ``database`` over TCP on loopback; ``user`` may be ``name:password``."""
        return f"{scheme}://{user}@127.0.0.1:{self.port}/{database}"

    def conninfo(self, database: str = "postgres") -> str:
        """A libpq connection string of ``database``."""
        return f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname={database}"

    def ensure_database(self, name: str) -> str:
        """Create database ``name`` unless it exists; its URL."""
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                 (name,)).fetchone()
            if found is None:
                conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self, *, remove: bool = False) -> None:
        """Stop the server (fast shutdown) and wait for it; ``remove`` deletes its folder."""
        try:
            _run([*server_user_prefix(), str(self.bin_dir / "pg_ctl"), "stop", "-D",
                  str(self.data_dir), "-m", "fast", "-w", "-t", "30"], "pg_ctl stop")
        finally:
            if remove:
                shutil.rmtree(self.folder, ignore_errors=True)


def start_postgres(folder: Path, port: int, *, settings: Sequence[str] = (),
                   hba_lines: Sequence[str] = ()) -> PostgresServer:
    """Start the cluster in ``folder`` on loopback at ``port``, making it first if absent.

    Parameters
    ----------
    folder
        The cluster's folder (``data/`` is made by ``initdb`` on the first start). A unix
        socket's path is limited to about 100 bytes, so keep it short.
    port
        TCP port on ``127.0.0.1``.
    settings
        Extra server settings (``name=value``), e.g. :data:`FAST_SETTINGS`.
    hba_lines
        Access rules placed before the loopback ``trust`` ones (made clusters only).

    Raises
    ------
    RegionError
        No server programs, a folder the server's user cannot reach, or ``initdb``/``pg_ctl``
        failed (their output in the message).
    """
    bin_dir = postgres_bin()
    prefix = server_user_prefix()
    folder.mkdir(parents=True, exist_ok=True)
    data, sockets = folder / "data", folder / "socket"
    sockets.mkdir(exist_ok=True)
    if prefix:
        shutil.chown(folder, "postgres")
        shutil.chown(sockets, "postgres")
        probe = subprocess.run([*prefix, "test", "-w", str(folder)], check=False)
        if probe.returncode != 0:
            raise RegionError(f"the postgres user cannot reach {folder}: PostgreSQL does not "
                              "run as root; put the data folder where it can (for example "
                              "under /srv or /var/lib) or run as another user")
    if not (data / "PG_VERSION").is_file():
        _run([*prefix, str(bin_dir / "initdb"), "-D", str(data), "-U", SUPERUSER, "-A",
              "trust", "-E", "UTF8", "--locale=C"], "initdb")
        with (data / "pg_hba.conf").open("w", encoding="ascii") as hba:
            hba.write("".join(f"{line}\n" for line in hba_lines))
            hba.write("local all all trust\nhost all all 127.0.0.1/32 trust\n")
    options = " ".join([f"-c listen_addresses=127.0.0.1 -c port={port}",
                        f"-c unix_socket_directories={sockets} -c max_connections=200",
                        *(f"-c {s}" for s in settings)])
    _run([*prefix, str(bin_dir / "pg_ctl"), "start", "-D", str(data), "-w", "-t", "60",
          "-l", str(folder / "server.log"), "-o", options], "pg_ctl start")
    return PostgresServer(folder=folder, port=port, bin_dir=bin_dir)
