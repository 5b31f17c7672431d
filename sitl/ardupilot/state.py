"""The state file a running launcher keeps in its working directory, for ``dropline sitl stop``.

``sitl-state.json`` records the launcher's process id and every instance it started (process
id, start time, port, system id, folder), so that another shell can stop them, and nothing else.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from sitl.ardupilot._process import same_process, start_ticks, terminate_pid
from sitl.errors import SimulatorError

STATE_NAME = "sitl-state.json"


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceRecord:
    """One started SITL instance as the state file records it."""

    instance: int
    pid: int
    start_ticks: int | None
    port: int
    sysid: int
    folder: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LauncherState:
    """A running launcher: its process, the program it runs and its instances."""

    launcher_pid: int
    launcher_start_ticks: int | None
    binary: str
    host: str
    instances: tuple[InstanceRecord, ...]

    @property
    def connection_strings(self) -> list[str]:
        """``tcp:HOST:PORT`` of every instance."""
        return [f"tcp:{self.host}:{r.port}" for r in self.instances]


def state_path(workdir: str | Path) -> Path:
    """Where the state file of a working directory lives."""
    return Path(workdir) / STATE_NAME


def write_state(workdir: str | Path, *, binary: str, host: str,
                instances: tuple[InstanceRecord, ...]) -> Path:
    """Record this process as the launcher of ``instances``; return the file written."""
    pid = os.getpid()
    state = LauncherState(launcher_pid=pid, launcher_start_ticks=start_ticks(pid), binary=binary,
                          host=host, instances=instances)
    path = state_path(workdir)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(state), indent=2) + "\n")
    tmp.replace(path)
    return path


def read_state(workdir: str | Path) -> LauncherState | None:
    """The state file of ``workdir``, or None when no launcher recorded one there."""
    path = state_path(workdir)
    try:
        doc = json.loads(path.read_text())
        return LauncherState(
            launcher_pid=int(doc["launcher_pid"]),
            launcher_start_ticks=doc.get("launcher_start_ticks"), binary=str(doc["binary"]),
            host=str(doc.get("host", "127.0.0.1")),
            instances=tuple(InstanceRecord(**r) for r in doc["instances"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SimulatorError(f"unreadable SITL state file {path}: {exc}") from exc


def remove_state(workdir: str | Path) -> None:
    """Forget the state file (after a clean stop)."""
    state_path(workdir).unlink(missing_ok=True)


def launcher_alive(state: LauncherState) -> bool:
    """True while the recorded launcher process still runs."""
    return same_process(state.launcher_pid, state.launcher_start_ticks)


def alive_instances(state: LauncherState) -> list[InstanceRecord]:
    """The recorded instances whose process still runs."""
    return [r for r in state.instances if same_process(r.pid, r.start_ticks)]


def stop_from_state(workdir: str | Path, *, timeout_s: float = 10.0) -> list[int]:
    """Stop the launcher recorded in ``workdir`` and every instance it started.

    The launcher gets SIGTERM and shuts its instances down itself; an instance still running
    after ``timeout_s`` (a launcher killed without cleaning up) gets SIGTERM, then SIGKILL.

    Parameters
    ----------
    workdir
        The launcher's working directory.
    timeout_s
        Seconds to wait for the launcher before ending instances directly.

    Returns
    -------
    list[int]
        Process ids that were running and were stopped (the launcher first, if it ran).

    Raises
    ------
    SimulatorError
        When there is no state file, or a process could not be ended.
    """
    state = read_state(workdir)
    if state is None:
        raise SimulatorError(f"no running SITL launcher recorded in {Path(workdir)} "
                             f"(no {STATE_NAME})")
    stopped = [r.pid for r in alive_instances(state)]
    if launcher_alive(state) and state.launcher_pid != os.getpid():
        stopped.insert(0, state.launcher_pid)
        terminate_pid(state.launcher_pid, timeout_s)
        deadline = time.monotonic() + timeout_s
        while alive_instances(state) and time.monotonic() < deadline:
            time.sleep(0.05)
    stuck = []
    for record in alive_instances(state):
        if not terminate_pid(record.pid, 2.0):
            stuck.append(record.pid)
    if stuck or (state.launcher_pid != os.getpid() and launcher_alive(state)):
        raise SimulatorError(f"could not stop processes {stuck or [state.launcher_pid]}")
    remove_state(workdir)
    return stopped
