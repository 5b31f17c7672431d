"""Replay the ground-station side of every recorded SITL trace against the built-in simulator.

Each ``.tlog`` in ``shared/ardupilot/traces`` holds both directions of a real ArduCopter SITL
session. The test sends the recorded ground-station messages (same sysid/compid 255/190, same
order), each only after the vehicle answers the trace shows before it and no earlier than its
recorded time, then asserts that the simulator's answers match the recording: message order,
acks and result codes, mission-protocol messages and items, parameters, texts, mode and arming
changes, and the times of the mission milestones (within 5 % + 3 s of simulated time).

The traces start in the middle of a session (mission uploaded, streams on, vehicle ready), so
each has a prelude that puts the simulator in the state the recording started from.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from gcs.mavlink import dialect as mav
from gcs.mavlink import read_tlog
from tests.sitl.helpers import TRACE_HOME, TRACES
from tests.sitl.helpers_mavclient import MavClient
from tests.sitl.helpers_traces import (
    BREACH_FENCE,
    GRIPPER_MISSION,
    LAND_MISSION,
    PAYLOAD_MISSION,
    RALLY,
    as_items,
)

pytestmark = [pytest.mark.sitl]

REPLAY_SPEEDUP = 25.0
TIME_TOLERANCE_SHARE = 0.05
TIME_TOLERANCE_S = 3.0
REORDER_WINDOW = 3
#: Texts that depend on the physics engine or the EKF, not on the protocol.
_INCIDENTAL = ("EKF3 IMU",)
#: Texts compared by their beginning only (they carry measured numbers).
_PREFIXES = ("SIM Hit ground", "PayloadPlace: payload release thrust threshold",
             "Battery 1 is low", "Battery 1 is critical")
_IGNORED_PARAMS = ("STAT_", "MOT_THST_HOVER")

# -- events ----------------------------------------------------------------------------------
def event_key(msg: Any, text: str | None = None) -> tuple[Any, ...] | None:
    """The comparable content of one vehicle message, or None when it is not compared."""
    kind = msg.get_type()
    if kind == "STATUSTEXT":
        if text is None or any(text.startswith(p) for p in _INCIDENTAL):
            return None
        for prefix in _PREFIXES:
            if text.startswith(prefix):
                return ("TEXT", prefix)
        return ("TEXT", text)
    if kind == "HEARTBEAT":
        return ("MODE", msg.custom_mode, bool(msg.base_mode & 128))
    if kind == "COMMAND_ACK":
        return ("ACK", msg.command, msg.result)
    if kind == "MISSION_ACK":
        return ("MISSION_ACK", msg.type, msg.mission_type)
    if kind == "MISSION_REQUEST":
        return ("MISSION_REQUEST", msg.seq, msg.mission_type)
    if kind == "MISSION_COUNT":
        return ("MISSION_COUNT", msg.count, msg.mission_type)
    if kind in ("MISSION_ITEM_INT", "MISSION_ITEM"):
        if msg.seq == 0 and msg.mission_type == 0:
            return (kind, 0, msg.command, msg.frame, "home")
        x, y = (msg.x, msg.y) if kind == "MISSION_ITEM_INT" else (round(msg.x * 1e7),
                                                                  round(msg.y * 1e7))
        return (kind, msg.seq, msg.command, msg.frame, round(msg.param1, 3),
                round(msg.param2, 3), round(msg.param3, 3), round(msg.param4, 3), x, y,
                round(msg.z, 2), msg.autocontinue, msg.mission_type)
    if kind == "MISSION_ITEM_REACHED":
        return ("REACHED", msg.seq)
    if kind == "PARAM_VALUE":
        name = msg.param_id
        if any(name.startswith(p) for p in _IGNORED_PARAMS):
            return None
        return ("PARAM", name, round(msg.param_value, 3))
    if kind == "FENCE_STATUS":
        return ("FENCE", msg.breach_status)
    if kind in ("HOME_POSITION", "GPS_GLOBAL_ORIGIN"):
        return (kind,)
    return None


_DEDUPED = ("MODE", "MISSION_REQUEST", "FENCE")


@dataclass
class EventLog:
    """Compared vehicle events in arrival order, with their simulated times."""

    keys: list[tuple[Any, ...]] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    _last: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    _chunks: dict[int, str] = field(default_factory=dict)

    def add(self, t_s: float, msg: Any) -> None:
        """Record a vehicle message (STATUSTEXT chunks are reassembled)."""
        text = None
        if msg.get_type() == "STATUSTEXT":
            raw = msg.text if isinstance(msg.text, str) else msg.text.decode()
            if msg.id:
                self._chunks[msg.id] = self._chunks.get(msg.id, "") + raw
                if len(raw) == 50:
                    return
                raw = self._chunks.pop(msg.id)
            text = raw
        key = event_key(msg, text)
        if key is None:
            return
        if key[0] in _DEDUPED:
            if self._last.get(key[0]) == key:
                return
            self._last[key[0]] = key
        self.keys.append(key)
        self.times.append(t_s)


def load_trace(path: Path) -> tuple[list[tuple[float, Any]], EventLog, float]:
    """GCS messages (time, msg), the vehicle's events and the recording's speedup."""
    gcs: list[tuple[float, Any]] = []
    events = EventLog()
    t0: float | None = None
    first_pos: tuple[float, int] | None = None
    last_pos: tuple[float, int] | None = None
    for t, msg in read_tlog(path):
        t0 = t if t0 is None else t0
        if msg.get_srcSystem() == 255:
            if msg.get_type() != "HEARTBEAT":
                gcs.append((t - t0, msg))
            continue
        if msg.get_type() == "GLOBAL_POSITION_INT":
            first_pos = first_pos or (t, msg.time_boot_ms)
            last_pos = (t, msg.time_boot_ms)
        events.add(t - t0, msg)
    speedup = 1.0
    if first_pos and last_pos and last_pos[0] > first_pos[0] + 1:
        speedup = round((last_pos[1] - first_pos[1]) / 1000.0 / (last_pos[0] - first_pos[0]))
    events.times = [t * speedup for t in events.times]
    # the recording starts right after the mission upload that the prelude repeats
    while events.keys and events.keys[0] == ("TEXT", "Flight plan received"):
        del events.keys[0], events.times[0]
    return [(t * speedup, m) for t, m in gcs], events, float(speedup)


# -- replay ----------------------------------------------------------------------------------
class Replayer:
    """Drives a MavClient through a trace and records the simulator's events."""

    def __init__(self, client: MavClient, fleet: Any) -> None:
        self.client = client
        self.fleet = fleet
        self.events = EventLog()
        self.sim0 = 0.0
        self.vehicle_s = 0.0

    def sim_now(self) -> float:
        """Simulated seconds since the replay started."""
        return self.fleet.vehicle(0).snapshot().time_s - self.sim0

    def pump(self, timeout_s: float) -> None:
        """Receive and record for up to ``timeout_s`` of wall time.

        Events are timed by the vehicle's own clock (the latest ``time_boot_ms`` received before
        them), so a ground station that falls behind does not shift them.
        """
        msg = self.client.poll(timeout_s)
        for _ in range(2000):
            if msg is None:
                break
            if msg.get_srcSystem() == 1:
                boot_ms = getattr(msg, "time_boot_ms", None)
                if boot_ms is not None:
                    self.vehicle_s = boot_ms / 1000.0 - self.sim0
                self.events.add(self.vehicle_s, msg)
            msg = self.client.poll(0.0)

    def wait_for(self, keys: list[tuple[Any, ...]], timeout_s: float) -> None:
        """Wait until ``keys`` have all arrived (in order within each stream of events)."""
        deadline = time.monotonic() + timeout_s
        while True:
            missing = _first_missing(keys, self.events.keys)
            if missing is None:
                return
            if time.monotonic() > deadline:
                stream = missing[0] if missing[0] in _SOFT else "strict"
                raise AssertionError(
                    f"the simulator never sent {missing} in its place;\n"
                    f"  wanted ({stream}): {_streams(keys).get(stream, [])[-12:]}\n"
                    f"  received ({stream}): {_streams(self.events.keys).get(stream, [])[-12:]}")
            self.pump(0.05)

    def run(self, gcs: list[tuple[float, Any]], trace: EventLog) -> None:
        """Send every GCS message after the answers the trace shows before it."""
        self.sim0 = self.fleet.vehicle(0).snapshot().time_s
        self.vehicle_s = 0.0
        self.events = EventLog()
        for t, msg in gcs:
            expected = [k for k, te in zip(trace.keys, trace.times, strict=True) if te <= t]
            self.wait_for(expected, timeout_s=10.0)
            deadline = time.monotonic() + t / REPLAY_SPEEDUP + 30.0
            while self.sim_now() < t and time.monotonic() < deadline:
                self.pump(min(0.05, (t - self.sim_now()) / REPLAY_SPEEDUP + 0.001))
            self.client.send(msg)
        end = trace.times[-1] if trace.times else 0.0
        self.wait_for(trace.keys, timeout_s=10.0 + max(0.0, end - self.sim_now()) * 1.5
                      / REPLAY_SPEEDUP)
        self.pump(0.3)


