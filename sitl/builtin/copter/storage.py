"""The mission, fence and rally lists a simulated copter holds, and what storing them announces.

Storing follows ArduCopter: a mission always starts with home (item 0) and its length is
``MIS_TOTAL``; a complete mission upload says "Flight plan received", a complete fence upload
"Fence Indexed OK" and sets ``FENCE_TOTAL``, a complete rally upload sets ``RALLY_TOTAL``. The
items themselves are converted and checked in :mod:`sitl.builtin.mission`.
"""

from __future__ import annotations

from typing import Protocol

from gcs.mavlink import dialect as mav
from sitl.builtin.mission import (
    FENCE,
    MISSION,
    RALLY,
    StoredItem,
    fence_storage_total,
    home_item,
)
from sitl.builtin.params import ParamStore


class StorageHost(Protocol):
    """What the stored lists need from their vehicle."""

    @property
    def params(self) -> ParamStore: ...

    def text(self, severity: int, text: str) -> None: ...

    def notify_param(self, name: str) -> None: ...


class MissionStorage:
    """The stored lists of one vehicle, by mission type.

    Parameters
    ----------
    host
        The vehicle: its parameters count the lists, its texts announce them.
    home
        Home at boot: latitude, longitude (degrees) and altitude AMSL (m), item 0 of the mission.
    """

    def __init__(self, host: StorageHost, home: tuple[float, float, float]) -> None:
        self._host = host
        #: Stored items by mission type (MISSION, FENCE, RALLY); the mission starts with home.
        self.lists: dict[int, list[StoredItem]] = {
            MISSION: [home_item(*home)], FENCE: [], RALLY: []}

    def items(self, mission_type: int) -> list[StoredItem]:
        """The stored list of a type (a mission starts with home)."""
        return self.lists[mission_type]

    def mission_total(self) -> int:
        """Number of mission items after home."""
        return max(0, len(self.lists[MISSION]) - 1)

    def store(self, mission_type: int, items: list[StoredItem], *, complete: bool) -> None:
        """Replace a stored list; announce it like ArduCopter when ``complete``."""
        host = self._host
        old_len = len(self.lists[mission_type])
        self.lists[mission_type] = list(items)
        if mission_type == MISSION:
            if len(items) != old_len:
                host.params.set("MIS_TOTAL", len(items))
            if complete:
                host.text(mav.MAV_SEVERITY_INFO, "Flight plan received")
        elif mission_type == FENCE and complete:
            host.text(mav.MAV_SEVERITY_DEBUG, "Fence Indexed OK")
            host.params.set("FENCE_TOTAL", fence_storage_total(items))
            host.notify_param("FENCE_TOTAL")
        elif mission_type == RALLY and complete:
            host.params.set("RALLY_TOTAL", len(items))
            host.notify_param("RALLY_TOTAL")

    def set_home(self, home: tuple[float, float, float]) -> None:
        """Make ``home`` (latitude, longitude in degrees, altitude AMSL in m) mission item 0."""
        self.lists[MISSION] = [home_item(*home), *self.lists[MISSION][1:]]
