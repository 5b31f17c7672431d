"""Ground control: the only package that speaks MAVLink."""

from gcs.commands import arm as arm
from gcs.commands import command as command
from gcs.commands import disarm as disarm
from gcs.commands import mission_start as mission_start
from gcs.commands import param_get as param_get
from gcs.commands import param_set as param_set
from gcs.commands import set_mode as set_mode
from gcs.fleet.logs import FlightLog as FlightLog
from gcs.fleet.manager import FleetManager as FleetManager
from gcs.fleet.options import FlyOptions as FlyOptions
from gcs.link import Link as Link
from gcs.link import LinkHealth as LinkHealth
from gcs.snapshot import VehicleSnapshot as VehicleSnapshot
from gcs.telemetry import TelemetryHub as TelemetryHub
from gcs.transfer import Retry as Retry
from gcs.transfer import Target as Target
from gcs.transfer import download as download
from gcs.transfer import upload as upload
from gcs.transfer import upload_verified as upload_verified