#: Events sent on a timer (HEARTBEAT, FENCE_STATUS): compared in order among themselves only.
_SOFT = ("MODE", "FENCE")


def _streams(keys: list[tuple[Any, ...]]) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {"strict": []}
    for key in keys:
        if _is_prearm(key):
            continue
        out.setdefault(key[0] if key[0] in _SOFT else "strict", []).append(key)
    return out


def _align(want: list[tuple[Any, ...]], have: list[tuple[Any, ...]]) -> int:
    """How many of ``want`` are matched by ``have`` in order, allowing an event to arrive up to
    :data:`REORDER_WINDOW` places early or late against the one matched before it (the
    autopilot's text queue is flushed asynchronously, so a STATUSTEXT and an unrelated ack may
    swap). An unmatched event left behind (a heartbeat of the state before the session) does not
    hold the window back.

    >>> _align([("A",), ("B",), ("C",), ("D",), ("E",)],
    ...        [("X",), ("A",), ("B",), ("C",), ("D",), ("E",)])
    5
    >>> _align([("A",), ("B",)], [("A",), ("X",), ("Y",), ("Z",), ("W",), ("V",), ("B",)])
    1
    """
    used = [False] * len(have)
    last = -1
    for i, key in enumerate(want):
        lo = max(0, last - REORDER_WINDOW)
        for j in range(lo, min(len(have), last + REORDER_WINDOW + 2)):
            if not used[j] and have[j] == key:
                used[j] = True
                last = max(last, j)
                break
        else:
            return i
    return len(want)


