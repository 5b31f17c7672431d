"""Replay and regression: fly missions in SITL, read flight logs, report plan versus flown."""

from .logplay import play_log as play_log
from .missions import Mission as Mission
from .missions import load_missions as load_missions
from .runner import MissionResult as MissionResult
from .runner import ReplayOptions as ReplayOptions
from .runner import fly_missions as fly_missions
from .tolerances import Tolerances as Tolerances
from .tolerances import ToleranceSet as ToleranceSet
from .tolerances import load_tolerances as load_tolerances
