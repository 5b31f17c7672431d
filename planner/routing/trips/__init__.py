"""Energy-constrained multi-trip drone routing by exact trip selection."""

from planner.routing.trips.solve import TRIP_OBJECTIVES as TRIP_OBJECTIVES
from planner.routing.trips.solve import ArcEnergy as ArcEnergy
from planner.routing.trips.solve import ArcValue as ArcValue
from planner.routing.trips.solve import DroneClass as DroneClass
from planner.routing.trips.solve import PlannedTrip as PlannedTrip
from planner.routing.trips.solve import TripCustomer as TripCustomer
from planner.routing.trips.solve import TripObjective as TripObjective
from planner.routing.trips.solve import TripParams as TripParams
from planner.routing.trips.solve import TripPlan as TripPlan
from planner.routing.trips.solve import TripProblem as TripProblem
from planner.routing.trips.solve import TripProgress as TripProgress
from planner.routing.trips.solve import solve_trips as solve_trips
