"""Data model of the trip-selection router: customers, drone classes, parameters, answers.

See :mod:`planner.routing.trips.solve` for the method; the names are public there.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

TripObjective = Literal["distance", "energy", "sorties", "makespan_then_energy"]
TRIP_OBJECTIVES: tuple[TripObjective, ...] = ("distance", "energy", "sorties",
                                              "makespan_then_energy")

ArcValue = Callable[[int, int], float]
ArcEnergy = Callable[[int, int, float], float]


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def _number(name: str, value: float, *, low: float = 0.0, allow_inf: bool = False) -> None:
    ok = (isinstance(value, int | float) and not isinstance(value, bool) and not math.isnan(value)
          and value >= low and (allow_inf or math.isfinite(value)))
    _require(ok, f"Expected {name} >= {low:g}{' (or inf)' if allow_inf else ''}, got {value!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class TripCustomer:
    """A customer: node ``node`` of the arc functions, its demand and time window.

    ``demand_kg`` is delivered there (carried from the depot); ``pickup_kg`` collected there
    (carried back to the depot). Service must start within ``[ready_s, due_s]`` (seconds from
    the plan start) and lasts ``service_s``.
    """

    node: int
    demand_kg: float
    ready_s: float = 0.0
    due_s: float = math.inf
    service_s: float = 0.0
    name: str = ""
    pickup_kg: float = 0.0

    def __post_init__(self) -> None:
        _require(isinstance(self.node, int) and self.node >= 0,
                 f"Expected node to be an integer >= 0, got {self.node!r}")
        _number("demand_kg", self.demand_kg)
        _number("pickup_kg", self.pickup_kg)
        _number("ready_s", self.ready_s)
        _number("due_s", self.due_s, low=self.ready_s, allow_inf=True)
        _number("service_s", self.service_s)


@dataclass(frozen=True, slots=True, kw_only=True)
class DroneClass:
    """``count`` identical drones at depot node ``depot_node`` with their arc functions.

    ``arc_time_s(i, j)`` and ``arc_distance_m(i, j)`` give the flight from node ``i`` to node
    ``j`` (``inf`` for an arc that cannot be flown); ``arc_energy_wh(i, j, load_kg)`` its energy
    with ``load_kg`` of payload on board, non-decreasing in the load. A trip may use at most
    ``energy_limit_wh`` (the usable battery after the reserve), carry at most ``capacity_kg`` at
    any point (the deliveries at take-off, less those made, plus the pickups made)
    and stop at most ``max_stops`` times. Trips leave no earlier than ``available_from_s`` and
    land by ``return_by_s``; a drone needs ``turnaround_s`` after landing before its next trip.
    """

    id: str
    count: int
    depot_node: int
    capacity_kg: float
    energy_limit_wh: float
    arc_time_s: ArcValue
    arc_distance_m: ArcValue
    arc_energy_wh: ArcEnergy
    max_stops: int | None = None
    turnaround_s: float = 0.0
    available_from_s: float = 0.0
    return_by_s: float = math.inf

    def __post_init__(self) -> None:
        _require(bool(self.id), "Expected a non-empty drone class id")
        _require(isinstance(self.count, int) and self.count >= 1,
                 f"Expected count to be an integer >= 1, got {self.count!r}")
        _require(isinstance(self.depot_node, int) and self.depot_node >= 0,
                 f"Expected depot_node to be an integer >= 0, got {self.depot_node!r}")
        _number("capacity_kg", self.capacity_kg, allow_inf=True)
        _number("energy_limit_wh", self.energy_limit_wh, allow_inf=True)
        _require(self.max_stops is None or (isinstance(self.max_stops, int)
                                            and self.max_stops >= 1),
                 f"Expected max_stops >= 1 or None, got {self.max_stops!r}")
        _number("turnaround_s", self.turnaround_s)
        _number("available_from_s", self.available_from_s)
        _number("return_by_s", self.return_by_s, low=self.available_from_s, allow_inf=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class TripProblem:
    """Customers, drone classes and the objective.

    With ``wait_allowed`` a drone that arrives before a customer's ready time waits there at no
    energy cost (the convention of Cheng et al. 2020); without it service starts on arrival, so
    the trip's departure is chosen to meet every window. ``triangle_inequality`` declares that
    flying via another node never takes less time or energy than flying direct (true of
    shortest paths with a payload-monotone power); it lets enumeration prune earlier.
    """

    customers: tuple[TripCustomer, ...]
    fleet: tuple[DroneClass, ...]
    objective: TripObjective = "distance"
    wait_allowed: bool = True
    triangle_inequality: bool = True

    def __post_init__(self) -> None:
        _require(len(self.fleet) >= 1, "Expected at least one drone class")
        _require(self.objective in TRIP_OBJECTIVES,
                 f"Expected objective in {TRIP_OBJECTIVES}, got {self.objective!r}")
        nodes = [c.node for c in self.customers]
        _require(len(set(nodes)) == len(nodes), "Expected every customer at a distinct node")
        for k, dc in enumerate(self.fleet):
            _require(dc.depot_node not in set(nodes),
                     f"Expected fleet[{k}].depot_node {dc.depot_node} not to be a customer node")


@dataclass(frozen=True, slots=True, kw_only=True)
class TripParams:
    """Search settings.

    ``time_limit_s`` bounds the whole solve when a clock is given, else the CP-SAT searches.
    ``max_labels`` bounds enumeration per class; beyond it (or with ``neighbours``) each
    customer may only follow one of its nearest customers and the answer is not proven optimal.
    ``max_columns`` caps the trips given to the final search (those of smallest reduced cost).
    """

    time_limit_s: float = 10.0
    seed: int = 0
    max_labels: int = 1_500_000
    neighbours: int | None = None
    max_columns: int = 60_000
    time_scale: int = 100

    def __post_init__(self) -> None:
        _number("time_limit_s", self.time_limit_s, low=1e-3)
        _require(isinstance(self.seed, int) and self.seed >= 0,
                 f"Expected seed to be an integer >= 0, got {self.seed!r}")
        for name in ("max_labels", "max_columns", "time_scale"):
            value = getattr(self, name)
            _require(isinstance(value, int) and value >= 1,
                     f"Expected {name} to be an integer >= 1, got {value!r}")
        _require(self.neighbours is None or (isinstance(self.neighbours, int)
                                             and self.neighbours >= 1),
                 f"Expected neighbours >= 1 or None, got {self.neighbours!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class TripProgress:
    """A progress report: the stage, trip counts and the best objective and bound so far."""

    stage: str
    candidates: int
    columns: int
    objective: float | None = None
    bound: float | None = None
    solver_s: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class PlannedTrip:
    """One trip: drone ``drone`` (0-based) of class ``drone_class`` serves ``customers``.

    ``customers`` are indexes into ``TripProblem.customers`` in flying order;
    ``service_start_s`` the start of service at each (the ETAs); ``load_kg`` the most payload
    on board at any time (at take-off without pickups).
    """

    drone_class: int
    drone: int
    customers: tuple[int, ...]
    depart_s: float
    service_start_s: tuple[float, ...]
    return_s: float
    distance_m: float
    energy_wh: float
    load_kg: float


@dataclass(frozen=True, slots=True, kw_only=True)
class TripPlan:
    """The answer: trips ordered by class, drone and departure, with the exact figures.

    ``optimal`` is True when the search proved the objective optimal over every feasible trip
    (up to the integer scaling of costs, below 1e-4 of a unit per trip); ``lower_bound`` bounds
    the primary objective. ``restricted`` tells that enumeration was limited to near
    neighbours. ``makespan_s`` is the end of the last service.
    """

    trips: tuple[PlannedTrip, ...]
    objective: TripObjective
    distance_m: float
    energy_wh: float
    makespan_s: float
    optimal: bool
    lower_bound: float
    candidates: int
    columns: int
    restricted: bool
    status: str

    @property
    def num_trips(self) -> int:
        """Number of trips flown."""
        return len(self.trips)

    @property
    def cost(self) -> float:
        """Value of the primary objective."""
        if self.objective == "distance":
            return self.distance_m
        if self.objective == "energy":
            return self.energy_wh
        if self.objective == "sorties":
            return float(self.num_trips)
        return self.makespan_s
