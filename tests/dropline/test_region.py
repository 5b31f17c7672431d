"""``dropline region``: PostgreSQL, Mosquitto, a simulated fleet, two workers of one hub and two
consoles started by one command; both consoles show the vehicles; a worker killed is taken over
and started again; Ctrl-C stops every process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import requests

from sitl.ardupilot.health import port_listening
from tests.helpers.cli import run_main
from tests.helpers.ports import free_base_port, free_tcp_port
from tests.helpers.waiting import wait_until

pytestmark = pytest.mark.slow


class _Output:
    """The region's standard output, read as it comes."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        assert process.stdout is not None
        stream = self._stream = process.stdout
        self._thread = threading.Thread(target=lambda: self.lines.extend(stream), daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._thread.join(10)
        self._stream.close()

    def has(self, text: str) -> bool:
        return any(text in line for line in self.lines)


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A folder PostgreSQL's user can reach when the tests run as root (unlike pytest's)."""
    folder = Path(tempfile.mkdtemp(prefix="dropline-region-test-"))
    folder.chmod(0o755)
    yield folder / "region"
    subprocess.run(["rm", "-rf", str(folder)], check=False)


def _login(url: str, password: str) -> requests.Session:
    http = requests.Session()
    token = http.get(f"{url}/api/csrf", timeout=10).json()["csrf_token"]
    r = http.post(f"{url}/api/login", json={"username": "admin", "password": password},
                  headers={"X-CSRFToken": token}, timeout=10)
    assert r.status_code == 200, r.text
    return http


def _vehicles(http: requests.Session, url: str) -> dict[int, dict[str, Any]]:
    fleet = http.get(f"{url}/api/fleet", timeout=10).json()
    return {int(v["hub_sysid"]): v for v in fleet["vehicles"]}  # system ids of hub north


def _both_fresh(http: requests.Session, url: str, max_age_s: float) -> bool:
    """Whether the console shows copters 1 and 2, each heard within ``max_age_s``."""
    vehicles = _vehicles(http, url)
    return set(vehicles) == {1, 2} and all(
        v["heartbeat_age_s"] is not None and v["heartbeat_age_s"] < max_age_s
        for v in vehicles.values())


def test_one_command_starts_and_stops_a_region(data_dir: Path) -> None:
    """Two consoles at one address on one broker and database show the same two copters,
    leased by two workers, to one login whichever console answers; kill -9 of a worker: the
    vehicles stay monitored and the worker comes back; kill -9 of a console: the address still
    answers and the console comes back; Ctrl-C: every port closed, exit 0."""
    console_port = free_tcp_port()
    db_port, broker_port = free_tcp_port(), free_tcp_port()
    sim_port = free_base_port(2)
    process = subprocess.Popen(
        [sys.executable, "-m", "dropline.cli", "region", "--data-dir", str(data_dir),
         "--hubs", "north", "--workers-per-hub", "2", "--consoles", "2",
         "--port", str(console_port), "--db-port", str(db_port),
         "--broker-port", str(broker_port), "--sim-vehicles", "2",
         "--sim-base-port", str(sim_port), "--speedup", "5"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = _Output(process)
    url = f"http://127.0.0.1:{console_port}"
    try:
        wait_until(lambda: out.has("running;") or process.poll() is not None, 120.0,
                   "the region's start")
        assert process.poll() is None, "".join(out.lines)
        assert out.has(f"consoles     {url}"), "".join(out.lines)
        password = (data_dir / "admin.password").read_text(encoding="utf-8").strip()
        assert oct((data_dir / "admin.password").stat().st_mode & 0o777) == "0o600"
        consoles = [p for p in _children(process.pid) if " serve " in p[1]]
        assert len(consoles) == 2 and all("--reuse-port" in c for _, c in consoles), consoles
        http = _login(url, password)
        # a new connection each time: the kernel spreads them over both consoles
        http.headers["Connection"] = "close"
        wait_until(partial(_both_fresh, http, url, 60.0), 60.0, "both copters")
        for _ in range(10):
            assert _both_fresh(http, url, 60.0)

        workers = [p for p in _children(process.pid) if "worker" in p[1]]
        assert len(workers) == 2, workers
        os.kill(workers[0][0], signal.SIGKILL)
        wait_until(lambda: out.has("stopped (exit -9); starting it again"), 30.0,
                   "the region noticing the dead worker")
        # the other worker holds (or takes over) both copters: fresh state on every console
        wait_until(partial(_both_fresh, http, url, 5.0), 30.0,
                   "both copters monitored after the kill")
        for _ in range(6):
            assert _both_fresh(http, url, 10.0)
        wait_until(lambda: len([p for p in _children(process.pid) if "worker" in p[1]]) == 2,
                   30.0, "the killed worker started again")

        os.kill(consoles[0][0], signal.SIGKILL)
        wait_until(partial(_gone, consoles[0][0]), 10.0, "the killed console gone")
        # the other console answers at the same address, and so does the killed one once
        # started again (while consoles leave and join the port, a connection may be reset:
        # asked again, as a browser does, it is answered)
        for _ in range(10):
            wait_until(partial(_answers, http, url), 10.0, "the address answering")
        wait_until(lambda: len([p for p in _children(process.pid) if " serve " in p[1]]) == 2,
                   30.0, "the killed console started again")
        for _ in range(10):
            wait_until(partial(_answers, http, url), 10.0, "the address answering")
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(90)
        out.close()
    assert code == 0, "".join(out.lines)
    for port in (console_port, db_port, broker_port, sim_port):
        assert not port_listening("127.0.0.1", port), port


def _answers(http: requests.Session, url: str) -> bool:
    """Whether a console answers at ``url`` with both copters (False on a reset connection)."""
    try:
        return _both_fresh(http, url, 10.0)
    except requests.ConnectionError as exc:
        print(f"reset: {exc}")
        return False


def _gone(pid: int) -> bool:
    """Whether process ``pid`` has ended (its sockets closed): no longer there, or a zombie."""
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state == "Z"


def _children(pid: int) -> list[tuple[int, str]]:
    """Child processes of ``pid`` with their command lines."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(stat[1]) != pid:
                continue
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError, ValueError):
            continue
        found.append((int(entry.name), cmd))
    return found


@pytest.mark.parametrize(("argv", "named"), [
    (["--hubs", "north,no th"], "--hubs"),
    (["--hubs", "north,north"], "--hubs"),
    (["--connect", "south=tcp:127.0.0.1:5760"], "--connect"),
    (["--connect", "tcp:127.0.0.1:5760"], "--connect"),
    (["--consoles", "0"], "--consoles"),
    (["--sim-vehicles", "-1"], "--sim-vehicles"),
    (["--db-port", "70000"], "--db-port"),
    (["--scenario", "{tmp}"], "--scenario"),
    (["--hubs", "north"], "hub 'north' has no vehicles"),
])
def test_bad_options_exit_2(argv: list[str], named: str, tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    """Each wrong option is named, exit 2, nothing started."""
    code, _, err = run_main(["region", "--data-dir", str(tmp_path / "r"),
                             *[a.replace("{tmp}", str(tmp_path)) for a in argv]], capsys)
    assert code == 2, err
    assert named in err and "Traceback" not in err
    assert not (tmp_path / "r").exists()
