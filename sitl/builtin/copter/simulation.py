"""The fixed-step simulation of one copter: what changes in each step of simulated time.

Every :data:`STEP_S` simulated seconds the vehicle's parts run in a fixed order: the GPS error
walks on, item transfers time out, the present mode flies unless the vehicle lies where it hit
the ground (the distance flown is counted, and the EKF reports its in-flight yaw alignment
:data:`YAW_ALIGN_S` after arming), the simulated ground stops it
(:mod:`sitl.builtin.flight.ground`), the pack drains by the airframe's current and may be swapped
at the depot, then the payload, arming, failsafes and telemetry update, and the deferred
PARAM_VALUE messages go out last. Nothing here reads a clock:
a run is a function of the seed and of what the vehicle was told at which step.
"""

from __future__ import annotations

import math
import random
from typing import Protocol

from gcs.mavlink import dialect as mav
from sitl.builtin.copter.arming import Arming
from sitl.builtin.copter.mode_control import ModeControl
from sitl.builtin.flight import ground
from sitl.builtin.flight.battery import Battery, DepotSwap, PowerModel
from sitl.builtin.flight.failsafe import Failsafes
from sitl.builtin.flight.payload import Payload
from sitl.builtin.flight.physics import Body
from sitl.builtin.protocol.telemetry import Telemetry
from sitl.builtin.protocol.transfer import ItemTransfer

#: Simulation step (s of simulated time).
STEP_S = 0.05
#: In flight, the EKF reports its yaw aligned this long after arming (s).
YAW_ALIGN_S = 5.5
#: GPS error in flight: each step it keeps this share of itself and adds a normal step of this
#: deviation. Standing on the ground it fades within a second (this share kept per step): SITL
#: reports a vehicle at rest, and its home, exactly where it stands.
_NOISE_KEEP = 0.995
_NOISE_STEP_M = 0.02
_NOISE_KEEP_GROUND = 0.8


class SimulationHost(ground.GroundHost, Protocol):
    """What the simulation loop needs from its vehicle."""

    t: float

    @property
    def transfers(self) -> dict[int, ItemTransfer]: ...

    @property
    def mode_control(self) -> ModeControl: ...

    @property
    def arming(self) -> Arming: ...

    @property
    def payload(self) -> Payload: ...

    @property
    def failsafes(self) -> Failsafes: ...

    @property
    def telemetry(self) -> Telemetry: ...

    @property
    def body(self) -> Body: ...

    @property
    def battery(self) -> Battery: ...

    @property
    def power(self) -> PowerModel: ...

    @property
    def depot_swap(self) -> DepotSwap: ...

    def wind_ne(self) -> tuple[float, float]: ...

    def text(self, severity: int, text: str) -> None: ...

    def flush_params(self) -> None: ...


class Simulation:
    """Advances one vehicle in fixed steps of simulated time.

    Parameters
    ----------
    host
        The vehicle advanced; its ``t`` is the simulated time (s since boot).
    rng
        Source of the GPS error in flight.
    """

    def __init__(self, host: SimulationHost, rng: random.Random) -> None:
        self._v = host
        self._rng = rng
        #: GPS error (north, east, up) in metres: none until the vehicle flies.
        self.gps_noise = [0.0, 0.0, 0.0]
        #: Horizontal distance flown since boot (m).
        self.distance_m = 0.0
        self._yaw_aligned = False

    def advance_to(self, t_s: float) -> None:
        """Run fixed steps until simulated time reaches ``t_s``."""
        while self._v.t + STEP_S <= t_s + 1e-9:
            self.step()

    def step(self) -> None:
        """One fixed simulation step."""
        v = self._v
        dt = STEP_S
        v.t += dt
        self._update_noise()
        for transfer in v.transfers.values():
            transfer.update()
        if not ground.in_contact(v):
            self._update_flight(dt)
        ground.settle(v)
        self._update_battery(dt)
        v.payload.update(dt)
        v.arming.update(dt)
        v.failsafes.update(dt)
        v.telemetry.update()
        v.flush_params()

    def _update_noise(self) -> None:
        noise = self.gps_noise
        if not self._v.flying:
            for i in range(3):
                noise[i] *= _NOISE_KEEP_GROUND
            return
        rng = self._rng
        for i in range(3):
            noise[i] = _NOISE_KEEP * noise[i] + rng.gauss(0.0, _NOISE_STEP_M)

    def _update_flight(self, dt: float) -> None:
        v = self._v
        n0, e0 = v.body.n_m, v.body.e_m
        v.mode_control.update(dt)
        self.distance_m += math.hypot(v.body.n_m - n0, v.body.e_m - e0)
        if v.flying and not self._yaw_aligned and v.arming.since_arm_s() > YAW_ALIGN_S:
            self._yaw_aligned = True
            v.text(mav.MAV_SEVERITY_INFO, "EKF3 IMU1 MAG0 in-flight yaw alignment complete")
            v.text(mav.MAV_SEVERITY_INFO, "EKF3 IMU0 MAG0 in-flight yaw alignment complete")

    def _update_battery(self, dt: float) -> None:
        v = self._v
        wn, we = v.wind_ne()
        body = v.body
        battery = v.battery
        airspeed = math.hypot(body.vn - wn, body.ve - we) if v.flying else 0.0
        current = v.power.current_a(payload_kg=v.payload.payload_kg, airspeed_m_s=airspeed,
                                    climb_m_s=body.vu, flying=v.flying and not body.on_ground,
                                    armed=v.armed)
        if battery.finite and current > 0:
            # the motors need the same power from a sagging pack: more current
            current *= battery.full_voltage_v / max(battery.voltage_v, 1.0)
        battery.step(current, dt)
        if v.depot_swap.update(battery, now_s=v.t, armed=v.armed):
            v.text(mav.MAV_SEVERITY_INFO, "Battery swapped: full pack")
