"""Ending processes: SIGTERM, a grace period, then SIGKILL."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path


def terminate_child(proc: subprocess.Popen[bytes], timeout_s: float) -> int:
    """End a child process (SIGTERM, then SIGKILL after ``timeout_s``); return its exit status."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait()
    return int(proc.returncode)


def pid_alive(pid: int) -> bool:
    """True while a process with this id exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    try:
        state = stat.read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def start_ticks(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks after boot, from ``/proc``), None if unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def same_process(pid: int, ticks: int | None) -> bool:
    """True when ``pid`` is alive and is the process that started at ``ticks``.

    Guards against signalling an unrelated process that reused a recorded id; where the start
    time is unknown (no ``/proc``) only liveness is checked.
    """
    if not pid_alive(pid):
        return False
    now = start_ticks(pid)
    return ticks is None or now is None or now == ticks


def terminate_pid(pid: int, timeout_s: float) -> bool:
    """End a process that is not our child (SIGTERM, then SIGKILL); True once it is gone."""
    for sig, wait_s in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 2.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return True
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                return True
            time.sleep(0.05)
    return not pid_alive(pid)
