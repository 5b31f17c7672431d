"""Routing core: a solver-neutral problem model, the PyVRP solver, an exact re-check, and the
exact-energy trip solver (trip enumeration with the nonlinear payload-aware energy, CP-SAT).
"""

from .check import check as check
from .check import from_trips as from_trips
from .model import OBJECTIVES as OBJECTIVES
from .model import Client as Client
from .model import Depot as Depot
from .model import Objective as Objective
from .model import RoutingProblem as RoutingProblem
from .model import Solution as Solution
from .model import Trip as Trip
from .model import VehicleRoute as VehicleRoute
from .model import VehicleType as VehicleType
from .pyvrp_solver import solve as solve
from .trips import TRIP_OBJECTIVES as TRIP_OBJECTIVES
from .trips import DroneClass as DroneClass
from .trips import PlannedTrip as PlannedTrip
from .trips import TripCustomer as TripCustomer
from .trips import TripParams as TripParams
from .trips import TripPlan as TripPlan
from .trips import TripProblem as TripProblem
from .trips import TripProgress as TripProgress
from .trips import solve_trips as solve_trips
