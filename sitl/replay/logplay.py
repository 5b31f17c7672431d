"""Play a ``.tlog`` as a live MAVLink stream, so ground stations see the recorded vehicle.

Every message of the log goes out as it was recorded (same bytes, system ids, sequence numbers)
to every output, at its recorded time divided by ``speed``: a log recorded at 1x plays in real
time at ``speed=1``. The *log* clock is the recording's timestamps; the *vehicle* clock is the
vehicle's own time since boot (as :mod:`gcs.tlog.reader` reads it), which plays a flight recorded
from a simulator at any speedup as the vehicle lived it. Messages the ground station sent
(system 255, as recorded in ArduPilot SITL traces) are left out unless ``include_gcs``, so that
a console sees a vehicle and not another ground station's commands.

Outputs take the connection strings of ``--out`` (:class:`gcs.forward.OutputSpec`):
``udp:HOST:PORT``/``udpout:HOST:PORT`` send to a listening QGroundControl, MAVProxy or
``dropline`` console, ``udpin:``, ``tcpin:`` and ``tcp:`` as in MAVProxy.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from gcs import mavlink as mav
from gcs.forward import OutputSpec
from gcs.tlog.reader import BOOT_TIMED
from planner.errors import InputError

__all__ = ["CLOCKS", "PlayStats", "play_log", "timeline"]

CLOCKS = ("log", "vehicle")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PlayStats:
    """What was played: messages sent, the span of the log played (its clock's seconds) and
    the wall time it took."""

    messages: int
    span_s: float
    wall_s: float


def timeline(path: str | Path, *, clock: str = "log",
             include_gcs: bool = False) -> list[tuple[float, bytes]]:
    """Every message to play as (seconds from the first, original bytes), in log order.

    Raises
    ------
    InputError
        When the file is missing, unreadable or holds no message to play, or ``clock`` is
        unknown.
    """
    if clock not in CLOCKS:
        raise InputError(f"unknown clock {clock!r}; expected one of {', '.join(CLOCKS)}",
                         field="--clock")
    p = Path(path)
    if not p.is_file():
        raise InputError("no such file", path=p)
    out: list[tuple[float, bytes]] = []
    boot: float | None = None
    offset = 0.0
    try:
        for stamp, msg in mav.read_tlog(p):
            if not include_gcs and msg.get_srcSystem() == mav.GCS_SYSTEM_ID:
                continue
            data = msg.get_msgbuf()
            if not data:
                continue
            t = stamp
            if clock == "vehicle":
                if msg.get_type() in BOOT_TIMED:
                    now = msg.time_boot_ms / 1000.0
                    if boot is not None and now + offset < boot - 1.0:
                        offset = boot - now  # a reboot: carry on from where the clock was
                    boot = now + offset
                if boot is None:
                    continue  # nothing is timed before the vehicle's clock is known
                t = boot
            out.append((t, bytes(data)))
    except (OSError, ValueError, mav.MAVError) as exc:
        raise InputError(f"not a readable .tlog: {exc}", path=p) from exc
    if not out:
        raise InputError("no message to play in this file", path=p)
    t0 = out[0][0]
    return [(max(0.0, t - t0), data) for t, data in out]


def _open(outputs: Sequence[OutputSpec]) -> list[Any]:
    conns: list[Any] = []
    try:
        for spec in outputs:
            conns.append(mav.connect(spec.url, input=False))
    except (OSError, ValueError) as exc:
        for conn in conns:
            conn.close()
        raise InputError(f"cannot open output: {exc}", field="--out") from exc
    return conns


def play_log(path: str | Path, outputs: Sequence[OutputSpec], *, speed: float = 1.0,
             clock: str = "log", include_gcs: bool = False,
             stop: threading.Event | None = None,
             progress: Callable[[float, float], None] | None = None) -> PlayStats:
    """Send the log's messages to ``outputs`` with their recorded timing divided by ``speed``.

    Parameters
    ----------
    path
        The ``.tlog``.
    outputs
        Where to send (opened here, closed at the end).
    speed
        Log seconds per wall second.
    clock
        ``log`` (recording timestamps) or ``vehicle`` (time since boot); see the module
        docstring.
    include_gcs
        Also send what the ground station (system 255) sent.
    stop
        Set it to stop early.
    progress
        Called about once a second with (log seconds played, log seconds in all).

    Returns
    -------
    PlayStats
        Counts and times.
    """
    if not (speed > 0 and speed < float("inf")):
        raise InputError(f"expected a positive speed, got {speed}", field="--speed")
    if not outputs:
        raise InputError("no output to play to", field="--out")
    events = timeline(path, clock=clock, include_gcs=include_gcs)
    conns = _open(outputs)
    stop = stop or threading.Event()
    sent = 0
    start = time.monotonic()
    next_report = start + 1.0
    span = events[-1][0]
    try:
        for t, data in events:
            wait = start + t / speed - time.monotonic()
            if wait > 0 and stop.wait(wait):
                break
            if stop.is_set():
                break
            for conn in conns:
                try:
                    conn.write(data)
                except OSError:
                    continue  # nobody listening yet on a udpin/tcpin output
            sent += 1
            if progress is not None and time.monotonic() >= next_report:
                progress(t, span)
                next_report = time.monotonic() + 1.0
    finally:
        for conn in conns:
            conn.close()
    played = events[min(sent, len(events)) - 1][0] if sent else 0.0
    return PlayStats(messages=sent, span_s=played, wall_s=time.monotonic() - start)
