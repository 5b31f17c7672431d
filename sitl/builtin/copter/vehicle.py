"""One simulated ArduCopter: its state, and the parts it is made of.

The vehicle holds the state its parts share and hands each part a narrow view of itself: flight
tasks (:class:`~sitl.builtin.flight.tasks.FlightHost`), the AUTO executor
(:class:`~sitl.builtin.flight.auto.MissionHost`), mode changes
(:mod:`~sitl.builtin.copter.mode_control`), arming (:mod:`~sitl.builtin.copter.arming`), speed
limits and RTL (:mod:`~sitl.builtin.copter.navigation`), the stored lists
(:mod:`~sitl.builtin.copter.storage`), the fixed-step loop
(:mod:`~sitl.builtin.copter.simulation`), the failsafes, the telemetry, the command and message
handlers and the payload each declare what they use as a protocol, and never import this module.

A :class:`SimVehicle` has no sockets and no clock of its own: the fleet feeds it decoded MAVLink
messages (:meth:`SimVehicle.handle`), advances it in fixed steps of simulated time
(:meth:`SimVehicle.advance_to`) and sends what it put in :attr:`SimVehicle.outbox`. Everything it
does is therefore a function of its seed and of the messages it received at which step.
"""
from __future__ import annotations

import math
import random
from collections.abc import Mapping
from typing import Any

from gcs.mavlink import dialect as mav
from planner.scenario import Wind
from sitl.builtin.copter.arming import Arming
from sitl.builtin.copter.mode_control import ModeControl
from sitl.builtin.copter.navigation import Navigation
from sitl.builtin.copter.outbox import Outbox
from sitl.builtin.copter.simulation import Simulation
from sitl.builtin.copter.state import VehicleState
from sitl.builtin.copter.storage import MissionStorage
from sitl.builtin.flight import tasks as flight
from sitl.builtin.flight.auto import RUNNING, STOPPED, MissionRunner
from sitl.builtin.flight.battery import Battery, DepotSwap, PowerModel
from sitl.builtin.flight.failsafe import Failsafes
from sitl.builtin.flight.geo import LocalFrame
from sitl.builtin.flight.payload import Payload
from sitl.builtin.flight.physics import Body, Limits
from sitl.builtin.mission import FENCE, MISSION, RALLY, StoredItem
from sitl.builtin.modes import MODE, mode_name
from sitl.builtin.params import ParamStore
from sitl.builtin.protocol.handlers import handle_message
from sitl.builtin.protocol.telemetry import Telemetry
from sitl.builtin.protocol.transfer import ItemTransfer
from sitl.builtin.terrain import Terrain

#: Simulated time from boot to GPS/EKF ready (s), as measured on SITL.
DEFAULT_SETTLE_S = 42.0
#: Battery swap at the depot: a vehicle disarmed on the ground within this distance of its home
#: (metres) gets a full pack once it has stood there disarmed for BATTERY_SWAP_S simulated seconds,
#: as a crew would swap it during the turnaround.
BATTERY_SWAP_NEAR_M = 30.0
BATTERY_SWAP_S = 60.0


