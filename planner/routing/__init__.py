"""Routing core: a solver-neutral problem model, the PyVRP solver, an exact re-check, and the
exact-energy trip solver (trip enumeration with the nonlinear payload-aware energy, CP-SAT).
"""

from planner.routing.check import check as check
from planner.routing.check import from_trips as from_trips
from planner.routing.model import OBJECTIVES as OBJECTIVES
from planner.routing.model import Client as Client
from planner.routing.model import DepotNode as DepotNode
from planner.routing.model import Objective as Objective
from planner.routing.model import RoutingProblem as RoutingProblem
from planner.routing.model import Solution as Solution
from planner.routing.model import Trip as Trip
from planner.routing.model import VehicleRoute as VehicleRoute
from planner.routing.model import VehicleType as VehicleType
from planner.routing.pyvrp_solver import solve as solve
from planner.routing.trips.solve import TRIP_OBJECTIVES as TRIP_OBJECTIVES
from planner.routing.trips.solve import DroneClass as DroneClass
from planner.routing.trips.solve import PlannedTrip as PlannedTrip
from planner.routing.trips.solve import TripCustomer as TripCustomer
from planner.routing.trips.solve import TripParams as TripParams
from planner.routing.trips.solve import TripPlan as TripPlan
from planner.routing.trips.solve import TripProblem as TripProblem
from planner.routing.trips.solve import TripProgress as TripProgress
from planner.routing.trips.solve import solve_trips as solve_trips
