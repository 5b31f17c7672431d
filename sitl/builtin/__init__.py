"""The built-in ArduCopter-compatible simulator: a fleet of simulated copters over MAVLink."""

from .battery import PowerModel as PowerModel
from .faults import LinkFaults as LinkFaults
from .fleet import BuiltinFleet as BuiltinFleet
from .fleet import SimVehicleHandle as SimVehicleHandle
from .fleet import drone_type_params as drone_type_params
from .params import PARAM_DEFAULTS as PARAM_DEFAULTS
from .state import VehicleState as VehicleState
from .vehicle import SimVehicle as SimVehicle
