"""A fleet of simulated copters served from one thread with one selector loop.

Every vehicle gets its own MAVLink endpoint (TCP ``base_port + 10*i`` like SITL instance ``i``,
optionally UDP on the same number) and ``SYSID_THISMAV = i + 1``. One thread waits on all
sockets, advances every vehicle in fixed steps of simulated time (wall time times the speedup)
and sends what they produced, so a hundred vehicles cost one thread and no busy loop.
"""

from __future__ import annotations

import contextlib
import logging
import math
import selectors
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from types import TracebackType

from planner.scenario import DroneType, Wind
from planner.terrain import Dem
from sitl.builtin.clock import SimClock
from sitl.builtin.copter.simulation import STEP_S
from sitl.builtin.copter.state import VehicleState
from sitl.builtin.copter.vehicle import DEFAULT_SETTLE_S, SimVehicle
from sitl.builtin.endpoint import Endpoint
from sitl.builtin.faults import LinkFaults
from sitl.builtin.flight.battery import NOMINAL_VOLTAGE_V, PowerModel
from sitl.builtin.flight.geo import LocalFrame
from sitl.errors import SimulatorError

log = logging.getLogger(__name__)

#: Most wall seconds the simulation may lag behind its clock. Further behind (a machine too busy
#: for the speedup), simulated time slips instead: the fleet runs slower than asked but keeps
#: answering, rather than spending ever longer bursts catching up with its sockets unserved.
MAX_LAG_WALL_S = 0.25
#: Most simulated seconds a vehicle runs in one catch-up without reading its sockets, whatever
#: the speedup. A vehicle's protocol timers run on simulated time (ArduPilot re-requests a
#: mission item after 1 s and cancels the upload after 8 s): a longer catch-up would let them run
#: out while the ground station's answer waits unread, which real SITL, whose clock only advances
#: as fast as its loop runs, never does.
MAX_LAG_SIM_S = 0.5


def drone_type_params(drone: DroneType) -> dict[str, float]:
    """ArduCopter parameters that make a simulated copter fly like a scenario drone type."""
    return {
        "WPNAV_SPEED": drone.cruise_speed_m_s * 100.0,
        "WPNAV_SPEED_UP": drone.climb_rate_m_s * 100.0,
        "WPNAV_SPEED_DN": drone.descent_rate_m_s * 100.0,
        "BATT_CAPACITY": round(drone.battery_wh / NOMINAL_VOLTAGE_V * 1000.0),
    }


class SimVehicleHandle:
    """Thread-safe fault injection into, and inspection of, one simulated vehicle."""

    def __init__(self, fleet: BuiltinFleet, index: int) -> None:
        self._fleet = fleet
        self._index = index
        self.sysid = index + 1

    @property
    def _vehicle(self) -> SimVehicle:
        return self._fleet._vehicles[self._index]

    @property
    def _endpoint(self) -> Endpoint:
        return self._fleet._endpoints[self._index]

    def set_link_faults(self, *, loss: float = 0.0, latency_s: float = 0.0,
                        duplicate: float = 0.0, reorder: float = 0.0) -> None:
        """Loss, duplication and reordering probabilities and a latency (simulated s)."""
        faults = LinkFaults(loss=loss, latency_s=latency_s, duplicate=duplicate,
                            reorder=reorder)
        with self._fleet._lock:
            self._endpoint.downlink.faults = faults
            self._endpoint.uplink.faults = faults

    def cut_link(self, duration_s: float) -> None:
        """Drop every message both ways for ``duration_s`` simulated seconds."""
        if duration_s < 0:
            raise ValueError(f"Expected duration_s >= 0, got {duration_s}")
        with self._fleet._lock:
            self._endpoint.set_cut(self._vehicle.t + duration_s)

    def battery_sag(self, fraction: float) -> None:
        """Lose ``fraction`` of the remaining battery capacity at once."""
        with self._fleet._lock:
            self._vehicle.battery.sag(fraction)

    def gps_loss(self, lost: bool = True) -> None:
        """Lose (or regain) GPS: no fix, EKF failsafe (LAND) when flying."""
        with self._fleet._lock:
            self._vehicle.set_gps_lost(lost)

    def motor_failure(self) -> None:
        """A motor fails: the vehicle lands at once and no other mode is accepted in flight."""
        with self._fleet._lock:
            self._vehicle.motor_failure()

    def load_payload(self, payload_kg: float, parcels: int = 1) -> None:
        """Put ``parcels`` parcels weighing ``payload_kg`` in total in the gripper."""
        if payload_kg < 0 or parcels < 0:
            raise ValueError(f"Expected payload_kg >= 0 and parcels >= 0, got {payload_kg}, "
                             f"{parcels}")
        with self._fleet._lock:
            self._vehicle.payload_kg = payload_kg
            self._vehicle.parcels = parcels

    def set_wind(self, speed_m_s: float, from_deg: float) -> None:
        """Steady wind for this vehicle (SIM_WIND_SPD / SIM_WIND_DIR)."""
        with self._fleet._lock:
            self._vehicle.params.set("SIM_WIND_SPD", speed_m_s)
            self._vehicle.params.set("SIM_WIND_DIR", from_deg)

    def param(self, name: str) -> float:
        """The vehicle's present value of parameter ``name``."""
        with self._fleet._lock:
            return float(self._vehicle.params[name])

    @property
    def drone_type_id(self) -> str | None:
        """The scenario drone type the vehicle flies as (None: the default SITL quad)."""
        return self._fleet.drone_type_ids[self._index]

    def snapshot(self) -> VehicleState:
        """The vehicle's present state."""
        with self._fleet._lock:
            return self._vehicle.snapshot()

    @property
    def connection_string(self) -> str:
        """Where a ground station connects to this vehicle."""
        return self._fleet.connection_strings[self._index]


