"""Energy-constrained multi-trip drone routing with time windows, solved by trip selection.

Every customer (a drop) has a demand, a time window on the start of its service and a service
time. A fleet of drone classes (a type at a depot, ``count`` identical drones) flies trips
depot -> customers -> depot, several per drone, one after the other with a turnaround, all
within the class's working hours. Each trip respects the class's payload capacity, stop count
and battery energy, where the energy of every arc is given by the caller as a function of the
payload on board on that arc (the payload falls at each delivery and rises at each pickup), so
nonlinear models such as Dorling et al. (2017) are checked exactly, never linearised. With
pickups every trip stays exactly checked but the optimum is not claimed proven (see
:mod:`planner.routing.trips._enum`).

The method (after the set-partitioning approaches to multi-trip drone routing):

1. enumerate every feasible trip of every class by backward labelling with exact energy, load
   and time-window checks and dominance (:mod:`planner.routing.trips._enum`);
2. select trips covering each customer exactly once and schedule them on the drones with CP-SAT
   (optional intervals in a cumulative per class, :mod:`planner.routing.trips._cpsat`), which
   proves the optimum when it can;
3. beyond a few hundred trips, a linear relaxation (HiGHS) bounds the answer and ranks the trips
   by reduced cost; CP-SAT searches growing pools of the trips of least reduced cost, each
   starting from the best answer so far, and an optimum over a pool that holds every trip whose
   reduced cost could still improve on it is the optimum (reduced-cost fixing,
   :mod:`planner.routing.trips._lp`).

Objectives: ``distance`` (total distance), ``energy`` (total energy), ``sorties`` (number of
trips, then distance) and ``makespan_then_energy`` (end of the last service, then energy).
The answer is deterministic for a seed when the search ends by proving optimality; a run cut
by the time limit depends on the machine's speed.
"""

from __future__ import annotations

from collections.abc import Callable

from planner.errors import RoutingInfeasibleError
from planner.routing.trips._search import search
from planner.routing.trips.types import TRIP_OBJECTIVES as TRIP_OBJECTIVES
from planner.routing.trips.types import ArcEnergy as ArcEnergy
from planner.routing.trips.types import ArcValue as ArcValue
from planner.routing.trips.types import DroneClass as DroneClass
from planner.routing.trips.types import PlannedTrip as PlannedTrip
from planner.routing.trips.types import TripCustomer as TripCustomer
from planner.routing.trips.types import TripObjective as TripObjective
from planner.routing.trips.types import TripParams as TripParams
from planner.routing.trips.types import TripPlan as TripPlan
from planner.routing.trips.types import TripProblem as TripProblem
from planner.routing.trips.types import TripProgress as TripProgress


def solve_trips(problem: TripProblem, params: TripParams | None = None, *,
                progress: Callable[[TripProgress], None] | None = None,
                clock: Callable[[], float] | None = None) -> TripPlan:
    """Choose and schedule trips serving every customer once at least cost.

    Parameters
    ----------
    problem
        Customers, drone classes with their arc functions, and the objective.
    params
        Time limit, seed and enumeration limits.
    progress
        Called with a :class:`TripProgress` at each stage and each improving answer.
    clock
        A monotonic clock in seconds; with it the time limit covers enumeration too.

    Returns
    -------
    TripPlan
        The best answer found; every trip keeps every constraint.

    Raises
    ------
    RoutingInfeasibleError
        When some customer cannot be served by any trip, or no answer was found in time.

    Examples
    --------
    Two customers 300 m east and north of a depot, one drone of 1 m/s flight:

    >>> import math
    >>> xy = [(0, 0), (300, 0), (0, 300)]
    >>> d = lambda i, j: math.dist(xy[i], xy[j])
    >>> drone = DroneClass(id="quad", count=1, depot_node=0, capacity_kg=2.0,
    ...     energy_limit_wh=100.0, arc_time_s=d, arc_distance_m=d,
    ...     arc_energy_wh=lambda i, j, q: (100 + 50 * q) * d(i, j) / 3600)
    >>> problem = TripProblem(customers=(TripCustomer(node=1, demand_kg=1.0),
    ...     TripCustomer(node=2, demand_kg=1.0)), fleet=(drone,))
    >>> plan = solve_trips(problem, TripParams(time_limit_s=5))
    >>> plan.optimal, round(plan.distance_m, 1), [t.customers for t in plan.trips]
    (True, 1024.3, [(0, 1)])
    """
    params = params or TripParams()
    outcome = search(problem, params, progress=progress, clock=clock)
    if outcome.unservable:
        raise RoutingInfeasibleError("no trip of any drone class can serve these customers",
                                     clients=outcome.unservable)
    if outcome.plan is None:
        raise RoutingInfeasibleError(outcome.status)
    return outcome.plan