class SimVehicle:
    """A simulated ArduCopter 4.x quad.

    Parameters
    ----------
    sysid
        MAVLink system id (``SYSID_THISMAV``).
    start
        Where the vehicle stands at boot, SITL's ``--home``: latitude, longitude (degrees) and
        ground altitude AMSL. Home is set exactly there once the GPS has a fix.
    frame
        Local frame shared by the fleet.
    params
        Parameter overrides (ArduCopter names and units).
    seed
        Seed of the GPS noise.
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
        n0, e0 = frame.to_ne(start[0], start[1])
        #: Terrain the ground station served, and the simulated ground made of it (SITL's rule,
        #: see :mod:`sitl.builtin.terrain`): flat at the start altitude without it.
        self.terrain = Terrain(self, (round(start[0] * 1e7), round(start[1] * 1e7)), start[2])
        #: Simulated time the vehicle flew into the ground (None: it did not).
        self.ground_hit_s: float | None = None
        self.body = Body(n0, e0, start[2])
        self.power = power or PowerModel()
        self.battery = Battery(capacity_mah=self.params["BATT_CAPACITY"],
                               voltage_v=self.params["SIM_BATT_VOLTAGE"], finite=finite_battery)
        self.depot_swap = DepotSwap(enabled=battery_swap, near_m=BATTERY_SWAP_NEAR_M,
                                    delay_s=BATTERY_SWAP_S)
        self.mode = MODE["STABILIZE"]
        self.arming = Arming(self)
        self.mode_control = ModeControl(self)
        self.navigation = Navigation(self)
        self.simulation = Simulation(self, random.Random(seed * 7919 + sysid))
        self.flying = False
        self.home = (start[0], start[1], self.body.alt_m)
        self._outbox = Outbox()
        self.storage = MissionStorage(self, self.home)
        self.transfers = {k: ItemTransfer(self, k) for k in (MISSION, FENCE, RALLY)}
        self.runner = MissionRunner(self)
        self.task: flight.Task = flight.Idle()
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
        self.ready_at_s = settle_s
        self.last_gcs_heartbeat_s: float | None = None
        self.params.on_change(self._param_changed)

    # -- state kept by the parts --------------------------------------------------------------
    @property
    def armed(self) -> bool:
        """Motors armed."""
        return self.arming.armed

    @property
    def home_set(self) -> bool:
        """Home has been set (once the GPS has a fix, and at every arming)."""
        return self.arming.home_set

    @property
    def prearm_ok_cached(self) -> bool:
        """The last pre-arm check passed (the PREARM_CHECK bit of SYS_STATUS)."""
        return self.arming.prearm_ok_cached

    @property
    def missions(self) -> dict[int, list[StoredItem]]:
        """Stored items by mission type (MISSION, FENCE, RALLY); the mission starts with home."""
        return self.storage.lists

    @property
    def outbox(self) -> list[Any]:
        """Messages for the ground station not yet sent, oldest first."""
        return self._outbox.messages

    @property
    def battery_swaps(self) -> int:
        """Packs swapped at the depot so far."""
        return self.depot_swap.swaps

    # -- host interface for transfers, tasks and handlers -------------------------------------
    @property
    def now_s(self) -> float:
        """Simulated seconds since boot."""
        return self.t

    def send(self, msg: Any) -> None:
        """Queue one message for the ground station."""
        self._outbox.send(msg)

    def text(self, severity: int, text: str) -> None:
        """STATUSTEXT, in 50-character chunks (MAVLink 2 ``id``/``chunk_seq``) when long."""
        self._outbox.text(severity, text)

    def notify_param(self, name: str) -> None:
        """Send PARAM_VALUE for ``name`` after the current message has been answered."""
        self._outbox.notify_param(name)

    def param_sent(self, name: str) -> None:
        """PARAM_VALUE for ``name`` has just been sent: drop a deferred one."""
        self._outbox.param_sent(name)

    def flush_params(self) -> None:
        """Send the deferred PARAM_VALUE messages."""
        self._outbox.flush_params(lambda name: self.telemetry.send_param(name, broadcast=True))

    def items(self, mission_type: int) -> list[StoredItem]:
        """The stored list of a type (a mission starts with home)."""
        return self.storage.items(mission_type)

    def store(self, mission_type: int, items: list[StoredItem], *, complete: bool) -> None:
        """Replace a stored list (announced when ``complete``); keep AUTO's place inside it."""
        self.storage.store(mission_type, items, complete=complete)
        if mission_type == MISSION and self.runner.state != RUNNING:
            self.runner.nav_index = min(self.runner.nav_index, len(items) - 1)

    def mission_running(self) -> bool:
        """True while AUTO is flying the mission."""
        return self.runner.state == RUNNING and self.armed

    def link_is_mavlink1(self) -> bool:
        """True when the ground station speaks MAVLink 1."""
        return self.link_v1

    def _param_changed(self, name: str, value: float) -> None:
        if name == "MIS_TOTAL":
            self.notify_param(name)
        elif name == "BATT_CAPACITY":
            self.battery.capacity_mah = value
        elif name == "SIM_GPS_DISABLE":
            self.set_gps_lost(value >= 1)

    # -- geometry -----------------------------------------------------------------------------
    def ground_alt_m(self, n_m: float, e_m: float) -> float:
        """Simulated ground AMSL at a local point (from the terrain served, else flat)."""
        lat, lon = self.frame.to_latlon(n_m, e_m)
        return self.terrain.ground_alt_m(round(lat * 1e7), round(lon * 1e7))

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
        return self.navigation.limits()

    def home_distance_m(self) -> float:
        """Horizontal distance from home (m)."""
        hn, he = self.home_ne()
        return math.hypot(self.body.n_m - hn, self.body.e_m - he)

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
        return self.mode_control.set_mode(mode, reason=reason)

    def arm(self, *, force: bool = False) -> tuple[bool, str | None]:
        """Arm; returns (success, refusal text)."""
        return self.arming.arm(force=force)

    def disarm(self, *, reason: str = "gcs", force: bool = False) -> bool:
        """Disarm; refused in flight unless forced."""
        return self.arming.disarm(reason=reason, force=force)

    def since_arm_s(self) -> float:
        """Seconds since the motors were armed."""
        return self.arming.since_arm_s()

    # -- events from flight tasks -------------------------------------------------------------
    def lift_off(self) -> None:
        """The motors lift the vehicle off the ground."""
        self.body.on_ground = False
        self.flying = True
        self.arming.lift_off()

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
        self.navigation.change_speed(speed_type, speed_m_s)

    def rtl_task(self) -> flight.Rtl:
        """RTL to the best rally point or home."""
        return self.navigation.rtl_task()

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
        self.arming.reboot()
        self.navigation.speed_override.clear()

    def motor_failure(self) -> None:
        """A motor fails: land at once; no other mode is accepted while flying."""
        self.mode_control.motor_failure()

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
        self.simulation.advance_to(t_s)

    def step(self) -> None:
        """One fixed simulation step."""
        self.simulation.step()

    @property
    def gps_noise(self) -> list[float]:
        """GPS error (north, east, up) in metres."""
        return self.simulation.gps_noise

    # -- snapshot -----------------------------------------------------------------------------
    def snapshot(self) -> VehicleState:
        """The present state."""
        lat, lon = self.position_deg()
        body = self.body
        ground = self.ground_alt_m(body.n_m, body.e_m)
        payload = self.payload
        return VehicleState(
            sysid=self.sysid, time_s=self.t, lat_deg=lat, lon_deg=lon, alt_amsl_m=body.alt_m,
            alt_rel_m=body.alt_m - self.home_alt_m(), alt_agl_m=body.alt_m - ground,
            groundspeed_m_s=math.hypot(body.vn, body.ve), climb_m_s=body.vu,
            heading_deg=body.yaw_deg, mode=self.mode_name, armed=self.armed,
            flying=self.flying, battery_remaining_pct=self.battery.remaining_pct,
            battery_consumed_mah=self.battery.consumed_mah,
            battery_voltage_v=self.battery.voltage_v, battery_current_a=self.battery.current_a,
            mission_seq=self.runner.nav_index, mission_total=self.storage.mission_total(),
            mission_state=self.runner.state, gripper_released_count=payload.released_count,
            winch_commands=payload.winch_commands, payload_kg=payload.payload_kg,
            home_lat_deg=self.home[0], home_lon_deg=self.home[1], home_alt_amsl_m=self.home[2],
            ready_to_arm=self.prearm_ok_cached, fence_breached=self.failsafes.breached != 0,
            failsafes=self.failsafes.active(), link_connected=self.link_connected,
            distance_flown_m=self.simulation.distance_m,
            release_positions=tuple(payload.release_positions),
            grab_positions=tuple(payload.grab_positions))
