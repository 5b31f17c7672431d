"""One simulated ArduCopter: state, modes, arming and the fixed-step simulation loop.

The vehicle owns its parts and hands each a narrow view of itself: flight tasks
(:class:`~sitl.builtin.flight.FlightHost`), the AUTO executor
(:class:`~sitl.builtin.auto.MissionHost`), the failsafes, the telemetry, the command and message
handlers and the payload each declare what they use as a protocol, and never import this module.

A :class:`SimVehicle` has no sockets and no clock of its own: the fleet feeds it decoded MAVLink
messages (:meth:`SimVehicle.handle`), advances it in fixed steps of simulated time
(:meth:`SimVehicle.advance_to`) and sends what it put in :attr:`SimVehicle.outbox`. Everything it
does is therefore a function of its seed and of the messages it received at which step.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from typing import Any

from gcs.mavlink import dialect as mav
from planner.scenario import DroneType, Wind
from sitl.builtin import flight
from sitl.builtin.auto import COMPLETE, RUNNING, STOPPED, MissionRunner
from sitl.builtin.battery import Battery, PowerModel
from sitl.builtin.failsafe import Failsafes
from sitl.builtin.geo import LocalFrame
from sitl.builtin.handlers import handle_message
from sitl.builtin.mission import (
    FENCE,
    MISSION,
    RALLY,
    StoredItem,
    fence_storage_total,
    home_item,
    rally_return_point,
)
from sitl.builtin.modes import MODE, NOT_ARMABLE, POSITION_MODES, SUPPORTED_MODES, mode_name
from sitl.builtin.params import ParamStore
from sitl.builtin.payload import Payload
from sitl.builtin.physics import Body, Limits
from sitl.builtin.state import VehicleState
from sitl.builtin.telemetry import Telemetry
from sitl.builtin.transfer import ItemTransfer

#: Simulation step (s of simulated time).
STEP_S = 0.05
#: Simulated time from boot to GPS/EKF ready (s), as measured on SITL.
DEFAULT_SETTLE_S = 42.0
PREARM_PERIOD_S = 30.0
#: Battery swap at the depot: a vehicle disarmed on the ground within this distance of its home
#: (metres) gets a full pack once it has stood there disarmed for BATTERY_SWAP_S simulated seconds,
#: as a crew would swap it during the turnaround.
BATTERY_SWAP_NEAR_M = 30.0
BATTERY_SWAP_S = 60.0
#: Share of WPNAV_ACCEL / WPNAV_JERK the S-curves reach in practice (fitted to the traces).
_ACCEL_SHARE = 0.7


class SimVehicle:
    """A simulated ArduCopter 4.x quad.

    Parameters
    ----------
    sysid
        MAVLink system id (``SYSID_THISMAV``).
    start
        Where the vehicle stands at boot: latitude, longitude (degrees) and ground altitude AMSL.
    frame
        Local frame shared by the fleet.
    params
        Parameter overrides (ArduCopter names and units).
    seed
        Seed of the GPS noise.
    ground
        Terrain height AMSL at a (north, east) point of ``frame``; flat at the start altitude
        when None.
    power
        Current model of the airframe.
    wind
        Steady wind (also settable with ``SIM_WIND_SPD``/``SIM_WIND_DIR``).
    settle_s
        Simulated time from boot to GPS/EKF ready.
    finite_battery
        Model a finite pack whose voltage sags (SITL's default pack is infinite at 12.6 V).
    battery_swap
        Swap the pack for a full one after standing disarmed near home (see
        :data:`BATTERY_SWAP_NEAR_M`, :data:`BATTERY_SWAP_S`); off, the pack is only refilled by
        MAV_CMD_BATTERY_RESET or a reboot, as on SITL.
    """

    def __init__(self, *, sysid: int, start: tuple[float, float, float], frame: LocalFrame,
                 params: Mapping[str, float] | None = None, seed: int = 0,
                 ground: Callable[[float, float], float] | None = None,
                 power: PowerModel | None = None, wind: Wind | None = None,
                 settle_s: float = DEFAULT_SETTLE_S, finite_battery: bool = False,
                 battery_swap: bool = False) -> None:
        overrides = dict(params or {})
        overrides["SYSID_THISMAV"] = sysid
        if wind is not None:
            overrides.setdefault("SIM_WIND_SPD", wind.speed_m_s)
            overrides.setdefault("SIM_WIND_DIR", wind.from_deg)
        self.params = ParamStore(overrides)
        self.sysid = sysid
        self.frame = frame
        self.t = 0.0
        self.settle_s = settle_s
        self.rng = random.Random(seed * 7919 + sysid)
        n0, e0 = frame.to_ne(start[0], start[1])
        self._flat_alt_m = start[2]
        self._ground = ground
        self.body = Body(n0, e0, self.ground_alt_m(n0, e0))
        self.power = power or PowerModel()
        self.battery = Battery(capacity_mah=self.params["BATT_CAPACITY"],
                               voltage_v=self.params["SIM_BATT_VOLTAGE"], finite=finite_battery)
        self.mode = MODE["STABILIZE"]
        self.armed = False
        self.arm_time_s = -1e9
        self.flying = False
        self.home = (start[0], start[1], self.body.alt_m)
        self.home_set = False
        self.missions: dict[int, list[StoredItem]] = {
            MISSION: [home_item(*self.home)], FENCE: [], RALLY: []}
        self.transfers = {k: ItemTransfer(self, k) for k in (MISSION, FENCE, RALLY)}
        self.runner = MissionRunner(self)
        self.task: flight.Task = flight.Idle()
        self.speed_override: dict[str, float] = {}
        self.outbox: list[Any] = []
        self._deferred_params: list[str] = []
        self.telemetry = Telemetry(self)
        self.failsafes = Failsafes(self)
        self.payload = Payload(self)
        self.gps_lost = False
        self.motor_failed = False
        self.link_v1 = False
        self.link_connected = False
        self.signing_key: bytes | None = None
        self.signing_timestamp = 0
        self.signing_changed = False
        self.warned_mission_request = False
        self.prearm_ok_cached = False
        self.ready_at_s = settle_s
        self.last_gcs_heartbeat_s: float | None = None
        self._text_id = 0
        self._prearm_ok: bool | None = None
        self._prearm_shown_s = -1e9
        self._prearm_check_s = -1e9
        self._disarm_timer_s = 0.0
        self._announced_gps = False
        self._yaw_aligned = False
        self.distance_m = 0.0
        self.battery_swap = battery_swap
        self.battery_swaps = 0
        self._swap_at_s: float | None = None
        self.gps_noise = [0.0, 0.0, 0.0]
        self.params.on_change(self._param_changed)

    # -- host interface for transfers, tasks and handlers -------------------------------------
    @property
    def now_s(self) -> float:
        """Simulated seconds since boot."""
        return self.t

    def send(self, msg: Any) -> None:
        """Queue one message for the ground station."""
        self.outbox.append(msg)

    def text(self, severity: int, text: str) -> None:
        """STATUSTEXT, in 50-character chunks (MAVLink 2 ``id``/``chunk_seq``) when long."""
        data = text.encode()
        if len(data) <= 50:
            self.send(mav.MAVLink_statustext_message(severity, data, 0, 0))
            return
        self._text_id = self._text_id % 65535 + 1
        for seq, start in enumerate(range(0, len(data), 50)):
            self.send(mav.MAVLink_statustext_message(severity, data[start:start + 50],
                                                     self._text_id, seq))

    def notify_param(self, name: str) -> None:
        """Send PARAM_VALUE for ``name`` after the current message has been answered."""
        if name not in self._deferred_params:
            self._deferred_params.append(name)

    def flush_params(self) -> None:
        """Send the deferred PARAM_VALUE messages."""
        for name in self._deferred_params:
            self.telemetry.send_param(name, broadcast=True)
        self._deferred_params.clear()

    def items(self, mission_type: int) -> list[StoredItem]:
        """The stored list of a type (a mission starts with home)."""
        return self.missions[mission_type]

    def store(self, mission_type: int, items: list[StoredItem], *, complete: bool) -> None:
        """Replace a stored list; announce it like ArduCopter when ``complete``."""
        old_len = len(self.missions[mission_type])
        self.missions[mission_type] = list(items)
        if mission_type == MISSION:
            if len(items) != old_len:
                self.params.set("MIS_TOTAL", len(items))
            if complete:
                self.text(mav.MAV_SEVERITY_INFO, "Flight plan received")
            if self.runner.state != RUNNING:
                self.runner.nav_index = min(self.runner.nav_index, len(items) - 1)
        elif mission_type == FENCE and complete:
            self.text(mav.MAV_SEVERITY_DEBUG, "Fence Indexed OK")
            self.params.set("FENCE_TOTAL", fence_storage_total(items))
            self.notify_param("FENCE_TOTAL")
        elif mission_type == RALLY and complete:
            self.params.set("RALLY_TOTAL", len(items))
            self.notify_param("RALLY_TOTAL")

    def mission_running(self) -> bool:
        """True while AUTO is flying the mission."""
        return self.runner.state == RUNNING and self.armed

    def link_is_mavlink1(self) -> bool:
        """True when the ground station speaks MAVLink 1."""
        return self.link_v1

    def param_sent(self, name: str) -> None:
        """PARAM_VALUE for ``name`` has just been sent: drop a deferred one."""
        if name in self._deferred_params:
            self._deferred_params.remove(name)

    def _param_changed(self, name: str, value: float) -> None:
        if name == "MIS_TOTAL":
            self.notify_param(name)
        elif name == "BATT_CAPACITY":
            self.battery.capacity_mah = value
        elif name == "SIM_GPS_DISABLE":
            self.set_gps_lost(value >= 1)

    # -- geometry -----------------------------------------------------------------------------
    def ground_alt_m(self, n_m: float, e_m: float) -> float:
        """Terrain height AMSL at a local point."""
        if self._ground is None:
            return self._flat_alt_m
        return self._ground(n_m, e_m)

    def home_alt_m(self) -> float:
        """Home altitude AMSL."""
        return self.home[2]

    def home_ne(self) -> tuple[float, float]:
        """Home in local metres."""
        return self.frame.to_ne(self.home[0], self.home[1])

    def position_deg(self) -> tuple[float, float]:
        """True latitude and longitude."""
        return self.frame.to_latlon(self.body.n_m, self.body.e_m)

    def limits(self) -> Limits:
        """Speed and acceleration limits from WPNAV_* and DO_CHANGE_SPEED."""
        p = self.params
        return Limits(speed_xy=self.speed_override.get("xy", p["WPNAV_SPEED"] / 100.0),
                      speed_up=self.speed_override.get("up", p["WPNAV_SPEED_UP"] / 100.0),
                      speed_dn=self.speed_override.get("dn", p["WPNAV_SPEED_DN"] / 100.0),
                      accel_xy=p["WPNAV_ACCEL"] / 100.0 * _ACCEL_SHARE,
                      accel_z=p["WPNAV_ACCEL_Z"] / 100.0,
                      jerk_xy=max(p["WPNAV_JERK"], 0.1) * _ACCEL_SHARE)

    def since_arm_s(self) -> float:
        """Seconds since the motors were armed."""
        return self.t - self.arm_time_s

    @property
    def ready(self) -> bool:
        """GPS and EKF have settled (the PREARM_CHECK bit may still be clear)."""
        return self.t >= self.ready_at_s and not self.gps_lost

    # -- modes and arming ---------------------------------------------------------------------
    @property
    def mode_name(self) -> str:
        """Flight mode name."""
        return mode_name(self.mode)

    def set_mode(self, mode: int, *, reason: str = "gcs") -> bool:
        """Change flight mode as ArduCopter does; False (and a STATUSTEXT) when refused."""
        if mode not in SUPPORTED_MODES:
            return False
        if self.motor_failed and mode != MODE["LAND"] and self.flying:
            self.text(mav.MAV_SEVERITY_WARNING, "Flight mode change failed")
            return False
        if mode in POSITION_MODES and mode not in (MODE["LAND"],) and self.gps_lost:
            self.text(mav.MAV_SEVERITY_WARNING,
                      f"Mode change to {mode_name(mode)} failed: requires position")
            return False
        if (mode == MODE["AUTO"] and self.armed and self.body.on_ground
                and not self.runner.first_nav_is_takeoff()):
            self.text(mav.MAV_SEVERITY_WARNING, "Auto: Missing Takeoff Cmd")
            self.text(mav.MAV_SEVERITY_WARNING, "Mode change to AUTO failed: init failed")
            return False
        old = self.mode
        if old == MODE["AUTO"] and mode != MODE["AUTO"]:
            self.runner.stop()
        self.mode = mode
        self.telemetry.heartbeat_now()
        if reason != "internal":
            self.failsafes.on_mode_change()
        self._enter_mode(old)
        return True

    def _enter_mode(self, old: int) -> None:
        mode = self.mode
        if mode == MODE["AUTO"]:
            self.task = flight.Idle()
            if self.armed:
                self.runner.start_or_resume()
            return
        if not self.armed or self.body.on_ground:
            self.task = flight.Idle()
            if mode in (MODE["RTL"], MODE["SMART_RTL"], MODE["LAND"]) and self.armed:
                self.disarm(reason="landed")
            return
        if mode in (MODE["RTL"], MODE["SMART_RTL"]):
            self.task = self.rtl_task()
        elif mode == MODE["LAND"]:
            speed = 2.5 if self.motor_failed else None
            self.task = flight.Land(speed_m_s=speed)
        else:
            self.task = flight.Hold()
        self.task.start(self)

    def prearm_failure(self) -> str | None:
        """The first failing pre-arm check (without the "PreArm: " prefix), or None."""
        if self.params["ARMING_CHECK"] == 0:
            return None
        if not self.ready:
            return "Need Position Estimate"
        fence = self.failsafes.fence_prearm()
        if fence is not None:
            return fence
        return self.failsafes.battery_prearm()

    def arm(self, *, force: bool = False) -> tuple[bool, str | None]:
        """Arm; returns (success, refusal text)."""
        if self.armed:
            return True, None
        if self.mode in NOT_ARMABLE:
            return False, "Arm: Mode not armable"
        if self.mode == MODE["AUTO"]:
            if len(self.missions[MISSION]) <= 1:
                return False, "Arm: Mode requires mission"
            if not int(self.params["AUTO_OPTIONS"]) & 1:
                return False, "Arm: AUTO mode not armable"
        if not force:
            failure = self.prearm_failure()
            if failure is not None:
                return False, f"Arm: {failure}"
        elif not self.ready and self.mode in POSITION_MODES:
            return False, "Arm: Need Position Estimate"
        self.armed = True
        self.arm_time_s = self.t
        self._swap_at_s = None
        self._disarm_timer_s = 0.0
        self._set_home_here()
        self.telemetry.on_arm()
        self.text(mav.MAV_SEVERITY_INFO, "Arming motors")
        if self.mode == MODE["AUTO"] and int(self.params["AUTO_OPTIONS"]) & 2:
            self.runner.start_or_resume()
        return True, None

    def disarm(self, *, reason: str = "gcs", force: bool = False) -> bool:
        """Disarm; refused in flight unless forced."""
        if not self.armed:
            return True
        if self.flying and not force and reason == "gcs":
            return False
        self.armed = False
        self.text(mav.MAV_SEVERITY_INFO, "Disarming motors")
        if self.flying:
            self.flying = False
            ground = self.ground_alt_m(self.body.n_m, self.body.e_m)
            self.body.place(self.body.n_m, self.body.e_m, ground)
        self.body.on_ground = True
        self.task = flight.Idle()
        if self.runner.state != COMPLETE:
            self.runner.reset()
        else:
            self.runner.task = None
        self.speed_override.clear()
        if self.battery_swap and self.home_distance_m() <= BATTERY_SWAP_NEAR_M:
            self._swap_at_s = self.t + BATTERY_SWAP_S
        return True

    def home_distance_m(self) -> float:
        """Horizontal distance from home (m)."""
        hn, he = self.frame.to_ne(self.home[0], self.home[1])
        return math.hypot(self.body.n_m - hn, self.body.e_m - he)

    def _set_home_here(self) -> None:
        noise = self.gps_noise
        lat, lon = self.frame.to_latlon(self.body.n_m + noise[0], self.body.e_m + noise[1])
        self.home = (lat, lon, self.body.alt_m + noise[2])
        self.home_set = True
        self.missions[MISSION] = [home_item(*self.home), *self.missions[MISSION][1:]]

    # -- events from flight tasks -------------------------------------------------------------
    def lift_off(self) -> None:
        """The motors lift the vehicle off the ground."""
        self.body.on_ground = False
        self.flying = True
        self._disarm_timer_s = 0.0

    def touch_down(self, speed_m_s: float) -> None:
        """The vehicle has reached the ground."""
        self.body.on_ground = True
        self.body.vn = self.body.ve = self.body.vu = 0.0
        self.text(mav.MAV_SEVERITY_INFO, f"SIM Hit ground at {speed_m_s:f} m/s")

    def landed(self) -> None:
        """The land detector has confirmed the landing."""
        self.flying = False

    # -- speeds, returns, reboots and faults ---------------------------------------------------
    def change_speed(self, speed_type: int, speed_m_s: float) -> None:
        """DO_CHANGE_SPEED (0/1 horizontal, 2 climb, 3 descent)."""
        if speed_m_s <= 0:
            return
        key = {0: "xy", 1: "xy", 2: "up", 3: "dn"}.get(speed_type)
        if key is None:
            return
        self.speed_override[key] = speed_m_s
        for task in (self.task, self.runner.task):
            if isinstance(task, flight.GoTo) and not task.done:
                task.retarget_speed(self)

    def rtl_task(self) -> flight.Rtl:
        """RTL to the best rally point or home."""
        n, e = self.return_point()
        return flight.Rtl(n, e, self.ground_alt_m(n, e))

    def return_point(self) -> tuple[float, float]:
        """Nearest rally point (within RALLY_LIMIT_KM) unless home is nearer."""
        rally = [self.frame.to_ne(item.lat_deg, item.lon_deg) for item in self.missions[RALLY]]
        return rally_return_point((self.body.n_m, self.body.e_m), self.home_ne(), rally,
                                  limit_km=self.params["RALLY_LIMIT_KM"],
                                  include_home=self.params["RALLY_INCL_HOME"] >= 1)

    def wind_ne(self) -> tuple[float, float]:
        """Wind velocity (north, east) in m/s: where the air moves to."""
        speed = self.params["SIM_WIND_SPD"]
        if speed <= 0:
            return (0.0, 0.0)
        to = math.radians(self.params["SIM_WIND_DIR"] + 180.0)
        return (speed * math.cos(to), speed * math.sin(to))

    def reboot(self) -> None:
        """Restart the flight controller (disarmed): counters, modes and streams reset."""
        self.mode = MODE["STABILIZE"]
        self.task = flight.Idle()
        self.runner.reset()
        self.runner.state = STOPPED
        self.battery.reset(100.0)
        self.failsafes = Failsafes(self)
        self.telemetry = Telemetry(self)
        self.telemetry.next_heartbeat_s = self.t + 1.0
        self.ready_at_s = self.t + self.settle_s
        self.home_set = False
        self._announced_gps = False
        self.prearm_ok_cached = False
        self.speed_override.clear()

    def motor_failure(self) -> None:
        """A motor fails: land at once; no other mode is accepted while flying."""
        self.motor_failed = True
        if self.armed and self.flying:
            self.text(mav.MAV_SEVERITY_CRITICAL, "Motor failure: forced landing")
            if self.mode != MODE["LAND"]:
                self.mode = MODE["LAND"]
                self.telemetry.heartbeat_now()
                if self.mode != MODE["AUTO"]:
                    self.runner.stop()
            self.task = flight.Land(speed_m_s=2.5)
            self.task.start(self)

    def set_gps_lost(self, lost: bool) -> None:
        """Cut or restore GPS."""
        self.gps_lost = lost

    # -- payload --------------------------------------------------------------------------------
    @property
    def payload_kg(self) -> float:
        """Total weight of the parcels on board (kg)."""
        return self.payload.payload_kg

    @payload_kg.setter
    def payload_kg(self, value: float) -> None:
        self.payload.payload_kg = value

    @property
    def parcels(self) -> int:
        """Number of parcels on board."""
        return self.payload.parcels

    @parcels.setter
    def parcels(self, value: int) -> None:
        self.payload.parcels = value

    @property
    def gripper_released(self) -> int:
        """Parcels released by the gripper so far."""
        return self.payload.released_count

    # -- message input ------------------------------------------------------------------------
    def handle(self, msg: Any) -> None:
        """Process one message from the ground station at the current simulated time."""
        handle_message(self, msg)
        self.flush_params()

    # -- simulation ---------------------------------------------------------------------------
    def advance_to(self, t_s: float) -> None:
        """Run fixed steps until simulated time reaches ``t_s``."""
        while self.t + STEP_S <= t_s + 1e-9:
            self.step()

    def step(self) -> None:
        """One fixed simulation step."""
        dt = STEP_S
        self.t += dt
        self._update_noise()
        for transfer in self.transfers.values():
            transfer.update()
        self._update_flight(dt)
        self._update_battery(dt)
        self.payload.update(dt)
        self._update_arming(dt)
        self.failsafes.update(dt)
        self.telemetry.update()
        self.flush_params()

    def _update_noise(self) -> None:
        noise = self.gps_noise
        rng = self.rng
        for i in range(3):
            noise[i] = 0.995 * noise[i] + rng.gauss(0.0, 0.02)

    def _update_flight(self, dt: float) -> None:
        n0, e0 = self.body.n_m, self.body.e_m
        if self.mode == MODE["AUTO"] and self.armed:
            self.runner.update(dt)
        elif self.armed:
            task = self.task
            task.step(self, dt)
            if task.done and isinstance(task, flight.Land | flight.Rtl):
                if isinstance(task, flight.Land) or (isinstance(task, flight.Rtl)
                                                    and task.landing):
                    self.landed()
                    self.disarm(reason="landed")
                else:
                    self.task = flight.Hold()
                    self.task.start(self)
            elif task.done and isinstance(task, flight.Takeoff):
                self.task = flight.Hold()
                self.task.start(self)
        self.distance_m += math.hypot(self.body.n_m - n0, self.body.e_m - e0)
        if self.flying and not self._yaw_aligned and self.since_arm_s() > 5.5:
            self._yaw_aligned = True
            self.text(mav.MAV_SEVERITY_INFO, "EKF3 IMU1 MAG0 in-flight yaw alignment complete")
            self.text(mav.MAV_SEVERITY_INFO, "EKF3 IMU0 MAG0 in-flight yaw alignment complete")

    def _update_battery(self, dt: float) -> None:
        wn, we = self.wind_ne()
        body = self.body
        airspeed = math.hypot(body.vn - wn, body.ve - we) if self.flying else 0.0
        current = self.power.current_a(payload_kg=self.payload.payload_kg, airspeed_m_s=airspeed,
                                       climb_m_s=body.vu, flying=self.flying and not
                                       body.on_ground, armed=self.armed)
        if self.battery.finite and current > 0:
            # the motors need the same power from a sagging pack: more current
            current *= self.battery.full_voltage_v / max(self.battery.voltage_v, 1.0)
        self.battery.step(current, dt)
        if self._swap_at_s is not None and not self.armed and self.t >= self._swap_at_s - 1e-9:
            self._swap_at_s = None
            self.battery.swap()
            self.battery_swaps += 1
            self.text(mav.MAV_SEVERITY_INFO, "Battery swapped: full pack")

    def _update_arming(self, dt: float) -> None:
        if self.ready and not self._announced_gps:
            self._announced_gps = True
            self.text(mav.MAV_SEVERITY_INFO, "EKF3 IMU0 is using GPS")
            self.text(mav.MAV_SEVERITY_INFO, "EKF3 IMU1 is using GPS")
            if not self.home_set:
                self._set_home_here()
        if not self.armed:
            if self.t - self._prearm_check_s >= 1.0 - 1e-6:
                self._prearm_check_s = self.t
                failure = self.prearm_failure()
                ok = failure is None
                self.prearm_ok_cached = ok
                due = self.t - self._prearm_shown_s >= PREARM_PERIOD_S - 1e-6
                if failure is not None and (self._prearm_ok is not False or due):
                    self.text(mav.MAV_SEVERITY_CRITICAL, f"PreArm: {failure}")
                    self._prearm_shown_s = self.t
                self._prearm_ok = ok
            return
        self._prearm_ok = None
        idle_on_ground = self.body.on_ground and not self._taking_off()
        if idle_on_ground:
            self._disarm_timer_s += dt
            delay = self.params["DISARM_DELAY"]
            if delay > 0 and self._disarm_timer_s >= delay:
                self.disarm(reason="auto")
        else:
            self._disarm_timer_s = 0.0

    def _taking_off(self) -> bool:
        task: flight.Task | None = self.runner.task if self.mode == MODE["AUTO"] else self.task
        return isinstance(task, flight.Takeoff | flight.GoTo | flight.PayloadPlace) or (
            isinstance(task, flight.Land | flight.Rtl) and not task.done)

    # -- snapshot -----------------------------------------------------------------------------
    def snapshot(self) -> VehicleState:
        """The present state."""
        lat, lon = self.position_deg()
        body = self.body
        ground = self.ground_alt_m(body.n_m, body.e_m)
        total = max(0, len(self.missions[MISSION]) - 1)
        payload = self.payload
        return VehicleState(
            sysid=self.sysid, time_s=self.t, lat_deg=lat, lon_deg=lon, alt_amsl_m=body.alt_m,
            alt_rel_m=body.alt_m - self.home_alt_m(), alt_agl_m=body.alt_m - ground,
            groundspeed_m_s=math.hypot(body.vn, body.ve), climb_m_s=body.vu,
            heading_deg=body.yaw_deg, mode=self.mode_name, armed=self.armed,
            flying=self.flying, battery_remaining_pct=self.battery.remaining_pct,
            battery_consumed_mah=self.battery.consumed_mah,
            battery_voltage_v=self.battery.voltage_v, battery_current_a=self.battery.current_a,
            mission_seq=self.runner.nav_index, mission_total=total,
            mission_state=self.runner.state, gripper_released_count=payload.released_count,
            winch_commands=payload.winch_commands, payload_kg=payload.payload_kg,
            home_lat_deg=self.home[0], home_lon_deg=self.home[1], home_alt_amsl_m=self.home[2],
            ready_to_arm=self.prearm_ok_cached, fence_breached=self.failsafes.breached != 0,
            failsafes=self.failsafes.active(), link_connected=self.link_connected,
            distance_flown_m=self.distance_m, release_positions=tuple(payload.release_positions))

    @classmethod
    def power_for(cls, drone_type: DroneType | None) -> PowerModel:
        """The current model for a scenario drone type (default SITL quad for None)."""
        return PowerModel() if drone_type is None else PowerModel.from_drone_type(drone_type)
