"""Flight tasks: what the position controller is doing (take off, fly to, hold, land, RTL...).

A task drives the vehicle's :class:`~sitl.builtin.flight.physics.Body` one step at a time and
reports when it is done. Modes (GUIDED, LOITER, RTL, LAND) and the AUTO mission run them; their
timings are fitted to the measured ArduCopter SITL traces (first take-off after arming about 3 s
of motor spool-up, landing detected about 2 s after touchdown, gripper released 0.55 s after the
command).
"""

from __future__ import annotations

import math
from typing import Protocol

from sitl.builtin.flight.payload import GRIPPER_RELEASE_S, Payload
from sitl.builtin.flight.physics import Body, Limits
from sitl.builtin.params import ParamStore

#: Motor spool-up and take-off checks before the first climb after arming (s).
SPOOL_UP_S = 3.0
#: Delay before climbing when already armed on the ground (after a landing).
RETAKEOFF_S = 1.2
#: Payload place: pause before the descent starts and before the climb back (s).
PAYLOAD_START_S = 1.0
PAYLOAD_CLIMB_S = 0.55
#: Land detector: time on the ground before "landed" (s).
LAND_DETECT_S = 2.1
#: Payload place: time from touchdown to the release decision (s).
PAYLOAD_TOUCH_S = 0.5
#: Take-off counts as complete this close to the target altitude (m).
TAKEOFF_DONE_M = 0.25
#: Settling at a waypoint where the vehicle stops, before it counts as reached (s).
WP_SETTLE_S = 0.9
#: RTL: time to start the return after the climb check, and to settle over the return point.
RTL_START_S = 1.0
#: Descents aim this far below the ground so that touchdown happens at full descent speed.
_BELOW_GROUND_M = 2.0


class FlightHost(Protocol):
    """What a flight task needs from its vehicle."""

    @property
    def body(self) -> Body: ...

    @property
    def params(self) -> ParamStore: ...

    @property
    def payload(self) -> Payload: ...

    def limits(self) -> Limits: ...

    def since_arm_s(self) -> float: ...

    def ground_alt_m(self, n_m: float, e_m: float) -> float: ...

    def home_alt_m(self) -> float: ...

    def text(self, severity: int, text: str) -> None: ...

    def lift_off(self) -> None: ...

    def touch_down(self, speed_m_s: float) -> None: ...

    def landed(self) -> None: ...


class Task:
    """Base class: a task is stepped until :attr:`done`."""

    name = "task"

    def __init__(self) -> None:
        self.done = False

    def start(self, v: FlightHost) -> None:
        """Called once when the task becomes active."""

    def step(self, v: FlightHost, dt_s: float) -> None:
        """Advance by ``dt_s``."""


class Hold(Task):
    """Brake and hold position (LOITER, BRAKE, GUIDED without a target, end of a mission)."""

    name = "hold"

    def start(self, v: FlightHost) -> None:
        if v.body.on_ground:
            return
        v.body.stop(v.limits())

    def step(self, v: FlightHost, dt_s: float) -> None:
        if not v.body.on_ground:
            v.body.step(dt_s)


class Idle(Task):
    """On the ground, motors idle or stopped."""

    name = "idle"


class Takeoff(Task):
    """Vertical climb to ``alt_amsl_m`` (after spool-up when starting from the ground)."""

    name = "takeoff"

    def __init__(self, alt_amsl_m: float) -> None:
        super().__init__()
        self.alt_amsl_m = alt_amsl_m
        self.wait_s = 0.0

    def start(self, v: FlightHost) -> None:
        if v.body.on_ground:
            self.wait_s = SPOOL_UP_S if v.since_arm_s() < SPOOL_UP_S + 1.0 else RETAKEOFF_S
        if v.body.alt_m >= self.alt_amsl_m - TAKEOFF_DONE_M:
            self.done = True
            return
        v.body.track_to(v.body.n_m, v.body.e_m, self.alt_amsl_m, v.limits())

    def step(self, v: FlightHost, dt_s: float) -> None:
        if self.wait_s > 0:
            self.wait_s -= dt_s
            return
        if v.body.on_ground:
            v.lift_off()
        v.body.step(dt_s)
        if v.body.remaining_m <= TAKEOFF_DONE_M:
            self.done = True


class GoTo(Task):
    """Straight line to a point; ``end_speed_m_s`` > 0 passes through it."""

    name = "goto"

    def __init__(self, n_m: float, e_m: float, alt_amsl_m: float, *, end_speed_m_s: float = 0.0,
                 radius_m: float = 0.0) -> None:
        super().__init__()
        self.target = (n_m, e_m, alt_amsl_m)
        self.end_speed_m_s = end_speed_m_s
        self.radius_m = radius_m
        self.settle_s = 0.0

    def start(self, v: FlightHost) -> None:
        if v.body.on_ground:
            v.lift_off()
        v.body.track_to(*self.target, v.limits(), end_speed_m_s=self.end_speed_m_s)

    def retarget_speed(self, v: FlightHost) -> None:
        """Apply new speed limits to the leg being flown."""
        v.body.track_to(*self.target, v.limits(), end_speed_m_s=self.end_speed_m_s)

    def step(self, v: FlightHost, dt_s: float) -> None:
        v.body.step(dt_s)
        if self.end_speed_m_s > 0:
            self.done = v.body.remaining_m <= self.radius_m or v.body.arrived
        elif v.body.arrived:
            self.settle_s += dt_s
            self.done = self.settle_s >= WP_SETTLE_S


