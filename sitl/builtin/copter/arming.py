"""Arming a simulated copter: pre-arm checks and their reports, arm, disarm and auto-disarm.

As ArduCopter: once GPS and the EKF have settled the vehicle says "EKF3 IMU0 is using GPS" and
takes home where it stands (and again at each arming); while disarmed it runs the pre-arm checks
once a second and reports a failing one as "PreArm: ..." when it starts failing and every
:data:`PREARM_PERIOD_S` after; an arm request is refused with the text "Arm: ..."; armed and idle
on the ground, it disarms by itself after ``DISARM_DELAY`` seconds.
"""

from __future__ import annotations

from typing import Protocol

from gcs.mavlink import dialect as mav
from sitl.builtin.copter.navigation import Navigation
from sitl.builtin.copter.storage import MissionStorage
from sitl.builtin.flight import tasks as flight
from sitl.builtin.flight.auto import COMPLETE, MissionRunner
from sitl.builtin.flight.battery import DepotSwap
from sitl.builtin.flight.failsafe import Failsafes
from sitl.builtin.flight.geo import LocalFrame
from sitl.builtin.flight.physics import Body
from sitl.builtin.mission import MISSION
from sitl.builtin.modes import MODE, NOT_ARMABLE, POSITION_MODES
from sitl.builtin.params import ParamStore
from sitl.builtin.protocol.telemetry import Telemetry

#: Simulated seconds between two reports of the same failing pre-arm check.
PREARM_PERIOD_S = 30.0
#: Simulated seconds between two runs of the pre-arm checks while disarmed.
PREARM_CHECK_S = 1.0


class ArmingHost(Protocol):
    """What arming needs from its vehicle."""

    flying: bool
    task: flight.Task
    home: tuple[float, float, float]

    @property
    def t(self) -> float: ...

    @property
    def params(self) -> ParamStore: ...

    @property
    def body(self) -> Body: ...

    @property
    def mode(self) -> int: ...

    @property
    def ready(self) -> bool: ...

    @property
    def frame(self) -> LocalFrame: ...

    @property
    def storage(self) -> MissionStorage: ...

    @property
    def runner(self) -> MissionRunner: ...

    @property
    def failsafes(self) -> Failsafes: ...

    @property
    def telemetry(self) -> Telemetry: ...

    @property
    def depot_swap(self) -> DepotSwap: ...

    @property
    def navigation(self) -> Navigation: ...

    def text(self, severity: int, text: str) -> None: ...

    def ground_alt_m(self, n_m: float, e_m: float) -> float: ...

    def home_distance_m(self) -> float: ...