def _first_missing(want: list[tuple[Any, ...]], have: list[tuple[Any, ...]]
                   ) -> tuple[Any, ...] | None:
    """The first wanted event not (yet) matched, each stream of events in its own order."""
    got = _streams(have)
    for name, keys in _streams(want).items():
        n = _align(keys, got.get(name, []))
        if n < len(keys):
            return keys[n]
    return None


def _is_prearm(key: tuple[Any, ...]) -> bool:
    return key[0] == "TEXT" and str(key[1]).startswith("PreArm")


def _compare(trace: EventLog, got: EventLog) -> None:
    want, have = _streams(trace.keys), _streams(got.keys)
    for name, keys in want.items():
        mine = have.get(name, [])
        n = _align(keys, mine)
        assert n == len(keys), f"{name} events differ at {n}: " + _diff(keys, mine)
        extra = len(mine) - len(keys)
        assert extra >= 0, f"{name}: {-extra} events missing"
    for key in trace.keys:
        if _is_prearm(key):
            assert key in got.keys, f"missing {key}"


def _diff(want: list[tuple[Any, ...]], have: list[tuple[Any, ...]]) -> str:
    for i, (a, b) in enumerate(zip(want, have, strict=False)):
        if a != b:
            lo = max(0, i - 3)
            return (f"first difference at event {i}:\n  trace: {want[lo:i + 4]}\n"
                    f"  sim:   {have[lo:i + 4]}")
    return f"length differs: trace {len(want)} events, sim {len(have)}:\n{want[len(have):][:5]}"


