"""Read a flight back from a ``.tlog``: samples, releases, items reached and the mission.

Works on dropline's own logs (vehicle messages only) and on ground-station recordings such as
real ArduPilot SITL's (both directions). The vehicle is the system sending GLOBAL_POSITION_INT
most often (or ``sysid``). The clock is the vehicle's time since boot (``time_boot_ms`` of its
position and attitude messages), so a flight recorded from a simulator at any speedup reads in
simulated seconds; messages without a boot time take the last one seen, and a reboot continues
the clock where it stopped.

A *sample* is taken at every GLOBAL_POSITION_INT with a fix, carrying the latest mode and arming
state (HEARTBEAT), mission item (MISSION_CURRENT) and battery (BATTERY_STATUS energy in hJ, else
mAh times voltage; SYS_STATUS for the remaining share). A *release* is the gripper opening
("Gripper load releasing", "Gripper Released", "PayloadPlace: Releasing the gripper", the
gripper servo moving to its release PWM, an accepted DO_GRIPPER release command) or a winch
lowering ("Mission: N Winch", DO_WINCH); signs closer than :data:`RELEASE_MERGE_S` in time are one
release. Its ``mission_seq`` is the item named by the last "Mission: N Gripper|Winch|
PayloadPlace" text, else the current item. The *mission*, *fence* and *rally* are the last
complete transfer of each seen in either direction (MISSION_COUNT then items 0..count-1).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from gcs import mavlink as mav
from planner.errors import InputError
from planner.flown.figures import FlownSample, ReleaseEvent
from planner.items import MissionItem

__all__ = ["BOOT_TIMED", "RELEASE_MERGE_S", "TlogFlight", "read_flight"]

#: Release signs closer than this (vehicle seconds) are the same release.
RELEASE_MERGE_S = 5.0
_D = mav.dialect
_ARMED = _D.MAV_MODE_FLAG_SAFETY_ARMED
_RELEASE_TEXTS = ("Gripper load releasing", "Gripper Released",
                  "PayloadPlace: Releasing the gripper")
#: ArduPilot's texts of the gripper closing on a parcel (AP_Gripper, AP_Mission): a pickup.
_GRAB_TEXTS = ("Gripper load grabbing", "Gripper load grabbed", "Gripper Grabbed")
_MISSION_TEXT = re.compile(r"^Mission: (\d+) (\w+)")
_RELEASE_ITEMS = ("Gripper", "Winch", "PayloadPlace")
#: Vehicle messages whose ``time_boot_ms`` sets the clock.
BOOT_TIMED = ("GLOBAL_POSITION_INT", "ATTITUDE", "SYSTEM_TIME", "LOCAL_POSITION_NED")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TlogFlight:
    """What a ``.tlog`` tells of one vehicle's flight (times on the vehicle's clock, s).

    ``reached`` holds (t_s, seq) of every MISSION_ITEM_REACHED; ``texts`` (t_s, text) of every
    STATUSTEXT; ``home`` the last HOME_POSITION (lat_deg, lon_deg, alt_amsl_m);
    ``log_start_s``/``log_end_s`` the recording's first and last timestamps (Unix s);
    ``grabs`` where the gripper closed on a parcel (a pickup), told by the gripper's texts.
    """

    path: Path
    sysid: int
    samples: tuple[FlownSample, ...]
    releases: tuple[ReleaseEvent, ...]
    reached: tuple[tuple[float, int], ...]
    texts: tuple[tuple[float, str], ...]
    mission: tuple[MissionItem, ...] = ()
    fence: tuple[MissionItem, ...] = ()
    rally: tuple[MissionItem, ...] = ()
    home: tuple[float, float, float] | None = None
    log_start_s: float = 0.0
    log_end_s: float = 0.0
    messages: int = 0
    grabs: tuple[ReleaseEvent, ...] = ()

    @property
    def reached_seqs(self) -> tuple[int, ...]:
        """Item numbers reached, in order."""
        return tuple(seq for _, seq in self.reached)


@dataclasses.dataclass(slots=True)
class _Transfer:
    count: int | None = None
    items: dict[int, MissionItem] = dataclasses.field(default_factory=dict)

    def complete(self) -> tuple[MissionItem, ...] | None:
        n = self.count if self.count is not None else len(self.items)
        if n and all(k in self.items for k in range(n)):
            return tuple(self.items[k] for k in range(n))
        return None


def _item(msg: Any, scaled: bool, mission_type: int) -> MissionItem | None:
    scale = 1e-7 if scaled else 1.0
    try:
        return MissionItem(command=int(msg.command), frame=int(msg.frame),
                           param1=float(msg.param1), param2=float(msg.param2),
                           param3=float(msg.param3), param4=float(msg.param4),
                           lat_deg=float(msg.x) * scale, lon_deg=float(msg.y) * scale,
                           alt_m=float(msg.z), autocontinue=bool(msg.autocontinue),
                           mission_type=mission_type)
    except ValueError:
        return None


class _Reader:
    """State while walking the log of one vehicle."""

    def __init__(self, sysid: int, servo: int, release_pwm: int) -> None:
        self.sysid = sysid
        self.servo_field = f"servo{servo}_raw"
        self.release_pwm = release_pwm
        self.t: float | None = None
        self.boot_offset = 0.0
        self.last_boot: float | None = None
        self.pending: list[tuple[str, Any]] = []
        self.mode = "UNKNOWN"
        self.armed = False
        self.seq: int | None = None
        self.used_wh: float | None = None
        self.remaining: float | None = None
        self.servo: int | None = None
        self.release_item: tuple[float, int] | None = None
        self.samples: list[FlownSample] = []
        self.signs: list[tuple[float, int | None]] = []
        self.grab_signs: list[tuple[float, int | None]] = []
        self.reached: list[tuple[float, int]] = []
        self.texts: list[tuple[float, str]] = []
        self.transfers: dict[int, _Transfer] = {}
        self.done: dict[int, tuple[MissionItem, ...]] = {}
        self.home: tuple[float, float, float] | None = None
        self.chunks: dict[int, list[str]] = {}

    # -- clock --------------------------------------------------------------------------------
    def tick(self, msg: Any) -> None:
        boot_ms = getattr(msg, "time_boot_ms", None)
        if boot_ms is None or msg.get_type() not in BOOT_TIMED:
            return
        boot = boot_ms / 1000.0
        if self.last_boot is not None and boot < self.last_boot - 1.0:
            self.boot_offset = (self.t or 0.0) - boot  # rebooted: continue the clock
        self.last_boot = boot
        self.t = boot + self.boot_offset

    # -- messages -----------------------------------------------------------------------------
    def vehicle(self, msg: Any) -> None:
        kind = msg.get_type()
        if self.t is None and kind not in BOOT_TIMED:
            self.pending.append((kind, msg))
            return
        self.tick(msg)
        if self.t is not None and self.pending:
            pending, self.pending = self.pending, []
            for _, old in pending:
                self.vehicle(old)
        handler = getattr(self, f"on_{kind.lower()}", None)
        if handler is not None:
            handler(msg)

    def on_heartbeat(self, msg: Any) -> None:
        if msg.type == _D.MAV_TYPE_GCS or msg.autopilot == _D.MAV_AUTOPILOT_INVALID:
            return
        mode = mav.COPTER_MODE_NAMES.get(int(msg.custom_mode), f"MODE{msg.custom_mode}")
        armed = bool(msg.base_mode & _ARMED)
        if self.samples and self.t is not None and (mode, armed) != (self.mode, self.armed):
            # a sample at each change, so that arming and disarming are timed to the message
            self.samples.append(dataclasses.replace(self.samples[-1], t_s=self.t, mode=mode,
                                                    armed=armed))
        self.mode, self.armed = mode, armed

    def on_global_position_int(self, msg: Any) -> None:
        if msg.lat == 0 and msg.lon == 0:
            return
        assert self.t is not None
        self.samples.append(FlownSample(
            t_s=self.t, lat_deg=msg.lat / 1e7, lon_deg=msg.lon / 1e7, alt_amsl_m=msg.alt / 1000.0,
            ground_speed_m_s=math.hypot(msg.vx, msg.vy) / 100.0, battery_used_wh=self.used_wh,
            battery_remaining_pct=self.remaining, mode=self.mode, armed=self.armed,
            mission_seq=self.seq))

    def on_mission_current(self, msg: Any) -> None:
        self.seq = int(msg.seq)

    def on_battery_status(self, msg: Any) -> None:
        if msg.energy_consumed >= 0:
            self.used_wh = msg.energy_consumed / 36.0
        elif msg.current_consumed >= 0 and msg.voltages[0] not in (0, 65535):
            self.used_wh = msg.current_consumed * msg.voltages[0] / 1e6
        if msg.battery_remaining >= 0:
            self.remaining = float(msg.battery_remaining)

    def on_sys_status(self, msg: Any) -> None:
        if msg.battery_remaining >= 0 and self.remaining is None:
            self.remaining = float(msg.battery_remaining)

    def on_servo_output_raw(self, msg: Any) -> None:
        value = getattr(msg, self.servo_field, None)
        if value is None:
            return
        near = abs(value - self.release_pwm) <= 50
        if near and self.servo is not None and abs(self.servo - self.release_pwm) > 50:
            self.sign()
        self.servo = int(value)

    def on_mission_item_reached(self, msg: Any) -> None:
        assert self.t is not None
        self.reached.append((self.t, int(msg.seq)))

    def on_home_position(self, msg: Any) -> None:
        self.home = (msg.latitude / 1e7, msg.longitude / 1e7, msg.altitude / 1000.0)

    def on_statustext(self, msg: Any) -> None:
        assert self.t is not None
        text = msg.text if isinstance(msg.text, str) else msg.text.decode(errors="replace")
        text = text.rstrip("\x00")
        ident = getattr(msg, "id", 0)
        if ident:  # MAVLink 2 chunks: join until one shorter than the field
            parts = self.chunks.setdefault(ident, [])
            parts.append(text)
            if len(text) >= 50:
                return
            text = "".join(self.chunks.pop(ident))
        self.texts.append((self.t, text))
        match = _MISSION_TEXT.match(text)
        if match is not None:
            seq, name = int(match.group(1)), match.group(2)
            self.release_item = (self.t, seq) if name in _RELEASE_ITEMS else None
            if name == "Winch":
                self.sign()
        elif text.startswith(_RELEASE_TEXTS):
            self.sign()
        elif text.startswith(_GRAB_TEXTS):
            self.sign(self.grab_signs)

    def on_command_ack(self, msg: Any) -> None:
        if msg.result == _D.MAV_RESULT_ACCEPTED and msg.command == _D.MAV_CMD_DO_WINCH:
            self.sign()

    # -- transfers (either direction) ---------------------------------------------------------
    def transfer(self, msg: Any) -> None:
        kind = msg.get_type()
        mission_type = int(getattr(msg, "mission_type", 0))
        if kind == "MISSION_COUNT":
            self.finish(mission_type)
            self.transfers[mission_type] = _Transfer(count=int(msg.count))
            return
        item = _item(msg, kind == "MISSION_ITEM_INT", mission_type)
        if item is not None:
            self.transfers.setdefault(mission_type, _Transfer()).items[int(msg.seq)] = item

    def finish(self, mission_type: int) -> None:
        current = self.transfers.pop(mission_type, None)
        items = None if current is None else current.complete()
        if items is not None:
            self.done[mission_type] = items

    def sign(self, signs: list[tuple[float, int | None]] | None = None) -> None:
        if self.t is None:
            return
        item = self.release_item
        seq = item[1] if item is not None and self.t - item[0] <= 120.0 else self.seq
        (self.signs if signs is None else signs).append((self.t, seq))

    def releases(self, signs: list[tuple[float, int | None]] | None = None
                 ) -> tuple[ReleaseEvent, ...]:
        """One event per group of signs (releases, or ``signs`` given) at the vehicle's
        position then."""
        out: list[ReleaseEvent] = []
        last = -math.inf
        for t, seq in self.signs if signs is None else signs:
            if t - last < RELEASE_MERGE_S:
                continue
            last = t
            where = _position_at(self.samples, t)
            if where is not None:
                out.append(ReleaseEvent(t_s=t, lat_deg=where[0], lon_deg=where[1],
                                        mission_seq=seq))
        return tuple(out)


def _position_at(samples: list[FlownSample], t_s: float) -> tuple[float, float] | None:
    """The last sampled position at or before ``t_s`` (the first one if none is)."""
    best = None
    for s in samples:
        if s.t_s > t_s and best is not None:
            break
        best = s
    return None if best is None else (best.lat_deg, best.lon_deg)


def _vehicle_sysid(messages: Iterable[tuple[float, Any]]) -> int | None:
    counts: dict[int, int] = {}
    for _, msg in messages:
        if msg.get_type() == "GLOBAL_POSITION_INT":
            counts[msg.get_srcSystem()] = counts.get(msg.get_srcSystem(), 0) + 1
    return max(counts, key=lambda k: counts[k]) if counts else None


def read_flight(path: str | Path, *, sysid: int | None = None, gripper_servo: int = 8,
                release_pwm: int = 1100) -> TlogFlight:
    """Read one vehicle's flight from a ``.tlog`` (see the module docstring).

    Parameters
    ----------
    path
        The ``.tlog`` file.
    sysid
        The vehicle's system id (default: the one sending positions most often).
    gripper_servo
        Servo output channel of the gripper (ArduPilot ``SERVOn_FUNCTION 28``).
    release_pwm
        PWM of the gripper's release position (``GRIP_RELEASE``).

    Returns
    -------
    TlogFlight
        Samples, releases, items reached, texts, and mission/fence/rally when transferred.

    Raises
    ------
    InputError
        When the file does not exist, holds no MAVLink message, or no vehicle position.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError("no such file", path=p)
    try:
        messages = list(mav.read_tlog(p))
    except (OSError, ValueError, mav.MAVError) as exc:
        raise InputError(f"not a readable .tlog: {exc}", path=p) from exc
    if not messages:
        raise InputError("no MAVLink message in this file; expected a .tlog", path=p)
    vehicle = sysid if sysid is not None else _vehicle_sysid(messages)
    if vehicle is None:
        raise InputError("no vehicle position (GLOBAL_POSITION_INT) in this log", path=p)
    reader = _Reader(vehicle, gripper_servo, release_pwm)
    for _, msg in messages:
        kind = msg.get_type()
        if kind in ("MISSION_COUNT", "MISSION_ITEM_INT", "MISSION_ITEM"):
            reader.transfer(msg)
        if msg.get_srcSystem() == vehicle:
            reader.vehicle(msg)
        elif kind == "COMMAND_LONG" and msg.command == _D.MAV_CMD_DO_GRIPPER \
                and msg.param2 == _D.GRIPPER_ACTION_RELEASE:
            reader.sign()
    if not reader.samples:
        raise InputError(f"no position of vehicle {vehicle} in this log", path=p)
    for mission_type in list(reader.transfers):
        reader.finish(mission_type)
    return TlogFlight(path=p, sysid=vehicle, samples=tuple(reader.samples),
                      releases=reader.releases(), reached=tuple(reader.reached),
                      texts=tuple(reader.texts), mission=reader.done.get(0, ()),
                      fence=reader.done.get(1, ()), rally=reader.done.get(2, ()),
                      grabs=reader.releases(reader.grab_signs),
                      home=reader.home, log_start_s=messages[0][0], log_end_s=messages[-1][0],
                      messages=len(messages))

