"""Fleet operations over the protocol layer: vehicles flying plans, checks, failsafes, logs."""

from gcs.fleet.assign import MORE_VEHICLES_S as MORE_VEHICLES_S
from gcs.fleet.assign import NEAR_DEPOT_M as NEAR_DEPOT_M
from gcs.fleet.assign import POSITIONS_WAIT_S as POSITIONS_WAIT_S
from gcs.fleet.assign import assign_vehicles as assign_vehicles
from gcs.fleet.assign import drone_type_of as drone_type_of
from gcs.fleet.assign import known_positions as known_positions
from gcs.fleet.assign import match_fleet as match_fleet
from gcs.fleet.assign import plan_depots as plan_depots
from gcs.fleet.logs import FLIGHT_DONE as FLIGHT_DONE
from gcs.fleet.logs import FLIGHT_STATES as FLIGHT_STATES
from gcs.fleet.logs import FlightLog as FlightLog
from gcs.fleet.logs import FlightRecord as FlightRecord
from gcs.fleet.logs import RunRecord as RunRecord
from gcs.fleet.manager import FleetManager as FleetManager
from gcs.fleet.manager import plan_key as plan_key
from gcs.fleet.options import FlyOptions as FlyOptions
from gcs.fleet.prepare import prepare_vehicle as prepare_vehicle
from gcs.fleet.recorder import FleetRecorder as FleetRecorder
from gcs.fleet.status import Phase as Phase
from gcs.fleet.status import VehicleStatus as VehicleStatus
