"""Replay and regression: fly missions in SITL, read flight logs, report plan versus flown."""

from sitl.replay.logplay import play_log as play_log
from sitl.replay.missions import Mission as Mission
from sitl.replay.missions import load_missions as load_missions
from sitl.replay.runner import MissionResult as MissionResult
from sitl.replay.runner import ReplayOptions as ReplayOptions
from sitl.replay.runner import fly_missions as fly_missions
from sitl.replay.tolerances import Tolerances as Tolerances
from sitl.replay.tolerances import ToleranceSet as ToleranceSet
from sitl.replay.tolerances import load_tolerances as load_tolerances