def _milestones(log: EventLog) -> dict[tuple[Any, ...], float]:
    """Time of the first occurrence of each milestone event, from the first COMMAND_ACK 300."""
    start = next((t for k, t in zip(log.keys, log.times, strict=True)
                  if k[:2] == ("ACK", mav.MAV_CMD_MISSION_START)), None)
    if start is None:
        return {}
    out: dict[tuple[Any, ...], float] = {}
    for key, t in zip(log.keys, log.times, strict=True):
        milestone = key[0] in ("REACHED", "FENCE") or key in (
            ("TEXT", "Disarming motors"), ("TEXT", "SIM Hit ground"),
            ("TEXT", "Battery Failsafe"), ("TEXT", "Polygon fence breached"))
        if milestone and key not in out and t >= start:
            out[key] = t - start
    return out


# -- preludes --------------------------------------------------------------------------------
def _ready(client: MavClient, mode: str = "STABILIZE") -> None:
    client.request_streams(4)
    client.set_message_interval(mav.MAVLINK_MSG_ID_BATTERY_STATUS, 1.0)
    client.wait_ready(30)
    if mode != "STABILIZE":
        client.set_mode(mode)


def _prelude(mission: list[tuple[float, ...]], *, fence: bool = False,
             mode: str = "STABILIZE") -> Callable[[MavClient], None]:
    def run(client: MavClient) -> None:
        _ready(client)
        assert client.upload(as_items(mission)) == 0
        if fence:
            assert client.upload(as_items(BREACH_FENCE, 1), 1) == 0
            assert client.upload(as_items(RALLY, 2), 2) == 0
            client.param_set("FENCE_TYPE", 4)
            client.param_set("FENCE_ENABLE", 1)
        if mode != "STABILIZE":
            client.set_mode(mode)
        client.drain(0.2)

    return run


def _no_prelude(client: MavClient) -> None:
    _ready(client)


CASES: dict[str, tuple[Callable[[MavClient], None], dict[str, Any]]] = {
    "mission_upload_download": (_no_prelude, {}),
    "fence_rally_upload": (_prelude(PAYLOAD_MISSION, mode="AUTO"), {}),
    "auto_flight_payload_place": (_prelude(PAYLOAD_MISSION), {}),
    "auto_flight_gripper_drop": (_prelude(GRIPPER_MISSION), {}),
    "auto_flight_land_release_takeoff": (_prelude(LAND_MISSION),
                                         {"params": {"MIS_OPTIONS": 4}}),
    "auto_flight_battery_failsafe": (_prelude(PAYLOAD_MISSION), {
        "params": {"BATT_LOW_MAH": 1300, "BATT_FS_LOW_ACT": 2}, "finite_battery": True}),
    "fence_breach_rtl_to_rally": (_prelude(PAYLOAD_MISSION, fence=True), {}),
}


def _trace_names() -> list[str]:
    if not TRACES.is_dir():
        return sorted(CASES)
    return sorted(p.stem for p in TRACES.glob("*.tlog"))


@pytest.mark.slow
@pytest.mark.parametrize("name", _trace_names())
def test_trace_replays_identically(name: str, builtin_fleet: Any) -> None:
    """The simulator answers a recorded ground-station session exactly as real SITL did."""
    path = TRACES / f"{name}.tlog"
    if not path.exists():
        pytest.skip(f"trace {path} not found (shared data is beside the repository)")
    assert name in CASES, f"no prelude for new trace {name}"
    prelude, options = CASES[name]
    gcs, trace, _ = load_trace(path)
    fleet = builtin_fleet(1, home=TRACE_HOME, speedup=REPLAY_SPEEDUP, settle_s=2.0, **options)
    with MavClient(fleet.connection_strings[0], heartbeat_period_s=0.5) as client:
        prelude(client)
        replay = Replayer(client, fleet)
        replay.run(gcs, trace)
        got = replay.events
    _compare(trace, got)
    want_t, have_t = _milestones(trace), _milestones(got)
    for key, t_want in want_t.items():
        assert key in have_t, f"milestone {key} missing"
        tolerance = TIME_TOLERANCE_S + TIME_TOLERANCE_SHARE * t_want
        assert abs(have_t[key] - t_want) <= tolerance, (
            f"{key}: {have_t[key]:.1f} s in the simulator, {t_want:.1f} s on SITL "
            f"(tolerance {tolerance:.1f} s)")
