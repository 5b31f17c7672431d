"""Commands to one vehicle with COMMAND_ACK handling and retries, and parameter get/set.

A command is sent as COMMAND_LONG; when no COMMAND_ACK comes within the timeout it is sent again
with the ``confirmation`` field counting up, as the MAVLink command protocol asks. A refusal
raises :class:`~gcs.errors.CommandRejected` with the vehicle's own reason when it gave one in
a STATUSTEXT (ArduPilot explains refused arming with "PreArm: ..." or "Arm: ...").
"""

from __future__ import annotations

import math
import struct
import time
from collections.abc import Sequence

from gcs import mavlink as mav
from gcs.errors import CommandRejected, LinkTimeout
from gcs.link import Link, Message
from gcs.transfer import DEFAULT_RETRY, Retry, Target

_D = mav.dialect
_CMD_NAMES = {int(k): str(v.name) for k, v in _D.enums["MAV_CMD"].items()}
_RESULTS = {int(k): str(v.name) for k, v in _D.enums["MAV_RESULT"].items()}
FORCE_ARM_MAGIC = 21196.0


def command_name(command: int) -> str:
    """``MAV_CMD_...`` name of a command number."""
    return _CMD_NAMES.get(command, f"MAV_CMD {command}")


def command(link: Link, target: Target, command_id: int, params: Sequence[float] = (),
            retry: Retry = DEFAULT_RETRY) -> None:
    """Send COMMAND_LONG and wait until the vehicle accepts it.

    Raises
    ------
    CommandRejected
        The vehicle answered with a result other than ACCEPTED (or IN_PROGRESS then a failure).
    LinkTimeout
        No COMMAND_ACK after every retry.
    """
    p = [float(v) for v in (*params, 0, 0, 0, 0, 0, 0, 0)][:7]
    name = command_name(command_id)
    texts: list[str] = []

    def accept(msg: Message) -> bool:
        if msg.get_srcSystem() != target.sysid:
            return False
        kind = msg.get_type()
        return bool(kind == "STATUSTEXT" or (kind == "COMMAND_ACK"
                                             and msg.command == command_id))

    with link.subscribe(accept) as sub:
        for confirmation in range(retry.tries):
            link.send(link.mav.command_long_encode(target.sysid, target.compid, command_id,
                                                   confirmation, *p))
            end = time.monotonic() + retry.timeout_s
            while (left := end - time.monotonic()) > 0:
                msg = sub.get(left)
                if msg is None:
                    break
                if msg.get_type() == "STATUSTEXT":
                    texts.append(str(msg.text))
                    continue
                if msg.result == _D.MAV_RESULT_ACCEPTED:
                    return
                if msg.result == _D.MAV_RESULT_IN_PROGRESS:
                    end = time.monotonic() + retry.timeout_s
                    continue
                detail = next((t for t in reversed(texts)
                               if t.startswith(("PreArm", "Arm", "Disarm", "Mode", "Fence"))),
                              texts[-1] if texts else None)
                raise CommandRejected(name, _RESULTS.get(int(msg.result), str(msg.result)),
                                      params=tuple(p), sysid=target.sysid, detail=detail)
    raise LinkTimeout(f"COMMAND_ACK for {name}", timeout_s=retry.tries * retry.timeout_s,
                      sysid=target.sysid)


def arm(link: Link, target: Target, *, force: bool = False, retry: Retry = DEFAULT_RETRY) -> None:
    """Arm the motors (MAV_CMD_COMPONENT_ARM_DISARM)."""
    command(link, target, _D.MAV_CMD_COMPONENT_ARM_DISARM,
            (1, FORCE_ARM_MAGIC if force else 0), retry)


def disarm(link: Link, target: Target, *, force: bool = False,
           retry: Retry = DEFAULT_RETRY) -> None:
    """Disarm the motors."""
    command(link, target, _D.MAV_CMD_COMPONENT_ARM_DISARM,
            (0, FORCE_ARM_MAGIC if force else 0), retry)


def set_mode(link: Link, target: Target, mode: str, retry: Retry = DEFAULT_RETRY) -> None:
    """Switch to an ArduCopter flight mode by name (``GUIDED``, ``AUTO``, ``BRAKE``...)."""
    if mode not in mav.COPTER_MODES:
        raise CommandRejected("MAV_CMD_DO_SET_MODE", f"unknown mode {mode!r}",
                              sysid=target.sysid)
    command(link, target, _D.MAV_CMD_DO_SET_MODE,
            (_D.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED, mav.COPTER_MODES[mode]), retry)


def mission_start(link: Link, target: Target, retry: Retry = DEFAULT_RETRY) -> None:
    """Start the mission from its first item (MAV_CMD_MISSION_START, p1 = p2 = 0)."""
    command(link, target, _D.MAV_CMD_MISSION_START, (0, 0), retry)


