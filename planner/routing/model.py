"""A solver-neutral routing problem and its solution.

Nodes are numbered depots first, then clients: node ``d`` is depot ``d`` and node
``len(depots) + c`` is client ``c``. The two matrices are indexed by node, may be asymmetric and
may hold ``inf`` for an arc that cannot be flown. Distances are in metres (or in the unit of a
benchmark instance), times in seconds from the plan start, loads in the unit of the vehicle
capacity (kg for parcels).

A vehicle flies one or more trips (sorties) from its depot: depot -> clients -> depot. It leaves
with every delivery of the trip on board; the load falls at each delivery and rises at each
pickup, and must stay within the capacity all along. Before
each trip it spends ``turnaround_s`` at the depot (loading, battery swap); the first trip leaves
the depot at time 0 at the earliest. Per-trip limits (distance, duration, capacity, parcels) hold
for every trip; ``shift_end_s`` bounds the return of the last trip. A client's time window bounds
the start of its service (the drop ETA); a trip may leave the depot late to avoid waiting.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Objective = Literal["makespan_then_energy", "distance", "sorties"]
OBJECTIVES: tuple[Objective, ...] = ("makespan_then_energy", "distance", "sorties")


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def _non_negative(name: str, value: float, *, allow_inf: bool = False) -> None:
    ok = not math.isnan(value) and value >= 0 and (allow_inf or math.isfinite(value))
    expected = "a number >= 0" + (" (or inf)" if allow_inf else "")
    _require(ok, f"Expected {name} to be {expected}, got {value!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class DepotNode:
    """A depot node of the routing problem: where vehicles start and end every trip.

    Only its place in :attr:`RoutingProblem.depots` matters (its node number); the scenario's
    depot with its position and drones is :class:`planner.scenario.Depot`.
    """

    name: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Client:
    """A place to serve once (a drop).

    ``demand`` (delivered there, carried from the depot) and ``pickup`` (collected there, carried
    back to the depot) are in the vehicle capacity's unit; ``service_s`` the time spent there;
    the service must start within ``[earliest_s, latest_s]``. An optional client
    (``required=False``) is served only if its ``prize`` (in distance units) pays for the detour.
    """

    demand: float = 0.0
    pickup: float = 0.0
    service_s: float = 0.0
    earliest_s: float = 0.0
    latest_s: float = math.inf
    required: bool = True
    prize: float = 0.0
    name: str = ""

    def __post_init__(self) -> None:
        _non_negative("demand", self.demand)
        _non_negative("pickup", self.pickup)
        _non_negative("service_s", self.service_s)
        _non_negative("earliest_s", self.earliest_s)
        _non_negative("latest_s", self.latest_s, allow_inf=True)
        _require(self.latest_s >= self.earliest_s,
                 f"Expected latest_s >= earliest_s, got {self.latest_s} < {self.earliest_s}")
        _non_negative("prize", self.prize)


@dataclass(frozen=True, slots=True, kw_only=True)
class VehicleType:
    """``count`` identical vehicles based at depot ``depot``.

    ``capacity``, ``max_parcels``, ``max_trip_distance_m`` and ``max_trip_duration_s`` (from
    leaving the depot to landing back, waiting included) bound every trip; ``max_trips`` the
    number of trips per vehicle; ``shift_end_s`` the landing of its last trip.
    """

    depot: int
    count: int
    capacity: float = math.inf
    max_parcels: int | None = None
    max_trip_distance_m: float = math.inf
    max_trip_duration_s: float = math.inf
    turnaround_s: float = 0.0
    shift_end_s: float = math.inf
    max_trips: int = 1
    name: str = ""

    def __post_init__(self) -> None:
        _require(self.depot >= 0, f"Expected depot >= 0, got {self.depot}")
        _require(self.count >= 1, f"Expected count >= 1, got {self.count}")
        _non_negative("capacity", self.capacity, allow_inf=True)
        _require(self.max_parcels is None or self.max_parcels >= 1,
                 f"Expected max_parcels >= 1 or None, got {self.max_parcels}")
        _non_negative("max_trip_distance_m", self.max_trip_distance_m, allow_inf=True)
        _non_negative("max_trip_duration_s", self.max_trip_duration_s, allow_inf=True)
        _non_negative("turnaround_s", self.turnaround_s)
        _non_negative("shift_end_s", self.shift_end_s, allow_inf=True)
        _require(self.max_trips >= 1, f"Expected max_trips >= 1, got {self.max_trips}")

    @property
    def has_trip_limits(self) -> bool:
        """Whether a per-trip distance or duration limit is set."""
        return math.isfinite(self.max_trip_distance_m) or math.isfinite(self.max_trip_duration_s)


@dataclass(frozen=True, slots=True, kw_only=True)
class RoutingProblem:
    """Depots, clients, vehicle types, the node matrices and the objective.

    Objectives: ``makespan_then_energy`` minimises the time the last client is served (end of its
    service), then the total distance (the energy proxy at this level); ``distance`` the total
    distance minus the prizes of served optional clients; ``sorties`` the number of trips, then
    the distance. The matrices are copied, unless given read-only and owning their data: such
    an array is kept as it is, and the caller must leave it unchanged.
    """

    depots: tuple[DepotNode, ...]
    clients: tuple[Client, ...]
    vehicle_types: tuple[VehicleType, ...]
    distance_m: np.ndarray = field(repr=False)
    duration_s: np.ndarray = field(repr=False)
    objective: Objective = "makespan_then_energy"

    def __post_init__(self) -> None:
        n = len(self.depots) + len(self.clients)
        _require(len(self.depots) >= 1, "Expected at least one depot")
        _require(len(self.vehicle_types) >= 1, "Expected at least one vehicle type")
        _require(self.objective in OBJECTIVES,
                 f"Expected objective in {OBJECTIVES}, got {self.objective!r}")
        for name in ("distance_m", "duration_s"):
            m = np.asarray(getattr(self, name), dtype=np.float64)
            _require(m.shape == (n, n), f"Expected {name} of shape {(n, n)}, got {m.shape}")
            _require(not bool(np.isnan(m).any()) and bool((m >= 0).all()),
                     f"Expected {name} >= 0 everywhere (inf for a forbidden arc)")
            if m.flags.writeable or not m.flags.owndata:
                m = m.copy()  # a read-only array owning its data is kept as it is
                m.setflags(write=False)
            object.__setattr__(self, name, m)
        for k, vt in enumerate(self.vehicle_types):
            _require(vt.depot < len(self.depots),
                     f"Expected vehicle_types[{k}].depot < {len(self.depots)}, got {vt.depot}")

    @property
    def n_nodes(self) -> int:
        """Number of nodes: depots then clients."""
        return len(self.depots) + len(self.clients)

    def node(self, client: int) -> int:
        """Matrix index of client ``client``."""
        return len(self.depots) + client


@dataclass(frozen=True, slots=True, kw_only=True)
class Trip:
    """One trip: depot -> ``clients`` in order -> depot.

    ``depart_s`` is when it leaves the depot (after the turnaround), ``service_start_s`` the start
    of service at each client (the ETA), ``return_s`` the landing back at the depot, ``load``
    the most on board at any time.
    """

    clients: tuple[int, ...]
    depart_s: float
    service_start_s: tuple[float, ...]
    return_s: float
    distance_m: float
    load: float

    @property
    def duration_s(self) -> float:
        """Time from leaving the depot to landing back."""
        return self.return_s - self.depart_s


@dataclass(frozen=True, slots=True, kw_only=True)
class VehicleRoute:
    """The trips of vehicle ``vehicle`` (0-based within its type) of type ``vehicle_type``."""

    vehicle_type: int
    vehicle: int
    trips: tuple[Trip, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Solution:
    """Routes of the vehicles used, the optional clients left out, and the exact figures.

    Every figure is computed from the problem's float matrices. ``makespan_s`` is the end of the
    last service; ``violations`` is empty for an answer that keeps every constraint.
    """

    routes: tuple[VehicleRoute, ...]
    unserved: tuple[int, ...]
    distance_m: float
    makespan_s: float
    num_trips: int
    prize: float
    violations: tuple[str, ...] = ()

    @property
    def feasible(self) -> bool:
        """Whether every constraint holds."""
        return not self.violations

    def objective_key(self, objective: Objective) -> tuple[float, ...]:
        """Lexicographic key of this answer under ``objective`` (smaller is better)."""
        net = self.distance_m - self.prize
        if objective == "distance":
            return (net,)
        if objective == "sorties":
            return (float(self.num_trips), net)
        return (self.makespan_s, net)

    def eta_s(self) -> dict[int, float]:
        """Start of service at every served client."""
        return {c: t for r in self.routes for trip in r.trips
                for c, t in zip(trip.clients, trip.service_start_s, strict=True)}
