"""What tasks, failsafes and the fleet ask of a vehicle: flight events, gripper, winch, speed
changes, the RTL target, injected failures and the state snapshot (a mixin of SimVehicle)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, cast

from gcs.mavlink import COPTER_MODES
from gcs.mavlink import dialect as mav
from sitl.builtin import flight
from sitl.builtin.failsafe import Failsafes
from sitl.builtin.mission import MISSION, RALLY
from sitl.builtin.state import VehicleState
from sitl.builtin.telemetry import Telemetry

if TYPE_CHECKING:
    from sitl.builtin.vehicle import SimVehicle

MODE = COPTER_MODES


class VehicleActions:
    """Methods of :class:`~sitl.builtin.vehicle.SimVehicle` that act on its state."""

    def _vehicle(self) -> SimVehicle:
        return cast("SimVehicle", self)

    # -- events from tasks --------------------------------------------------------------------
    def lift_off(self) -> None:
        """The motors lift the vehicle off the ground."""
        v = self._vehicle()
        v.body.on_ground = False
        v.flying = True
        v._disarm_timer_s = 0.0

    def touch_down(self, speed_m_s: float) -> None:
        """The vehicle has reached the ground."""
        v = self._vehicle()
        v.body.on_ground = True
        v.body.vn = v.body.ve = v.body.vu = 0.0
        v.text(mav.MAV_SEVERITY_INFO, f"SIM Hit ground at {speed_m_s:f} m/s")

    def landed(self) -> None:
        """The land detector has confirmed the landing."""
        v = self._vehicle()
        v.flying = False

    def gripper_release(self, *, announce: bool) -> None:
        """Open the gripper: "Gripper load releasing", released 0.55 s later."""
        v = self._vehicle()
        if v.params["GRIP_ENABLE"] < 1:
            return
        v.text(mav.MAV_SEVERITY_INFO, "Gripper load releasing")
        if announce:
            v.text(mav.MAV_SEVERITY_INFO, "Gripper Released")
        v.gripper_open = True
        v._gripper_timer_s = flight.GRIPPER_RELEASE_S

    def gripper_grab(self) -> None:
        """Close the gripper."""
        v = self._vehicle()
        if v.params["GRIP_ENABLE"] < 1:
            return
        v.text(mav.MAV_SEVERITY_INFO, "Gripper load grabbing")
        v.text(mav.MAV_SEVERITY_INFO, "Gripper Grabbed")
        v.gripper_open = False
        v._gripper_timer_s = -1.0

    def _drop_parcel(self) -> None:
        v = self._vehicle()
        v.gripper_released += 1
        lat, lon = v.position_deg()
        agl = v.body.alt_m - v.ground_alt_m(v.body.n_m, v.body.e_m)
        v.release_positions.append((lat, lon, agl))
        if v.parcels > 0:
            per = v.payload_kg / v.parcels
            v.parcels -= 1
            v.payload_kg = max(0.0, v.payload_kg - per)
        else:
            v.payload_kg = 0.0

    def winch(self, action: int, length_m: float) -> None:
        """DO_WINCH: accepted; without a winch (WINCH_TYPE 0) nothing moves."""
        v = self._vehicle()
        v.winch_commands += 1

    def change_speed(self, speed_type: int, speed_m_s: float) -> None:
        """DO_CHANGE_SPEED (0/1 horizontal, 2 climb, 3 descent)."""
        v = self._vehicle()
        if speed_m_s <= 0:
            return
        key = {0: "xy", 1: "xy", 2: "up", 3: "dn"}.get(speed_type)
        if key is None:
            return
        v.speed_override[key] = speed_m_s
        for task in (v.task, v.runner.task):
            if isinstance(task, flight.GoTo) and not task.done:
                task.retarget_speed(v)

    def rtl_task(self) -> flight.Rtl:
        """RTL to the best rally point or home."""
        v = self._vehicle()
        n, e = v.return_point()
        return flight.Rtl(n, e, v.ground_alt_m(n, e))

    def return_point(self) -> tuple[float, float]:
        """Nearest rally point (within RALLY_LIMIT_KM) unless home is nearer."""
        v = self._vehicle()
        here = (v.body.n_m, v.body.e_m)
        home = v.home_ne()
        best: tuple[float, float] | None = None
        best_d = math.inf
        for item in v.missions[RALLY]:
            n, e = v.frame.to_ne(item.lat_deg, item.lon_deg)
            d = math.hypot(n - here[0], e - here[1])
            if d < best_d:
                best, best_d = (n, e), d
        if best is None:
            return home
        limit_km = v.params["RALLY_LIMIT_KM"]
        home_d = math.hypot(home[0] - here[0], home[1] - here[1])
        if limit_km > 0 and best_d > limit_km * 1000.0 and home_d < best_d:
            return home
        if v.params["RALLY_INCL_HOME"] >= 1 and home_d <= best_d:
            return home
        return best


    def wind_ne(self) -> tuple[float, float]:
        """Wind velocity (north, east) in m/s: where the air moves to."""
        v = self._vehicle()
        speed = v.params["SIM_WIND_SPD"]
        if speed <= 0:
            return (0.0, 0.0)
        to = math.radians(v.params["SIM_WIND_DIR"] + 180.0)
        return (speed * math.cos(to), speed * math.sin(to))

    def reboot(self) -> None:
        """Restart the flight controller (disarmed): counters, modes and streams reset."""
        v = self._vehicle()
        v.mode = MODE["STABILIZE"]
        v.task = flight.Idle()
        v.runner.reset()
        v.runner.state = "stopped"
        v.battery.reset(100.0)
        v.failsafes = Failsafes(v)
        v.telemetry = Telemetry(v)
        v.telemetry.next_heartbeat_s = v.t + 1.0
        v.ready_at_s = v.t + v.settle_s
        v.home_set = False
        v._announced_gps = False
        v.prearm_ok_cached = False
        v.speed_override.clear()

    def motor_failure(self) -> None:
        """A motor fails: land at once; no other mode is accepted while flying."""
        v = self._vehicle()
        v.motor_failed = True
        if v.armed and v.flying:
            v.text(mav.MAV_SEVERITY_CRITICAL, "Motor failure: forced landing")
            if v.mode != MODE["LAND"]:
                v.mode = MODE["LAND"]
                v.telemetry.heartbeat_now()
                if v.mode != MODE["AUTO"]:
                    v.runner.stop()
            v.task = flight.Land(speed_m_s=2.5)
            v.task.start(v)

    # -- snapshot -----------------------------------------------------------------------------
    def snapshot(self) -> VehicleState:
        """The present state."""
        v = self._vehicle()
        lat, lon = v.position_deg()
        body = v.body
        ground = v.ground_alt_m(body.n_m, body.e_m)
        total = max(0, len(v.missions[MISSION]) - 1)
        return VehicleState(
            sysid=v.sysid, time_s=v.t, lat_deg=lat, lon_deg=lon, alt_amsl_m=body.alt_m,
            alt_rel_m=body.alt_m - v.home_alt_m(), alt_agl_m=body.alt_m - ground,
            groundspeed_m_s=math.hypot(body.vn, body.ve), climb_m_s=body.vu,
            heading_deg=body.yaw_deg, mode=v.mode_name, armed=v.armed,
            flying=v.flying, battery_remaining_pct=v.battery.remaining_pct,
            battery_consumed_mah=v.battery.consumed_mah,
            battery_voltage_v=v.battery.voltage_v, battery_current_a=v.battery.current_a,
            mission_seq=v.runner.nav_index, mission_total=total,
            mission_state=v.runner.state, gripper_released_count=v.gripper_released,
            winch_commands=v.winch_commands, payload_kg=v.payload_kg,
            home_lat_deg=v.home[0], home_lon_deg=v.home[1], home_alt_amsl_m=v.home[2],
            ready_to_arm=v.prearm_ok_cached, fence_breached=v.failsafes.breached != 0,
            failsafes=v.failsafes.active(), link_connected=v.link_connected,
            distance_flown_m=v.distance_m, release_positions=tuple(v.release_positions))

