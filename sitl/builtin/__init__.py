"""The built-in ArduCopter-compatible simulator: a fleet of simulated copters over MAVLink."""

from sitl.builtin.copter.state import VehicleState as VehicleState
from sitl.builtin.copter.vehicle import SimVehicle as SimVehicle
from sitl.builtin.faults import LinkFaults as LinkFaults
from sitl.builtin.fleet_loop import BuiltinFleet as BuiltinFleet
from sitl.builtin.fleet_loop import SimVehicleHandle as SimVehicleHandle
from sitl.builtin.fleet_loop import drone_type_params as drone_type_params
from sitl.builtin.flight.battery import PowerModel as PowerModel
from sitl.builtin.params import PARAM_DEFAULTS as PARAM_DEFAULTS
