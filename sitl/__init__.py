"""Simulated and real ArduPilot SITL vehicles, and replay."""

from sitl.backend import SitlBackend as SitlBackend
from sitl.backend import make_backend as make_backend
from sitl.backend import unavailable_reason as unavailable_reason
from sitl.builtin import BuiltinFleet as BuiltinFleet
