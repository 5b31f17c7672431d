"""``dropline worker`` processes of one hub for tests of the multi-process setup: started on a
real broker with the hub's worker login, each on its own log file, and stopped (SIGTERM, then
SIGKILL) at the end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers.mosquitto import Broker
from tests.helpers.shared_data import REPO


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
