"""COMMAND_LONG / COMMAND_INT of a simulated copter, with ArduCopter's results and ack order.

Where ArduCopter's answers interleave with other messages the order of the traces is kept:
DO_SET_MODE, arming and MISSION_START acknowledge first, then come the HEARTBEAT of the new
mode, HOME_POSITION and the texts ("Arming motors", "Mission: 1 Takeoff" twice).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from gcs.mavlink import dialect as mav
from sitl.builtin.flight import tasks as flight
from sitl.builtin.flight.auto import MissionRunner
from sitl.builtin.flight.battery import Battery
from sitl.builtin.flight.failsafe import Failsafes
from sitl.builtin.flight.geo import LocalFrame
from sitl.builtin.mission import MISSION, StoredItem, home_item
from sitl.builtin.modes import MODE
from sitl.builtin.protocol.telemetry import Telemetry

ACCEPTED = mav.MAV_RESULT_ACCEPTED
FAILED = mav.MAV_RESULT_FAILED
DENIED = mav.MAV_RESULT_DENIED
UNSUPPORTED = mav.MAV_RESULT_UNSUPPORTED
FORCE_MAGIC = 21196

_SET_MODE_MSG_ID = 11


class CommandHost(flight.FlightHost, Protocol):
    """What commands need from their vehicle (besides what the flight tasks they start need)."""

    task: flight.Task
    home: tuple[float, float, float]

    @property
    def outbox(self) -> list[Any]: ...

    @property
    def mode(self) -> int: ...

    @property
    def armed(self) -> bool: ...

    @property
    def frame(self) -> LocalFrame: ...

    @property
    def battery(self) -> Battery: ...

    @property
    def missions(self) -> dict[int, list[StoredItem]]: ...

    @property
    def runner(self) -> MissionRunner: ...

    @property
    def failsafes(self) -> Failsafes: ...

    @property
    def telemetry(self) -> Telemetry: ...

    def send(self, msg: Any) -> None: ...

    def position_deg(self) -> tuple[float, float]: ...

    def set_mode(self, mode: int, *, reason: str = "gcs") -> bool: ...

    def arm(self, *, force: bool = False) -> tuple[bool, str | None]: ...

    def disarm(self, *, reason: str = "gcs", force: bool = False) -> bool: ...

    def change_speed(self, speed_type: int, speed_m_s: float) -> None: ...

    def reboot(self) -> None: ...


class _Cmd:
    """A COMMAND_LONG or COMMAND_INT with float params and (for COMMAND_INT) an int position."""

    def __init__(self, msg: Any) -> None:
        self.command = int(msg.command)
        self.src = (msg.get_srcSystem(), msg.get_srcComponent())
        self.is_int = msg.get_type() == "COMMAND_INT"
        self.p = [msg.param1, msg.param2, msg.param3, msg.param4]
        if self.is_int:
            self.lat_deg = msg.x / 1e7
            self.lon_deg = msg.y / 1e7
            self.frame = int(msg.frame)
            self.p += [float(msg.x), float(msg.y), float(msg.z)]
        else:
            self.p += [msg.param5, msg.param6, msg.param7]
            self.lat_deg, self.lon_deg = msg.param5, msg.param6
            self.frame = mav.MAV_FRAME_GLOBAL_RELATIVE_ALT
        self.alt = self.p[6]


def _ack(v: CommandHost, cmd: _Cmd, result: int, at: int | None = None) -> None:
    msg = mav.MAVLink_command_ack_message(cmd.command, result, 0, 0, cmd.src[0], cmd.src[1])
    if at is None:
        v.send(msg)
    else:
        v.outbox.insert(at, msg)


def handle_command(v: CommandHost, msg: Any) -> None:
    """Run one COMMAND_LONG/COMMAND_INT and acknowledge it."""
    cmd = _Cmd(msg)
    handler = _COMMANDS.get(cmd.command)
    if handler is None:
        _ack(v, cmd, UNSUPPORTED)
        return
    handler(v, cmd)


def handle_set_mode(v: CommandHost, msg: Any) -> None:
    """SET_MODE message: acknowledged as COMMAND_ACK for command 11, before the HEARTBEAT."""
    at = len(v.outbox)
    ok = bool(msg.base_mode & mav.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED) and v.set_mode(
        int(msg.custom_mode))
    v.outbox.insert(at, mav.MAVLink_command_ack_message(
        _SET_MODE_MSG_ID, ACCEPTED if ok else FAILED, 0, 0, msg.get_srcSystem(),
        msg.get_srcComponent()))


def _do_set_mode(v: CommandHost, cmd: _Cmd) -> None:
    at = len(v.outbox)
    ok = int(cmd.p[0]) & mav.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED and v.set_mode(int(cmd.p[1]))
    _ack(v, cmd, ACCEPTED if ok else FAILED, at)


def _arm_disarm(v: CommandHost, cmd: _Cmd) -> None:
    at = len(v.outbox)
    force = round(cmd.p[1]) == FORCE_MAGIC
    if cmd.p[0] >= 0.5:
        ok, why = v.arm(force=force)
        _ack(v, cmd, ACCEPTED if ok else FAILED, at)
        if why:
            v.text(mav.MAV_SEVERITY_CRITICAL, why)
        return
    ok = v.disarm(reason="gcs", force=force)
    _ack(v, cmd, ACCEPTED if ok else FAILED, at)


def _mission_start(v: CommandHost, cmd: _Cmd) -> None:
    at = len(v.outbox)
    first = int(cmd.p[0])
    if first > 0 and not v.runner.set_current(first):
        _ack(v, cmd, DENIED)
        return
    if v.mode == MODE["AUTO"] and v.armed:
        v.runner.start_or_resume()
        _ack(v, cmd, ACCEPTED, at)
        return
    if not v.set_mode(MODE["AUTO"]):
        _ack(v, cmd, FAILED, at)
        return
    if v.armed:
        v.runner.resume()
    _ack(v, cmd, ACCEPTED, at)


def _takeoff(v: CommandHost, cmd: _Cmd) -> None:
    if v.mode != MODE["GUIDED"] or not v.armed or not v.body.on_ground:
        _ack(v, cmd, FAILED)
        return
    alt = v.home_alt_m() + max(cmd.alt, 1.0)
    v.task = flight.Takeoff(alt)
    v.task.start(v)
    _ack(v, cmd, ACCEPTED)


def _mode_command(mode_name: str) -> Callable[[CommandHost, _Cmd], None]:
    def run(v: CommandHost, cmd: _Cmd) -> None:
        at = len(v.outbox)
        _ack(v, cmd, ACCEPTED if v.set_mode(MODE[mode_name]) else FAILED, at)

    return run


def guided_goto(v: CommandHost, lat_deg: float, lon_deg: float, alt_m: float,
                frame: int) -> bool:
    """GUIDED target; the altitude is in ``frame`` (relative, terrain or AMSL)."""
    if v.mode != MODE["GUIDED"] or not v.armed or v.body.on_ground:
        return False
    n, e = v.frame.to_ne(lat_deg, lon_deg)
    if frame in (mav.MAV_FRAME_GLOBAL_RELATIVE_ALT, mav.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT):
        alt = v.home_alt_m() + alt_m
    elif frame in (mav.MAV_FRAME_GLOBAL_TERRAIN_ALT, mav.MAV_FRAME_GLOBAL_TERRAIN_ALT_INT):
        alt = v.ground_alt_m(n, e) + alt_m
    else:
        alt = alt_m
    v.task = flight.GoTo(n, e, alt)
    v.task.start(v)
    return True


def _reposition(v: CommandHost, cmd: _Cmd) -> None:
    if v.mode != MODE["GUIDED"] and int(cmd.p[1]) & 1 and v.armed:
        v.set_mode(MODE["GUIDED"])
    if cmd.p[0] > 0:
        v.change_speed(1, cmd.p[0])
    ok = guided_goto(v, cmd.lat_deg, cmd.lon_deg, cmd.alt, cmd.frame)
    _ack(v, cmd, ACCEPTED if ok else FAILED)


def _change_speed(v: CommandHost, cmd: _Cmd) -> None:
    v.change_speed(int(cmd.p[0]), cmd.p[1])
    _ack(v, cmd, ACCEPTED)


def _set_home(v: CommandHost, cmd: _Cmd) -> None:
    if cmd.p[0] >= 1:
        lat, lon = v.position_deg()
        v.home = (lat, lon, v.body.alt_m)
    else:
        v.home = (cmd.lat_deg, cmd.lon_deg, cmd.alt)
    v.missions[MISSION] = [home_item(*v.home), *v.missions[MISSION][1:]]
    _ack(v, cmd, ACCEPTED)
    v.send(v.telemetry.home_position())


def _fence_enable(v: CommandHost, cmd: _Cmd) -> None:
    v.params.set("FENCE_ENABLE", 1.0 if cmd.p[0] >= 1 else 0.0)
    _ack(v, cmd, ACCEPTED)


def _gripper(v: CommandHost, cmd: _Cmd) -> None:
    if v.params["GRIP_ENABLE"] < 1:
        _ack(v, cmd, FAILED)
        return
    if cmd.p[1] == 0:
        v.payload.release(announce=False)
    else:
        v.payload.grab(announce=False)
    _ack(v, cmd, ACCEPTED)


def _set_mission_current(v: CommandHost, cmd: _Cmd) -> None:
    ok = v.runner.set_current(int(cmd.p[0]))
    _ack(v, cmd, ACCEPTED if ok else DENIED)
    if ok:
        v.send(v.telemetry.mission_current())


def _pause_continue(v: CommandHost, cmd: _Cmd) -> None:
    if v.mode != MODE["AUTO"] or not v.armed:
        _ack(v, cmd, FAILED)
        return
    if cmd.p[0] == 0:
        v.runner.pause()
    else:
        v.runner.unpause()
    _ack(v, cmd, ACCEPTED)


def _battery_reset(v: CommandHost, cmd: _Cmd) -> None:
    v.battery.reset(min(max(cmd.p[1], 0.0), 100.0))
    v.failsafes.battery_level = 0
    _ack(v, cmd, ACCEPTED)


def _set_message_interval(v: CommandHost, cmd: _Cmd) -> None:
    ok = v.telemetry.set_interval(int(cmd.p[0]), cmd.p[1])
    _ack(v, cmd, ACCEPTED if ok else FAILED)


def _request_message(v: CommandHost, cmd: _Cmd) -> None:
    name = v.telemetry.name_of(int(cmd.p[0]))
    if name is None or name not in v.telemetry.builders:
        _ack(v, cmd, FAILED)
        return
    _ack(v, cmd, ACCEPTED)
    v.telemetry.send_once(int(cmd.p[0]))


def _home_position(v: CommandHost, cmd: _Cmd) -> None:
    _ack(v, cmd, ACCEPTED)
    v.send(v.telemetry.home_position())


def _capabilities(v: CommandHost, cmd: _Cmd) -> None:
    v.send(v.telemetry.autopilot_version())
    _ack(v, cmd, ACCEPTED)


def _accept(v: CommandHost, cmd: _Cmd) -> None:
    _ack(v, cmd, ACCEPTED)


def _terminate(v: CommandHost, cmd: _Cmd) -> None:
    if cmd.p[0] > 0.5:
        v.disarm(reason="terminate", force=True)
    _ack(v, cmd, ACCEPTED)


def _reboot(v: CommandHost, cmd: _Cmd) -> None:
    if v.armed or int(cmd.p[0]) != 1:
        _ack(v, cmd, FAILED if v.armed else UNSUPPORTED)
        return
    _ack(v, cmd, ACCEPTED)
    v.reboot()


_COMMANDS: dict[int, Callable[[CommandHost, _Cmd], None]] = {
    mav.MAV_CMD_DO_SET_MODE: _do_set_mode,
    mav.MAV_CMD_COMPONENT_ARM_DISARM: _arm_disarm,
    mav.MAV_CMD_MISSION_START: _mission_start,
    mav.MAV_CMD_NAV_TAKEOFF: _takeoff,
    mav.MAV_CMD_NAV_RETURN_TO_LAUNCH: _mode_command("RTL"),
    mav.MAV_CMD_NAV_LAND: _mode_command("LAND"),
    mav.MAV_CMD_NAV_LOITER_UNLIM: _mode_command("LOITER"),
    mav.MAV_CMD_DO_REPOSITION: _reposition,
    mav.MAV_CMD_DO_CHANGE_SPEED: _change_speed,
    mav.MAV_CMD_DO_SET_HOME: _set_home,
    mav.MAV_CMD_DO_FENCE_ENABLE: _fence_enable,
    mav.MAV_CMD_DO_GRIPPER: _gripper,
    mav.MAV_CMD_DO_SET_MISSION_CURRENT: _set_mission_current,
    mav.MAV_CMD_DO_PAUSE_CONTINUE: _pause_continue,
    mav.MAV_CMD_BATTERY_RESET: _battery_reset,
    mav.MAV_CMD_SET_MESSAGE_INTERVAL: _set_message_interval,
    mav.MAV_CMD_REQUEST_MESSAGE: _request_message,
    mav.MAV_CMD_GET_HOME_POSITION: _home_position,
    mav.MAV_CMD_REQUEST_AUTOPILOT_CAPABILITIES: _capabilities,
    mav.MAV_CMD_CONDITION_YAW: _accept,
    mav.MAV_CMD_DO_SET_SERVO: _accept,
    mav.MAV_CMD_DO_FLIGHTTERMINATION: _terminate,
    mav.MAV_CMD_PREFLIGHT_REBOOT_SHUTDOWN: _reboot,
}
