"""What a simulated copter carries: the gripper, the winch and the parcels on board.

The gripper follows ArduPilot's AP_Gripper texts ("Gripper load releasing", then "Gripper load
released" :data:`GRIPPER_RELEASE_S` later, when the parcel leaves; for a grab "Gripper load
grabbing" and "Gripper Grabbed", then "Gripper load grabbed" as long later); it does nothing
unless ``GRIP_ENABLE`` is set. Without a winch (``WINCH_TYPE`` 0) a DO_WINCH is only counted.
"""

from __future__ import annotations

from typing import Protocol

from gcs.mavlink import dialect as mav
from sitl.builtin.flight.physics import Body
from sitl.builtin.params import ParamStore

#: Gripper: time from the command to the load being released (s).
GRIPPER_RELEASE_S = 0.55


class PayloadHost(Protocol):
    """What the payload needs from its vehicle."""

    @property
    def params(self) -> ParamStore: ...

    @property
    def body(self) -> Body: ...

    def text(self, severity: int, text: str) -> None: ...

    def position_deg(self) -> tuple[float, float]: ...

    def ground_alt_m(self, n_m: float, e_m: float) -> float: ...


class Payload:
    """Gripper, winch and parcels of one vehicle.

    Parameters
    ----------
    host
        The vehicle carrying the payload.
    """

    def __init__(self, host: PayloadHost) -> None:
        self.host = host
        #: Total weight of the parcels on board (kg).
        self.payload_kg = 0.0
        #: Number of parcels on board.
        self.parcels = 0
        self.gripper_open = False
        #: Parcels released by the gripper so far.
        self.released_count = 0
        #: True (lat_deg, lon_deg, alt_agl_m) of the vehicle at each parcel release.
        self.release_positions: list[tuple[float, float, float]] = []
        self.winch_commands = 0
        #: Parcels taken on by a gripper grab (a pickup) so far, and where (as releases).
        self.grabbed_count = 0
        self.grab_positions: list[tuple[float, float, float]] = []
        self._release_left_s = -1.0
        self._grab_left_s = -1.0
        self._grabbed = False

    def release(self, *, announce: bool) -> None:
        """Open the gripper: "Gripper load releasing", released 0.55 s later."""
        host = self.host
        if host.params["GRIP_ENABLE"] < 1:
            return
        host.text(mav.MAV_SEVERITY_INFO, "Gripper load releasing")
        if announce:
            host.text(mav.MAV_SEVERITY_INFO, "Gripper Released")
        self.gripper_open = True
        self._grabbed = False
        self._grab_left_s = -1.0
        self._release_left_s = GRIPPER_RELEASE_S

    def grab(self, *, announce: bool) -> None:
        """Close the gripper on a parcel (a pickup; its weight is not known to the simulator,
        so the mass flown does not change). ``announce``: "Gripper Grabbed", as a mission's
        DO_GRIPPER says; a gripper already closed on a load only says it has one."""
        host = self.host
        if host.params["GRIP_ENABLE"] < 1:
            return
        if self._grabbed:
            host.text(mav.MAV_SEVERITY_INFO, "Gripper load grabbed")
        else:
            host.text(mav.MAV_SEVERITY_INFO, "Gripper load grabbing")
            self._grab_left_s = GRIPPER_RELEASE_S
        if announce:
            host.text(mav.MAV_SEVERITY_INFO, "Gripper Grabbed")
        self.gripper_open = False
        self._release_left_s = -1.0
        body = host.body
        lat, lon = host.position_deg()
        self.grabbed_count += 1
        self.grab_positions.append((lat, lon, body.alt_m - host.ground_alt_m(body.n_m, body.e_m)))
        self.parcels += 1

    def winch(self, action: int, length_m: float) -> None:
        """DO_WINCH: accepted; without a winch (WINCH_TYPE 0) nothing moves."""
        self.winch_commands += 1

    def update(self, dt_s: float) -> None:
        """Advance the gripper by ``dt_s``: the parcel leaves once the release time is over."""
        if self._grab_left_s > 0:
            self._grab_left_s -= dt_s
            if self._grab_left_s <= 0:
                self._grab_left_s = -1.0
                self._grabbed = True
                self.host.text(mav.MAV_SEVERITY_INFO, "Gripper load grabbed")
        if self._release_left_s > 0:
            self._release_left_s -= dt_s
            if self._release_left_s <= 0:
                self._release_left_s = -1.0
                self.host.text(mav.MAV_SEVERITY_INFO, "Gripper load released")
                self._drop_parcel()

    def _drop_parcel(self) -> None:
        host = self.host
        body = host.body
        self.released_count += 1
        lat, lon = host.position_deg()
        agl = body.alt_m - host.ground_alt_m(body.n_m, body.e_m)
        self.release_positions.append((lat, lon, agl))
        if self.parcels > 0:
            per = self.payload_kg / self.parcels
            self.parcels -= 1
            self.payload_kg = max(0.0, self.payload_kg - per)
        else:
            self.payload_kg = 0.0
