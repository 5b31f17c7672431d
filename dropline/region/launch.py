"""Start a region on one machine: PostgreSQL, Mosquitto, an optional simulated fleet, the
workers of each hub and the consoles, as child processes stopped together.

The data folder holds everything the region keeps between starts: ``postgres/`` (the cluster),
``broker/`` (Mosquitto's config, logins and ACL), ``console/`` (the consoles' shared data
folder: plans, session key, map tiles), ``tlogs/``, ``logs/`` (one log per child process) and
``admin.password`` (owner-only). Children are started in that order, each waited for, and
stopped in the reverse order.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from dropline.region.broker import Broker, start_mosquitto
from dropline.region.errors import RegionError
from dropline.region.postgres import PostgresServer, start_postgres
from gcs.bus.broker_config import CONSOLE_USER, worker_user
from sitl.ardupilot.health import port_listening

#: The database the region's processes share.
DATABASE = "dropline"
#: Seconds a child has to open its port.
START_S = 60.0
#: TCP port of the first simulated vehicle (the others every 10 ports).
SIM_BASE_PORT = 5760
#: Seconds before a worker or console that ended is started again.
RESTART_S = 5.0


@dataclass(frozen=True, slots=True, kw_only=True)
class RegionConfig:
    """What to start.

    ``connect`` maps a hub to its vehicle connection strings; ``sim_vehicles`` simulated
    copters per hub are added (system ids counted across hubs, each hub's in one block).
    """

    data_dir: Path
    hubs: tuple[str, ...]
    workers_per_hub: int = 1
    consoles: int = 2
    console_port: int = 8080
    db_port: int = 5433
    broker_port: int = 1883
    sim_vehicles: int = 0
    sim_base_port: int = SIM_BASE_PORT
    speedup: float = 1.0
    scenario: Path | None = None
    connect: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(slots=True)
class Child:
    """A started child process, its log, and how to start it again."""

    name: str
    process: subprocess.Popen[bytes]
    log: IO[bytes]
    args: list[str]
    env: Mapping[str, str]
    #: Started again when it ends (workers and consoles); anything else ending stops the region.
    restart: bool = False
    restarts: int = 0



def _private(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def _popen(args: Sequence[str], env: Mapping[str, str], log: IO[bytes]) -> subprocess.Popen[bytes]:
    """``dropline ARGS`` in a new session with ``env`` added, writing to ``log``."""
    return subprocess.Popen([sys.executable, "-m", "dropline.cli", *args],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, **env}, start_new_session=True)


def admin_password(data_dir: Path) -> str:
    """The consoles' admin password kept in ``data_dir/admin.password`` (made once)."""
    path = data_dir / "admin.password"
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    password = secrets.token_urlsafe(15)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(password)
    return password


class Region:
    """The region's servers and processes (:meth:`start`, then :meth:`stop`)."""

    def __init__(self, config: RegionConfig) -> None:
        self.config = config
        self.data_dir = config.data_dir.resolve()
        self.postgres: PostgresServer | None = None
        self.broker: Broker | None = None
        self.children: list[Child] = []
        self.database_url = ""
        self.console_urls: list[str] = []

    # -- starting --------------------------------------------------------------------------
    def start(self, say: Callable[[str], None] = print) -> None:
        """Start everything, in order, each waited for.

        Raises
        ------
        RegionError
            A server or child did not start (what it logged in the message); whatever started
            is stopped again.
        """
        cfg = self.config
        # others may pass through (PostgreSQL's user reaches its cluster) but not list it
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o711)
        _private(self.data_dir / "logs")
        try:
            self.postgres = start_postgres(self.data_dir / "postgres", cfg.db_port)
            self.database_url = self.postgres.ensure_database(DATABASE)
            say(f"PostgreSQL   {self.database_url}")
            self.broker = start_mosquitto(self.data_dir / "broker", cfg.hubs, cfg.broker_port)
            say(f"Mosquitto    mqtt://127.0.0.1:{cfg.broker_port} (logins in "
                f"{self.data_dir / 'broker'})")
            connect = self._connections(say)
            for hub in cfg.hubs:
                for k in range(cfg.workers_per_hub):
                    self._worker(hub, f"{hub}-{k + 1}", connect[hub])
            say(f"workers      {cfg.workers_per_hub} per hub: {', '.join(cfg.hubs)}")
            password = admin_password(self.data_dir)
            for i in range(cfg.consoles):
                self._console(i, password)
            say("consoles     " + "  ".join(self.console_urls))
            say(f"log in as    admin / {password} (kept in "
                f"{self.data_dir / 'admin.password'})")
        except BaseException:
            self.stop()
            raise

    def _connections(self, say: Callable[[str], None]) -> dict[str, tuple[str, ...]]:
        cfg = self.config
        connect = {hub: tuple(cfg.connect.get(hub, ())) for hub in cfg.hubs}
        unknown = sorted(set(cfg.connect) - set(cfg.hubs))
        if unknown:
            raise RegionError(f"--connect names hub {unknown[0]!r}, which is not in --hubs")
        if cfg.sim_vehicles:
            total = cfg.sim_vehicles * len(cfg.hubs)
            args = ["sim", "--vehicles", str(total), "--speedup", f"{cfg.speedup:g}",
                    "--base-port", str(cfg.sim_base_port)]
            if cfg.scenario is not None:
                args += ["--scenario", str(cfg.scenario)]
            self._spawn("sim", args, {})
            ports = [cfg.sim_base_port + 10 * j for j in range(total)]
            self._wait_ports("sim", ports)
            for i, hub in enumerate(cfg.hubs):
                block = ports[i * cfg.sim_vehicles:(i + 1) * cfg.sim_vehicles]
                connect[hub] += tuple(f"tcp:127.0.0.1:{p}" for p in block)
            say(f"simulator    {total} copters at {cfg.speedup:g}x, "
                f"{cfg.sim_vehicles} per hub")
        empty = [hub for hub, conns in connect.items() if not conns]
        if empty:
            raise RegionError(f"hub {empty[0]!r} has no vehicles: give --connect "
                              f"{empty[0]}=CONN or --sim-vehicles N")
        return connect

    def _worker(self, hub: str, worker_id: str, connect: Sequence[str]) -> None:
        assert self.broker is not None
        args = ["worker", "--hub", hub, "--worker-id", worker_id, "--broker",
                self.broker.files.url(worker_user(hub)), "--database", self.database_url]
        if self.config.scenario is not None:
            args += ["--scenario", str(self.config.scenario)]
        for conn in connect:
            args += ["--connect", conn]
        self._spawn(f"worker-{worker_id}", args, {
            "DROPLINE_BROKER_PASSWORD": self.broker.files.credentials[worker_user(hub)]},
            restart=True)

    def _console(self, index: int, password: str) -> None:
        """Console ``index``: every console listens on the one console port (``--reuse-port``:
        the kernel spreads the connections among them)."""
        assert self.broker is not None
        port = self.config.console_port
        args = ["serve", "--broker", self.broker.files.url(CONSOLE_USER), "--port", str(port),
                "--reuse-port", "--data-dir", str(self.data_dir / "console")]
        name = f"console-{index + 1}"
        log = self.data_dir / "logs" / f"{name}.log"
        logged = log.stat().st_size if log.is_file() else 0
        self._spawn(name, args, {
            "DROPLINE_BROKER_PASSWORD": self.broker.files.credentials[CONSOLE_USER],
            "DATABASE_URL": self.database_url, "DROPLINE_ADMIN_PASSWORD": password},
            restart=True)
        # one at a time: the first start makes the admin account and the session key
        self._wait_line(name, "dropline console: ", after=logged)
        url = f"http://127.0.0.1:{port}"
        if url not in self.console_urls:
            self.console_urls.append(url)

    def _spawn(self, name: str, args: list[str], env: Mapping[str, str], *,
               restart: bool = False) -> Child:
        log = (self.data_dir / "logs" / f"{name}.log").open("ab")
        child = Child(name, _popen(args, env, log), log, args, env, restart)
        self.children.append(child)
        return child

    def _wait_ports(self, name: str, ports: Sequence[int]) -> None:
        """Wait until child ``name`` listens on every port of ``ports``."""
        waiting = list(ports)

        def ready() -> str | None:
            waiting[:] = [p for p in waiting if not port_listening("127.0.0.1", p)]
            return None if not waiting else f"did not open port {waiting[0]}"

        self._wait_child(name, ready)

    def _wait_line(self, name: str, marker: str, *, after: int) -> None:
        """Wait until child ``name`` logs ``marker`` (after byte ``after`` of its log)."""
        path = self.data_dir / "logs" / f"{name}.log"

        def ready() -> str | None:
            if path.is_file():
                with path.open("rb") as f:
                    f.seek(after)
                    if marker.encode() in f.read():
                        return None
            return "did not start"

        self._wait_child(name, ready)

    def _wait_child(self, name: str, ready: Callable[[], str | None]) -> None:
        """Wait until ``ready()`` says nothing is missing (None; else what is), at most
        :data:`START_S`.

        Raises
        ------
        RegionError
            Child ``name`` stopped meanwhile, or is not ready in time.
        """
        child = next(c for c in reversed(self.children) if c.name == name)
        deadline = time.monotonic() + START_S
        while (missing := ready()) is not None:
            if child.process.poll() is not None:
                raise RegionError(f"{name} stopped at start (exit {child.process.returncode})"
                                  f": {self.log_tail(name)}")
            if time.monotonic() > deadline:
                raise RegionError(f"{name} {missing} within {START_S:g} s: "
                                  f"{self.log_tail(name)}")
            time.sleep(0.1)

    def log_tail(self, name: str, chars: int = 1500) -> str:
        """The end of child ``name``'s log."""
        path = self.data_dir / "logs" / f"{name}.log"
        text = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
        return text.strip()[-chars:] or "(nothing logged)"

    # -- running and stopping --------------------------------------------------------------
    def wait(self, stop: Callable[[], bool],
             say: Callable[[str], None] = print) -> Child | None:
        """Wait until ``stop()`` is true (None) or a child that is not restarted ends (that
        child). A worker or console that ends is started again after :data:`RESTART_S` (the
        hub's other workers hold its vehicles meanwhile), saying so."""
        ended_at: dict[str, float] = {}
        while not stop():
            now = time.monotonic()
            for child in self.children:
                if child.process.poll() is None:
                    continue
                if not child.restart:
                    return child
                if child.name not in ended_at:
                    ended_at[child.name] = now
                    say(f"{child.name} stopped (exit {child.process.returncode}); starting it "
                        f"again in {RESTART_S:g} s")
                elif now - ended_at[child.name] >= RESTART_S:
                    del ended_at[child.name]
                    child.process = _popen(child.args, child.env, child.log)
                    child.restarts += 1
            time.sleep(0.2)
        return None

    def stop(self) -> None:
        """Stop the children (newest first: SIGTERM, then SIGKILL after 15 s), the broker and
        PostgreSQL."""
        for child in reversed(self.children):
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        for child in reversed(self.children):
            try:
                child.process.wait(15)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
            child.log.close()
        self.children.clear()
        if self.broker is not None:
            self.broker.stop()
            self.broker = None
        if self.postgres is not None:
            self.postgres.stop()
            self.postgres = None
