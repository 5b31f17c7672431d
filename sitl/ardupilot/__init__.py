"""Real ArduPilot SITL: start ``arducopter`` instances, check their health, stop them."""

from sitl.ardupilot.binary import ENV_VAR as ENV_VAR
from sitl.ardupilot.binary import resolve_binary as resolve_binary
from sitl.ardupilot.health import Heartbeat as Heartbeat
from sitl.ardupilot.health import port_listening as port_listening
from sitl.ardupilot.health import read_heartbeat as read_heartbeat
from sitl.ardupilot.launcher import ArduPilotSitl as ArduPilotSitl
from sitl.ardupilot.launcher import InstanceHealth as InstanceHealth
from sitl.ardupilot.params import PROJECT_PARAMETERS as PROJECT_PARAMETERS
from sitl.ardupilot.params import drone_type_parameters as drone_type_parameters
from sitl.ardupilot.params import instance_parameters as instance_parameters
from sitl.ardupilot.params import write_param_file as write_param_file
from sitl.ardupilot.state import LauncherState as LauncherState
from sitl.ardupilot.state import read_state as read_state
from sitl.ardupilot.state import stop_from_state as stop_from_state
