"""Routing core: a solver-neutral problem model, the PyVRP solver and an exact re-check."""

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
