"""``dropline worker`` processes of one hub for tests of the multi-process setup: started on a
real broker with the hub's worker login, each on its own log file, and stopped (SIGTERM, then
SIGKILL) at the end; and a console flying simulated vehicles either on its own links or through
such workers, so that one console test runs in both setups."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.helpers.mosquitto import Broker, running_mosquitto
from tests.helpers.shared_data import REPO

#: The hub of the workers of :func:`fleet_console`.
BUS_HUB = "north"


class Workers:
    """``dropline worker`` processes of hub ``hub`` sharing ``database`` (the leases and flight
    log; None: no leases, one worker owning every vehicle heard) and the ``.tlog`` folder
    ``folder / "tlogs"``, each logging to ``folder / "<worker id>.log"``."""

    def __init__(self, folder: Path, broker: Broker, connect: list[str], *, hub: str,
                 database: str | None = None,
                 scenario: Path = REPO / "missions" / "tutorial") -> None:
        self.folder = folder
        self.broker = broker
        self.database = database
        self.connect = connect
        self.hub = hub
        self.scenario = scenario
        self.tlog_dir = folder / "tlogs"
        self.procs: dict[str, subprocess.Popen[str]] = {}

    def start(self, worker_id: str) -> subprocess.Popen[str]:
        """Start a worker and wait for its links to be open."""
        env = {**os.environ,
               "DROPLINE_BROKER_PASSWORD": self.broker.files.credentials[f"worker-{self.hub}"]}
        env.pop("DATABASE_URL", None)
        argv = [sys.executable, "-m", "dropline.cli", "-v", "worker", "--hub", self.hub,
                "--broker", self.broker.files.url(f"worker-{self.hub}"), "--worker-id",
                worker_id, "--scenario", str(self.scenario), "--tlog-dir", str(self.tlog_dir)]
        if self.database is not None:
            argv += ["--database", self.database]
        for c in self.connect:
            argv += ["--connect", c]
        with self.log_path(worker_id).open("w") as err:
            proc = subprocess.Popen(argv, cwd=self.folder, env=env, stdout=subprocess.PIPE,
                                    stderr=err, text=True)
        self.procs[worker_id] = proc
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert f"worker {worker_id} of hub {self.hub}: {len(self.connect)} link(s) open" in \
            line, line + self.log(worker_id)
        return proc

    def log_path(self, worker_id: str) -> Path:
        """The file of a worker's standard error."""
        return self.folder / f"{worker_id}.log"

    def log(self, worker_id: str) -> str:
        """The tail of a worker's log."""
        return self.log_path(worker_id).read_text(errors="replace")[-6000:]

    def print_logs(self) -> None:
        """Print every worker's log tail (for a failing test's report)."""
        for worker_id in self.procs:
            print(f"--- {worker_id}\n{self.log(worker_id)}")

    def stop(self) -> None:
        """SIGTERM the live ones (a clean stop), SIGKILL those that do not stop."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate(timeout=10)


#: How a console test reaches its vehicles: ``linked`` (the single process, the console holding
#: the MAVLink links, on SQLite) or ``broker`` (the multi-process setup: the console in broker
#: mode on PostgreSQL, two ``dropline worker`` processes sharing the links and the database
#: through a real Mosquitto).
CONSOLE_MODES = ("linked", "broker")


@contextmanager
def fleet_console(mode: str, folder: Path, connect: list[str], request: pytest.FixtureRequest,
                  *, scenario: Path = REPO / "missions" / "tutorial",
                  **config: Any) -> Iterator[Flask]:
    """A console app flying the vehicles of ``connect`` in ``mode`` (see
    :data:`CONSOLE_MODES`), its data in ``folder / "console"``, with ``config`` added (the
    workers serve ``scenario``'s terrain); everything it started is stopped after."""
    from tests.gcs.helpers import SPEEDUP
    from tests.helpers.postgres import create_database, drop_database
    from tests.web.helpers import make_app, services

    with ExitStack() as stack:
        workers = None
        if mode == "linked":
            config = {"CONNECT": connect, "TIME_SCALE": SPEEDUP, "RESET_BATTERY": True,
                      **config}
        else:
            server = request.getfixturevalue("postgres_server")
            database = create_database(server)
            stack.callback(drop_database, server, database)
            broker = stack.enter_context(running_mosquitto(folder / "broker", [BUS_HUB]))
            config = {"BROKER": broker.url("console"), "DATABASE_URL": database, **config}
            (folder / "workers").mkdir()
            workers = Workers(folder / "workers", broker, connect, hub=BUS_HUB,
                              database=database, scenario=scenario)
        app = make_app(folder / "console", **{"MISSIONS_DIR": str(REPO / "missions"), **config})
        stack.callback(services(app).close)
        if workers is not None:
            stack.callback(workers.stop)
            try:
                workers.start("w-a")
                workers.start("w-b")
            except BaseException:
                workers.print_logs()
                raise
        try:
            yield app
        except BaseException:
            if workers is not None:
                workers.print_logs()
            raise
