"""Flight modes of a simulated copter: which changes ArduCopter accepts and what each mode flies.

A mode change is refused with ArduCopter's text when a failed motor allows only LAND, when a
position mode has no GPS, or when AUTO is entered on the ground without a take-off first. Out of
AUTO, the mode runs one flight task (:mod:`sitl.builtin.flight.tasks`): LAND and a landing RTL
disarm when done, a take-off or an RTL that does not land holds. The mode constants live in
:mod:`sitl.builtin.modes`.
"""

from __future__ import annotations

from typing import Protocol

from gcs.mavlink import dialect as mav
from sitl.builtin.flight import tasks as flight
from sitl.builtin.flight.auto import MissionRunner
from sitl.builtin.flight.failsafe import Failsafes
from sitl.builtin.modes import MODE, POSITION_MODES, SUPPORTED_MODES, mode_name
from sitl.builtin.protocol.telemetry import Telemetry

#: Descent speed of the forced landing after a motor failure (m/s).
MOTOR_FAILURE_LAND_M_S = 2.5
_RETURN_MODES = (MODE["RTL"], MODE["SMART_RTL"])


class ModeHost(flight.FlightHost, Protocol):
    """What the mode logic needs from its vehicle."""

    mode: int
    task: flight.Task
    motor_failed: bool

    @property
    def armed(self) -> bool: ...

    @property
    def flying(self) -> bool: ...

    @property
    def gps_lost(self) -> bool: ...

    @property
    def runner(self) -> MissionRunner: ...

    @property
    def telemetry(self) -> Telemetry: ...

    @property
    def failsafes(self) -> Failsafes: ...

    def rtl_task(self) -> flight.Rtl: ...

    def disarm(self, *, reason: str = "gcs", force: bool = False) -> bool: ...


class ModeControl:
    """Mode changes of one vehicle, and the flight task its present mode runs.

    Parameters
    ----------
    host
        The vehicle whose ``mode`` and ``task`` this sets.
    """

    def __init__(self, host: ModeHost) -> None:
        self._v = host

    def set_mode(self, mode: int, *, reason: str = "gcs") -> bool:
        """Change flight mode as ArduCopter does; False (and a STATUSTEXT) when refused."""
        v = self._v
        if mode not in SUPPORTED_MODES:
            return False
        if v.motor_failed and mode != MODE["LAND"] and v.flying:
            v.text(mav.MAV_SEVERITY_WARNING, "Flight mode change failed")
            return False
        if mode in POSITION_MODES and mode != MODE["LAND"] and v.gps_lost:
            v.text(mav.MAV_SEVERITY_WARNING,
                   f"Mode change to {mode_name(mode)} failed: requires position")
            return False
        if (mode == MODE["AUTO"] and v.armed and v.body.on_ground
                and not v.runner.first_nav_is_takeoff()):
            v.text(mav.MAV_SEVERITY_WARNING, "Auto: Missing Takeoff Cmd")
            v.text(mav.MAV_SEVERITY_WARNING, "Mode change to AUTO failed: init failed")
            return False
        if v.mode == MODE["AUTO"] and mode != MODE["AUTO"]:
            v.runner.stop()
        v.mode = mode
        v.telemetry.heartbeat_now()
        if reason != "internal":
            v.failsafes.on_mode_change()
        self._enter_mode()
        return True

    def _enter_mode(self) -> None:
        v = self._v
        mode = v.mode
        if mode == MODE["AUTO"]:
            v.task = flight.Idle()
            if v.armed:
                v.runner.start_or_resume()
            return
        if not v.armed or v.body.on_ground:
            v.task = flight.Idle()
            if (mode in _RETURN_MODES or mode == MODE["LAND"]) and v.armed:
                v.disarm(reason="landed")
            return
        if mode in _RETURN_MODES:
            v.task = v.rtl_task()
        elif mode == MODE["LAND"]:
            v.task = flight.Land(speed_m_s=MOTOR_FAILURE_LAND_M_S if v.motor_failed else None)
        else:
            v.task = flight.Hold()
        v.task.start(v)

    def motor_failure(self) -> None:
        """A motor fails: land at once; no other mode is accepted while flying."""
        v = self._v
        v.motor_failed = True
        if not (v.armed and v.flying):
            return
        v.text(mav.MAV_SEVERITY_CRITICAL, "Motor failure: forced landing")
        if v.mode != MODE["LAND"]:
            v.mode = MODE["LAND"]
            v.telemetry.heartbeat_now()
            v.runner.stop()
        v.task = flight.Land(speed_m_s=MOTOR_FAILURE_LAND_M_S)
        v.task.start(v)

    def update(self, dt_s: float) -> None:
        """One simulation step of the present mode (nothing while disarmed)."""
        v = self._v
        if not v.armed:
            return
        if v.mode == MODE["AUTO"]:
            v.runner.update(dt_s)
            return
        task = v.task
        task.step(v, dt_s)
        if not task.done:
            return
        if isinstance(task, flight.Land) or (isinstance(task, flight.Rtl) and task.landing):
            v.landed()
            v.disarm(reason="landed")
        elif isinstance(task, flight.Rtl | flight.Takeoff):
            v.task = flight.Hold()
            v.task.start(v)
