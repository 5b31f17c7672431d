"""What the failsafes and the telemetry both read of their vehicle, declared once."""

from __future__ import annotations

from typing import Any, Protocol

from sitl.builtin.flight.battery import Battery
from sitl.builtin.flight.geo import LocalFrame
from sitl.builtin.flight.physics import Body
from sitl.builtin.mission import StoredItem
from sitl.builtin.params import ParamStore


class VehicleView(Protocol):
    """A simulated vehicle's clock, parameters, body, battery, stored lists and flight state."""

    @property
    def t(self) -> float: ...

    @property
    def params(self) -> ParamStore: ...

    @property
    def body(self) -> Body: ...

    @property
    def battery(self) -> Battery: ...

    @property
    def frame(self) -> LocalFrame: ...

    @property
    def missions(self) -> dict[int, list[StoredItem]]: ...

    @property
    def mode(self) -> int: ...

    @property
    def armed(self) -> bool: ...

    @property
    def flying(self) -> bool: ...

    @property
    def gps_lost(self) -> bool: ...

    def home_ne(self) -> tuple[float, float]: ...

    def send(self, msg: Any) -> None: ...