class BuiltinFleet:
    """N simulated ArduCopters, each a MAVLink 2 endpoint on loopback.

    Parameters
    ----------
    vehicles
        Number of vehicles.
    home
        Latitude, longitude (degrees) and ground altitude AMSL of vehicle 0.
    speedup
        Simulated seconds per wall second.
    seed
        Seed of GPS noise and link faults.
    base_port
        Vehicle ``i`` listens on TCP ``base_port + 10*i``.
    udp
        Also serve UDP on the same port numbers (connection strings become ``udpout:``).
    host
        Interface to listen on.
    dem
        Terrain model giving each vehicle's start (``--home``) altitude when given. The ground
        the vehicles fly over is only the terrain a ground station serves them (TERRAIN_DATA),
        flat at the start altitude without it, as on ArduPilot SITL.
    params
        ArduCopter parameter overrides for every vehicle.
    drone_type
        Scenario drone type of every vehicle: speeds, battery capacity and the current model
        follow it.
    drone_types
        One drone type per vehicle instead (None for the default SITL quad), for a mixed fleet.
    wind
        Steady wind for every vehicle.
    spacing_m
        Vehicle ``i`` starts ``i * spacing_m`` east of ``home``.
    homes
        Where each vehicle starts instead (latitude, longitude in degrees; one per vehicle),
        e.g. at the depots of a plan; ``home`` stays the origin of the local frame.
    battery_swap
        A vehicle that stands disarmed near its home for a minute gets a full pack, as a crew
        swaps it during the turnaround (see
        :data:`sitl.builtin.copter.vehicle.BATTERY_SWAP_NEAR_M`).
    settle_s
        Simulated time from boot to GPS/EKF ready (42 s as on SITL).
    finite_battery
        Packs that sag in voltage as they empty (SITL's default pack is infinite at 12.6 V).
    """

    def __init__(self, *, vehicles: int, home: tuple[float, float, float],
                 speedup: float = 1.0, seed: int = 0, base_port: int = 5760,
                 udp: bool = False, host: str = "127.0.0.1", dem: Dem | None = None,
                 params: Mapping[str, float] | None = None,
                 drone_type: DroneType | None = None, wind: Wind | None = None,
                 spacing_m: float = 10.0, settle_s: float = DEFAULT_SETTLE_S,
                 finite_battery: bool = False,
                 homes: Sequence[tuple[float, float]] | None = None,
                 drone_types: Sequence[DroneType | None] | None = None,
                 battery_swap: bool = False) -> None:
        if vehicles < 1:
            raise ValueError(f"Expected at least 1 vehicle, got {vehicles}")
        if homes is not None and len(homes) != vehicles:
            raise ValueError(f"Expected one home per vehicle ({vehicles}), got {len(homes)}")
        if drone_types is not None and len(drone_types) != vehicles:
            raise ValueError(f"Expected one drone type per vehicle ({vehicles}), got "
                             f"{len(drone_types)}")
        if drone_types is not None and drone_type is not None:
            raise ValueError("Expected drone_type or drone_types, not both")
        if not -90 <= home[0] <= 90 or not -180 <= home[1] <= 180:
            raise ValueError(f"Expected home as (lat, lon, alt), got {home}")
        self.clock = SimClock(speedup)
        self.speedup = float(speedup)
        self.base_port = base_port
        self.host = host
        self.udp = udp
        self.frame = LocalFrame(home[0], home[1])
        types = list(drone_types) if drone_types is not None else [drone_type] * vehicles
        #: The drone type id of each vehicle (None: the default SITL quad).
        self.drone_type_ids: tuple[str | None, ...] = tuple(
            None if t is None else t.id for t in types)
        self._vehicles: list[SimVehicle] = []
        for i, kind in enumerate(types):
            overrides: dict[str, float] = {}
            if kind is not None:
                overrides.update(drone_type_params(kind))
            overrides.update(params or {})
            overrides["SIM_SPEEDUP"] = self.speedup
            lat, lon = self.frame.to_latlon(0.0, i * spacing_m) if homes is None else homes[i]
            alt = home[2] if dem is None else float(dem.elevation_amsl_m(lon, lat))
            self._vehicles.append(SimVehicle(
                sysid=i + 1, start=(lat, lon, alt), frame=self.frame, params=overrides,
                seed=seed, power=PowerModel.from_drone_type(kind) if kind
                else PowerModel(), wind=wind, settle_s=settle_s, finite_battery=finite_battery,
                battery_swap=battery_swap))
        self._endpoints = [Endpoint(v, host=host, port=base_port + 10 * i, udp=udp,
                                    seed=seed * 1000 + i) for i, v in enumerate(self._vehicles)]
        self._handles = [SimVehicleHandle(self, i) for i in range(vehicles)]
        self._lock = threading.RLock()
        self._selector: selectors.BaseSelector | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self.loop_error: BaseException | None = None
        self.cpu_s = 0.0
        #: Simulated seconds lost to overload (see :data:`MAX_LAG_WALL_S`).
        self.slipped_s = 0.0

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        """Open every endpoint and start the simulation thread."""
        if self._thread is not None:
            raise SimulatorError("fleet already started")
        selector = selectors.DefaultSelector()
        self._selector = selector
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        selector.register(self._wake_r, selectors.EVENT_READ, None)
        try:
            for endpoint in self._endpoints:
                endpoint.open(selector)
        except SimulatorError:
            self._close_sockets()
            raise
        self._stop.clear()
        self.clock.start()
        self._thread = threading.Thread(target=self._run, name="builtin-fleet", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and close every socket."""
        thread = self._thread
        if thread is None:
            return
        self._stop.set()
        if self._wake_w is not None:
            with contextlib.suppress(OSError):
                self._wake_w.send(b"x")
        thread.join(timeout=10.0)
        self._thread = None
        self._close_sockets()

    def _close_sockets(self) -> None:
        selector = self._selector
        if selector is None:
            return
        for endpoint in self._endpoints:
            endpoint.close(selector)
        for sock in (self._wake_r, self._wake_w):
            if sock is not None:
                sock.close()
        self._wake_r = self._wake_w = None
        selector.close()
        self._selector = None

    def __enter__(self) -> BuiltinFleet:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- access -------------------------------------------------------------------------------
    @property
    def connection_strings(self) -> list[str]:
        """``tcp:HOST:PORT`` per vehicle (``udpout:HOST:PORT`` with ``udp``)."""
        scheme = "udpout" if self.udp else "tcp"
        return [f"{scheme}:{self.host}:{self.base_port + 10 * i}"
                for i in range(len(self._vehicles))]

    def vehicle(self, index: int) -> SimVehicleHandle:
        """Handle of vehicle ``index`` (0-based; its sysid is ``index + 1``)."""
        return self._handles[index]

    def __len__(self) -> int:
        return len(self._vehicles)

    @property
    def sim_time_s(self) -> float:
        """Simulated seconds since start (of the slowest vehicle)."""
        with self._lock:
            return min(v.t for v in self._vehicles)

    @property
    def running(self) -> bool:
        """The simulation thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    # -- loop ---------------------------------------------------------------------------------
    def _run(self) -> None:
        selector = self._selector
        assert selector is not None
        cpu0 = time.thread_time()
        tick_wall = max(STEP_S / self.speedup, 0.001)
        try:
            while not self._stop.is_set():
                next_step = (math.floor(self.clock.now_s() / STEP_S) + 1) * STEP_S
                timeout = max(0.0, min(tick_wall, self.clock.wall_for(
                    next_step - self.clock.now_s())))
                for key, _ in selector.select(timeout):
                    callback = key.data
                    if callback is None:
                        self._drain_wake()
                        continue
                    with self._lock:
                        callback(selector)
                now = self.clock.now_s()
                with self._lock:
                    behind_s = now - min(v.t for v in self._vehicles)
                    max_lag_s = min(MAX_LAG_WALL_S * self.speedup, MAX_LAG_SIM_S)
                    if behind_s > max_lag_s:
                        self.clock.slip(behind_s - max_lag_s)
                        self.slipped_s += behind_s - max_lag_s
                        now = self.clock.now_s()
                    for vehicle, endpoint in zip(self._vehicles, self._endpoints, strict=True):
                        endpoint.deliver()  # what arrived before the steps it waited through
                        vehicle.advance_to(now)
                        endpoint.deliver()
                        endpoint.flush(selector)
        except BaseException as exc:
            self.loop_error = exc
            log.exception("built-in fleet loop failed")
        finally:
            self.cpu_s = time.thread_time() - cpu0

    def _drain_wake(self) -> None:
        if self._wake_r is None:
            return
        try:
            while self._wake_r.recv(4096):
                pass
        except (BlockingIOError, OSError):
            return
