"""Simulated and real ArduPilot SITL vehicles, and replay."""

from .backend import SitlBackend as SitlBackend
from .backend import make_backend as make_backend
from .backend import unavailable_reason as unavailable_reason
from .builtin import BuiltinFleet as BuiltinFleet