class Land(Task):
    """Fly to (n, e) at the current altitude if given, then descend and land.

    Descends at ``LAND_SPEED_HIGH`` (or ``WPNAV_SPEED_DN``) down to ``LAND_ALT_LOW`` above the
    ground, then at ``LAND_SPEED``; done once the land detector has seen the ground for
    :data:`LAND_DETECT_S`.
    """

    name = "land"

    def __init__(self, n_m: float | None = None, e_m: float | None = None, *,
                 speed_m_s: float | None = None) -> None:
        super().__init__()
        self.point = None if n_m is None or e_m is None else (n_m, e_m)
        self.fixed_speed_m_s = speed_m_s
        self.phase = "approach"
        self.ground_s = 0.0

    def start(self, v: FlightHost) -> None:
        if v.body.on_ground:
            self.phase = "landed"
            self.done = True
            return
        if self.point is not None and math.hypot(self.point[0] - v.body.n_m,
                                                 self.point[1] - v.body.e_m) > 1.0:
            v.body.track_to(self.point[0], self.point[1], v.body.alt_m, v.limits())
        else:
            self._descend(v)

    def _descend(self, v: FlightHost) -> None:
        self.phase = "descend"
        ground = v.ground_alt_m(v.body.n_m, v.body.e_m)
        v.body.track_to(v.body.n_m, v.body.e_m, ground - _BELOW_GROUND_M, self._limits(v))

    def _limits(self, v: FlightHost) -> Limits:
        limits = v.limits()
        agl = v.body.alt_m - v.ground_alt_m(v.body.n_m, v.body.e_m)
        if self.fixed_speed_m_s is not None:
            limits.speed_dn = self.fixed_speed_m_s
        elif agl > v.params["LAND_ALT_LOW"] / 100.0:
            high = v.params["LAND_SPEED_HIGH"] / 100.0
            limits.speed_dn = high if high > 0 else v.params["WPNAV_SPEED_DN"] / 100.0
        else:
            limits.speed_dn = v.params["LAND_SPEED"] / 100.0
        return limits

    def step(self, v: FlightHost, dt_s: float) -> None:
        body = v.body
        if self.phase == "approach":
            body.step(dt_s)
            if body.arrived:
                self._descend(v)
            return
        if self.phase == "descend":
            limits = self._limits(v)
            ground = v.ground_alt_m(body.n_m, body.e_m)
            if limits.speed_dn != body.limits.speed_dn:
                body.track_to(body.n_m, body.e_m, ground - _BELOW_GROUND_M, limits)
            body.step(dt_s)
            if body.alt_m <= ground:
                speed = -body.vu
                body.place(body.n_m, body.e_m, ground)
                v.touch_down(speed)
                self.phase = "ground"
            return
        if self.phase == "ground":
            self.ground_s += dt_s
            if self.ground_s >= LAND_DETECT_S:
                self.phase = "landed"
                self.done = True
                v.landed()


class PayloadPlace(Task):
    """NAV_PAYLOAD_PLACE: go there, descend at the placement speed, release on touchdown, climb.

    ``max_descent_m`` (0 = no limit) aborts the descent without releasing.
    """

    name = "payload_place"

    def __init__(self, n_m: float, e_m: float, max_descent_m: float) -> None:
        super().__init__()
        self.point = (n_m, e_m)
        self.max_descent_m = max_descent_m
        self.phase = "approach"
        self.start_alt_m = 0.0
        self.timer_s = 0.0
        self.wait_s = 0.0

    def start(self, v: FlightHost) -> None:
        self.start_alt_m = v.body.alt_m
        if math.hypot(self.point[0] - v.body.n_m, self.point[1] - v.body.e_m) > 1.0:
            v.body.track_to(self.point[0], self.point[1], v.body.alt_m, v.limits())
        else:
            self._descend(v)

    def _descend(self, v: FlightHost) -> None:
        self.phase = "descend"
        self.wait_s = PAYLOAD_START_S
        self.start_alt_m = v.body.alt_m
        limits = v.limits()
        pldp = v.params["PLDP_SPEED_DN"]
        limits.speed_dn = pldp if pldp > 0 else v.params["LAND_SPEED"] / 100.0
        ground = v.ground_alt_m(v.body.n_m, v.body.e_m) - _BELOW_GROUND_M
        floor = ground if self.max_descent_m <= 0 else max(ground,
                                                           self.start_alt_m - self.max_descent_m)
        v.body.track_to(v.body.n_m, v.body.e_m, floor, limits)

    def step(self, v: FlightHost, dt_s: float) -> None:
        body = v.body
        if self.phase == "approach":
            body.step(dt_s)
            if body.arrived:
                self._descend(v)
        elif self.phase == "descend":
            if self.wait_s > 0:
                self.wait_s -= dt_s
                return
            body.step(dt_s)
            ground = v.ground_alt_m(body.n_m, body.e_m)
            if body.alt_m <= ground:
                speed = -body.vu
                body.place(body.n_m, body.e_m, ground)
                v.touch_down(speed)
                self.phase = "touched"
                self.timer_s = 0.0
            elif body.arrived:
                v.text(6, "PayloadPlace: Reached maximum descent")
                self._climb(v)
        elif self.phase == "touched":
            self.timer_s += dt_s
            if self.timer_s >= PAYLOAD_TOUCH_S:
                threshold = v.params["PLDP_THRESH"] * v.params["MOT_THST_HOVER"]
                v.text(6, f"PayloadPlace: payload release thrust threshold: {threshold:f}")
                v.text(6, "PayloadPlace: Releasing the gripper")
                v.payload.release(announce=False)
                self.phase = "releasing"
                self.timer_s = 0.0
        elif self.phase == "releasing":
            self.timer_s += dt_s
            if self.timer_s >= GRIPPER_RELEASE_S:
                self._climb(v)
        elif self.phase == "climb":
            if self.wait_s > 0:
                self.wait_s -= dt_s
                return
            if body.on_ground:
                v.lift_off()
            body.step(dt_s)
            if body.remaining_m <= TAKEOFF_DONE_M:
                self.done = True

    def _climb(self, v: FlightHost) -> None:
        self.phase = "climb"
        self.wait_s = PAYLOAD_CLIMB_S if v.body.on_ground else 0.0
        v.body.track_to(v.body.n_m, v.body.e_m, self.start_alt_m, v.limits())


