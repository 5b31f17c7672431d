"""Ground control: the only package that speaks MAVLink."""

from .commands import arm as arm
from .commands import command as command
from .commands import disarm as disarm
from .commands import mission_start as mission_start
from .commands import param_get as param_get
from .commands import param_set as param_set
from .commands import set_mode as set_mode
from .fleet import FleetManager as FleetManager
from .fleet import FlyOptions as FlyOptions
from .link import Link as Link
from .link import LinkHealth as LinkHealth
from .logs import FlightLog as FlightLog
from .telemetry import TelemetryHub as TelemetryHub
from .telemetry import VehicleSnapshot as VehicleSnapshot
from .transfer import Retry as Retry
from .transfer import Target as Target
from .transfer import download as download
from .transfer import upload as upload
from .transfer import upload_verified as upload_verified