def takeoff(link: Link, target: Target, alt_rel_m: float, retry: Retry = DEFAULT_RETRY) -> None:
    """Take off in GUIDED to ``alt_rel_m`` above home."""
    command(link, target, _D.MAV_CMD_NAV_TAKEOFF, (0, 0, 0, float("nan"), 0, 0, alt_rel_m),
            retry)


def release_gripper(link: Link, target: Target, retry: Retry = DEFAULT_RETRY) -> None:
    """Open the gripper (MAV_CMD_DO_GRIPPER instance 1, release)."""
    command(link, target, _D.MAV_CMD_DO_GRIPPER, (1, _D.GRIPPER_ACTION_RELEASE), retry)


def _param_id(name: str) -> bytes:
    if not 0 < len(name) <= 16:
        raise ValueError(f"Expected a parameter name of 1 to 16 characters, got {name!r}")
    return name.encode("ascii")


def _same32(a: float, b: float) -> bool:
    return bool(struct.pack("<f", a) == struct.pack("<f", b))


def param_get(link: Link, target: Target, name: str, retry: Retry = DEFAULT_RETRY) -> float:
    """Read one parameter (PARAM_REQUEST_READ -> PARAM_VALUE)."""
    def accept(msg: Message) -> bool:
        return bool(msg.get_type() == "PARAM_VALUE" and msg.get_srcSystem() == target.sysid
                    and msg.param_id == name)

    with link.subscribe(accept) as sub:
        for _ in range(retry.tries):
            link.send(link.mav.param_request_read_encode(target.sysid, target.compid,
                                                         _param_id(name), -1))
            msg = sub.get(retry.timeout_s)
            if msg is not None:
                return float(msg.param_value)
    raise LinkTimeout(f"PARAM_VALUE {name}", timeout_s=retry.tries * retry.timeout_s,
                      sysid=target.sysid)


def param_set(link: Link, target: Target, name: str, value: float,
              retry: Retry = DEFAULT_RETRY) -> float:
    """Set one parameter and wait for the vehicle to report the new value.

    Raises
    ------
    CommandRejected
        The vehicle kept another value (unknown parameter or out of range).
    """
    def accept(msg: Message) -> bool:
        return bool(msg.get_type() == "PARAM_VALUE" and msg.get_srcSystem() == target.sysid
                    and msg.param_id == name)

    last: float | None = None
    with link.subscribe(accept) as sub:
        for _ in range(retry.tries):
            link.send(link.mav.param_set_encode(target.sysid, target.compid, _param_id(name),
                                                value, _D.MAV_PARAM_TYPE_REAL32))
            msg = sub.get(retry.timeout_s)
            if msg is None:
                continue
            last = float(msg.param_value)
            if _same32(last, value):
                return last
    if last is not None:
        raise CommandRejected("PARAM_SET", f"{name} stayed {last:g}", params=(value,),
                              sysid=target.sysid, detail=f"asked for {value:g}")
    raise LinkTimeout(f"PARAM_VALUE after setting {name}",
                      timeout_s=retry.tries * retry.timeout_s, sysid=target.sysid)


#: Tries for a parameter the vehicle may not have (it does not answer for unknown ones).
OPTIONAL_PARAM_RETRY = Retry(timeout_s=1.0, tries=2)


def param_get_optional(link: Link, target: Target, name: str,
                       retry: Retry = OPTIONAL_PARAM_RETRY) -> float | None:
    """Read one parameter the vehicle may not have: its value, or None when unanswered."""
    try:
        return param_get(link, target, name, retry)
    except LinkTimeout:
        return None


def vehicle_speedup(link: Link, target: Target, retry: Retry = OPTIONAL_PARAM_RETRY) -> float:
    """How many times faster than the wall clock the vehicle runs: its ``SIM_SPEEDUP``.

    Simulators (ArduPilot SITL, the built-in one) have the parameter; a real flight controller
    has none and runs at 1x. Values that are not a positive number count as 1.
    """
    value = param_get_optional(link, target, "SIM_SPEEDUP", retry)
    if value is None or not (value > 0 and math.isfinite(value)):
        return 1.0
    return float(value)


#: SET_POSITION_TARGET type mask: position only (velocity, acceleration, yaw ignored).
_POSITION_ONLY = 0x0DF8


def goto(link: Link, target: Target, lat_deg: float, lon_deg: float, alt_rel_m: float) -> None:
    """Fly to a point in GUIDED, ``alt_rel_m`` above home (SET_POSITION_TARGET_GLOBAL_INT).

    Fire and forget: the vehicle acknowledges nothing; watch its position.
    """
    link.send(link.mav.set_position_target_global_int_encode(
        0, target.sysid, target.compid, _D.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT, _POSITION_ONLY,
        round(lat_deg * 1e7), round(lon_deg * 1e7), alt_rel_m, 0, 0, 0, 0, 0, 0, 0, 0))
