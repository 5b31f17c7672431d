"""What the vehicle threads of one fleet share: telemetry, the recorder, options and the clock."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from gcs.fleet.options import FlyOptions, sortie_reserve_pct, sortie_turnaround_s
from gcs.fleet.recorder import FleetRecorder
from gcs.fleet.tracking import SortieTracker
from gcs.telemetry import TelemetryHub
from planner.plan_model import Sortie
from planner.scenario import DroneType


@dataclass(frozen=True, slots=True, kw_only=True)
class FleetContext:
    """Everything a vehicle's thread uses of its fleet.

    Parameters
    ----------
    hub
        Telemetry of every vehicle.
    recorder
        Where statuses, alerts, preflight reports, flights and drop events go.
    trackers
        The delivery tracker of every sortie of the plan, by sortie id.
    options
        How the fleet flies.
    drone_types
        The scenario's drone types, for each sortie's reserve and turnaround.
    clock
        Monotonic clock (s).
    stop
        Set when the fleet stops: every thread ends as soon as it sees it.
    """

    hub: TelemetryHub
    recorder: FleetRecorder
    trackers: Mapping[str, SortieTracker]
    options: FlyOptions
    drone_types: Mapping[str, DroneType]
    clock: Callable[[], float]
    stop: threading.Event

    @property
    def time_scale(self) -> float:
        """Vehicle seconds per wall second."""
        return self.options.time_scale

    def stopping(self) -> bool:
        """The fleet is stopping."""
        return self.stop.is_set()

    def reserve_pct(self, sortie: Sortie) -> float:
        """Battery percentage that must be left on landing from ``sortie``."""
        return sortie_reserve_pct(sortie, self.options, self.drone_types)

    def turnaround_s(self, sortie: Sortie) -> float:
        """Vehicle seconds between landing from ``sortie`` and preparing the next one."""
        return sortie_turnaround_s(sortie, self.options, self.drone_types)
