"""The simulated ground: what stops a copter that flies into it, as ArduPilot SITL's does.

SITL's ground is the terrain the vehicle was served (flat at its start altitude without any,
see :mod:`sitl.builtin.terrain`). A vehicle descending into it hits it ("SIM Hit ground
at ... m/s"), lies there, and its land detector disarms it; one flying level or climbing into
rising ground stops where it met it, short of its target, without a text. A vehicle standing
disarmed follows the ground when the terrain it holds changes under it.
"""

from __future__ import annotations

from typing import Protocol

from sitl.builtin.flight.physics import Body
from sitl.builtin.flight.tasks import LAND_DETECT_S

#: Flying into the ground faster than this (m/s down) is a hit; slower, the ground stops it.
HIT_SPEED_M_S = 0.05


class GroundHost(Protocol):
    """What the ground needs of its vehicle."""

    t: float
    ground_hit_s: float | None

    @property
    def body(self) -> Body: ...

    @property
    def armed(self) -> bool: ...

    @property
    def flying(self) -> bool: ...

    def ground_alt_m(self, n_m: float, e_m: float) -> float: ...

    def touch_down(self, speed_m_s: float) -> None: ...

    def landed(self) -> None: ...

    def disarm(self, *, reason: str = "gcs", force: bool = False) -> bool: ...


def in_contact(v: GroundHost) -> bool:
    """Before a flight step: True while the vehicle lies where it flew into the ground.

    After :data:`~sitl.builtin.flight.tasks.LAND_DETECT_S` there, the land detector confirms
    the landing and the motors disarm, as on SITL.
    """
    if v.ground_hit_s is None:
        v.body.checkpoint()
        return False
    if not v.armed:
        v.ground_hit_s = None
        return False
    if v.t - v.ground_hit_s >= LAND_DETECT_S - 1e-9:
        v.ground_hit_s = None
        v.landed()
        v.disarm(reason="landed")
    return True


def settle(v: GroundHost) -> None:
    """After a flight step: the ground stops the vehicle (see the module's description)."""
    body = v.body
    if body.on_ground:
        if not v.armed:
            ground = v.ground_alt_m(body.n_m, body.e_m)
            if abs(body.alt_m - ground) > 1e-3:
                body.place(body.n_m, body.e_m, ground)
        return
    if not v.flying or v.ground_hit_s is not None:
        return
    ground = v.ground_alt_m(body.n_m, body.e_m)
    if body.alt_m >= ground:
        return
    if body.vu < -HIT_SPEED_M_S:
        speed = -body.vu
        body.place(body.n_m, body.e_m, ground)
        v.touch_down(speed)
        v.ground_hit_s = v.t
        return
    body.restore()
    ground = v.ground_alt_m(body.n_m, body.e_m)
    if body.alt_m < ground:  # the ground rose under it
        body.place(body.n_m, body.e_m, ground)