class Rtl(Task):
    """Return to launch: climb to RTL_ALT, fly to the return point, loiter, then land there.

    ``RTL_ALT_FINAL`` > 0 ends hovering at that height instead of landing.
    """

    name = "rtl"

    def __init__(self, n_m: float, e_m: float, ground_alt_m: float) -> None:
        super().__init__()
        self.point = (n_m, e_m)
        self.point_ground_m = ground_alt_m
        self.phase = "climb"
        self.timer_s = 0.0
        self.wait_s = RTL_START_S
        self.land: Land | None = None

    def start(self, v: FlightHost) -> None:
        if v.body.on_ground:
            self.done = True
            return
        rtl_alt = max(v.params["RTL_ALT"] / 100.0, v.params["RTL_CLIMB_MIN"] / 100.0)
        home_alt = v.home_alt_m()
        self.return_alt_m = max(v.body.alt_m, home_alt + rtl_alt)
        if v.body.alt_m < self.return_alt_m - 0.5:
            v.body.track_to(v.body.n_m, v.body.e_m, self.return_alt_m, v.limits())
        else:
            self._return(v)

    def _return(self, v: FlightHost) -> None:
        self.phase = "return"
        if self.wait_s > 0:
            v.body.stop(v.limits())
            return
        limits = v.limits()
        rtl_speed = v.params["RTL_SPEED"] / 100.0
        if rtl_speed > 0:
            limits.speed_xy = rtl_speed
        v.body.track_to(self.point[0], self.point[1], self.return_alt_m, limits)

    def step(self, v: FlightHost, dt_s: float) -> None:
        body = v.body
        if self.phase == "climb":
            body.step(dt_s)
            if body.arrived:
                self._return(v)
        elif self.phase == "return":
            if self.wait_s > 0:
                self.wait_s -= dt_s
                body.step(dt_s)
                if self.wait_s <= 0:
                    self._return(v)
                return
            body.step(dt_s)
            if body.arrived:
                self.phase = "loiter"
                self.timer_s = -WP_SETTLE_S
        elif self.phase == "loiter":
            self.timer_s += dt_s
            if self.timer_s >= v.params["RTL_LOIT_TIME"] / 1000.0:
                final = v.params["RTL_ALT_FINAL"] / 100.0
                if final > 0:
                    self.phase = "final"
                    body.track_to(body.n_m, body.e_m, v.home_alt_m() + final, v.limits())
                else:
                    self.phase = "land"
                    self.land = Land()
                    self.land.start(v)
        elif self.phase == "final":
            body.step(dt_s)
            if body.arrived:
                self.done = True
        elif self.phase == "land" and self.land is not None:
            self.land.step(v, dt_s)
            if self.land.done:
                self.done = True

    @property
    def landing(self) -> bool:
        """True during the final descent."""
        return self.phase == "land"


class Wait(Task):
    """Hold position for a while (NAV_DELAY, hold time at a waypoint, NAV_LOITER_TIME)."""

    name = "wait"

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.left_s = max(0.0, seconds)

    def start(self, v: FlightHost) -> None:
        if not v.body.on_ground:
            v.body.stop(v.limits())
        if self.left_s <= 0:
            self.done = True

    def step(self, v: FlightHost, dt_s: float) -> None:
        if not v.body.on_ground:
            v.body.step(dt_s)
        self.left_s -= dt_s
        if self.left_s <= 0:
            self.done = True