class Arming:
    """Whether one vehicle is armed, and the checks and timers around it.

    Parameters
    ----------
    host
        The vehicle armed and disarmed.
    """

    def __init__(self, host: ArmingHost) -> None:
        self._v = host
        #: Motors armed.
        self.armed = False
        #: Simulated time of the last arming (s).
        self.arm_time_s = -1e9
        #: Result of the last pre-arm check run (the PREARM_CHECK bit of SYS_STATUS).
        self.prearm_ok_cached = False
        self._prearm_ok: bool | None = None
        self._prearm_shown_s = -1e9
        self._prearm_check_s = -1e9
        self._disarm_timer_s = 0.0
        self._announced_gps = False
        #: Home has been set since boot (when GPS became usable, or by arming).
        self.home_set = False

    def since_arm_s(self) -> float:
        """Seconds since the motors were armed."""
        return self._v.t - self.arm_time_s

    def prearm_failure(self) -> str | None:
        """The first failing pre-arm check (without the "PreArm: " prefix), or None."""
        v = self._v
        if v.params["ARMING_CHECK"] == 0:
            return None
        if not v.ready:
            return "Need Position Estimate"
        fence = v.failsafes.fence_prearm()
        if fence is not None:
            return fence
        return v.failsafes.battery_prearm()

    def arm(self, *, force: bool = False) -> tuple[bool, str | None]:
        """Arm; returns (success, refusal text)."""
        v = self._v
        if self.armed:
            return True, None
        if v.mode in NOT_ARMABLE:
            return False, "Arm: Mode not armable"
        if v.mode == MODE["AUTO"]:
            if len(v.storage.items(MISSION)) <= 1:
                return False, "Arm: Mode requires mission"
            if not int(v.params["AUTO_OPTIONS"]) & 1:
                return False, "Arm: AUTO mode not armable"
        if not force:
            failure = self.prearm_failure()
            if failure is not None:
                return False, f"Arm: {failure}"
        elif not v.ready and v.mode in POSITION_MODES:
            return False, "Arm: Need Position Estimate"
        self.armed = True
        self.arm_time_s = v.t
        v.depot_swap.cancel()
        self._disarm_timer_s = 0.0
        self._set_home_here()
        v.telemetry.on_arm()
        v.text(mav.MAV_SEVERITY_INFO, "Arming motors")
        if v.mode == MODE["AUTO"] and int(v.params["AUTO_OPTIONS"]) & 2:
            v.runner.start_or_resume()
        return True, None

    def disarm(self, *, reason: str = "gcs", force: bool = False) -> bool:
        """Disarm; refused in flight unless forced (or not asked by the ground station)."""
        v = self._v
        if not self.armed:
            return True
        if v.flying and not force and reason == "gcs":
            return False
        self.armed = False
        v.text(mav.MAV_SEVERITY_INFO, "Disarming motors")
        body = v.body
        if v.flying:
            v.flying = False
            body.place(body.n_m, body.e_m, v.ground_alt_m(body.n_m, body.e_m))
        body.on_ground = True
        v.task = flight.Idle()
        if v.runner.state != COMPLETE:
            v.runner.reset()
        else:
            v.runner.task = None
        v.navigation.speed_override.clear()
        v.depot_swap.disarmed(now_s=v.t, home_distance_m=v.home_distance_m())
        return True

    def lift_off(self) -> None:
        """The vehicle left the ground: it is no longer idle there."""
        self._disarm_timer_s = 0.0

    def reboot(self) -> None:
        """The flight controller restarted: GPS and the pre-arm checks start over."""
        self._announced_gps = False
        self.prearm_ok_cached = False
        self.home_set = False

    def update(self, dt_s: float) -> None:
        """One simulation step: GPS announcement, pre-arm reports, auto-disarm."""
        v = self._v
        if v.ready and not self._announced_gps:
            self._announced_gps = True
            v.text(mav.MAV_SEVERITY_INFO, "EKF3 IMU0 is using GPS")
            v.text(mav.MAV_SEVERITY_INFO, "EKF3 IMU1 is using GPS")
            if not self.home_set:
                self._set_home_here()
        if not self.armed:
            self._report_prearm()
            return
        self._prearm_ok = None
        if v.body.on_ground and not self._taking_off():
            self._disarm_timer_s += dt_s
            delay = v.params["DISARM_DELAY"]
            if delay > 0 and self._disarm_timer_s >= delay:
                self.disarm(reason="auto")
        else:
            self._disarm_timer_s = 0.0

    def _set_home_here(self) -> None:
        """Home exactly where the vehicle stands (SITL has no GPS error at rest; at boot that is
        its ``--home``); mission item 0 follows."""
        v = self._v
        lat, lon = v.frame.to_latlon(v.body.n_m, v.body.e_m)
        v.home = (lat, lon, v.body.alt_m)
        self.home_set = True
        v.storage.set_home(v.home)

    def _report_prearm(self) -> None:
        now = self._v.t
        if now - self._prearm_check_s < PREARM_CHECK_S - 1e-6:
            return
        self._prearm_check_s = now
        failure = self.prearm_failure()
        ok = failure is None
        self.prearm_ok_cached = ok
        due = now - self._prearm_shown_s >= PREARM_PERIOD_S - 1e-6
        if failure is not None and (self._prearm_ok is not False or due):
            self._v.text(mav.MAV_SEVERITY_CRITICAL, f"PreArm: {failure}")
            self._prearm_shown_s = now
        self._prearm_ok = ok

    def _taking_off(self) -> bool:
        v = self._v
        task: flight.Task | None = v.runner.task if v.mode == MODE["AUTO"] else v.task
        return isinstance(task, flight.Takeoff | flight.GoTo | flight.PayloadPlace) or (
            isinstance(task, flight.Land | flight.Rtl) and not task.done)
