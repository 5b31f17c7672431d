"""Named faults of the built-in simulated fleet, shared by the ``dropline sim`` console and the
web console's simulator panel (:class:`FleetSimulator`).

Vehicles are numbered from 1, like their system ids. Link faults (loss, latency, duplicate,
reorder) add up per vehicle until ``link_ok`` clears them.
"""

from __future__ import annotations

import threading
from typing import Any

from planner.errors import InputError

#: Every fault and the value it takes.
FAULTS: dict[str, str] = {
    "loss": "a share 0..1 of the link's packets dropped",
    "latency": "seconds 0..3600 of delay on every packet",
    "duplicate": "a share 0..1 of packets sent twice",
    "reorder": "a share 0..1 of packets swapped with the next one",
    "link_ok": "no value: clears every link fault",
    "cut": "seconds 0..3600 without any link",
    "battery": "a share 0..1 of the remaining battery capacity lost",
    "gps": "off or on",
    "motor": "no value: a motor fails and the vehicle lands",
}
#: Link faults and the keyword of ``set_link_faults`` each sets.
LINK_FAULTS = {"loss": "loss", "latency": "latency_s", "duplicate": "duplicate",
               "reorder": "reorder"}
#: Faults without a value.
NO_VALUE = ("link_ok", "motor")


def parse_number(text: str, what: str, low: float, high: float) -> float:
    """``text`` as a number in ``[low, high]``.

    Raises
    ------
    ValueError
        Saying ``what`` was expected.

    Examples
    --------
    >>> parse_number("0.5", "a share", 0.0, 1.0)
    0.5
    """
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"expected {what}, got {text!r}") from None
    if not (low <= value <= high):
        raise ValueError(f"expected {what} in [{low:g}, {high:g}], got {text}")
    return value


def fault_value(fault: str, text: str) -> float:
    """The number a fault's value ``text`` stands for (1 for ``gps off``, 0 without a value).

    Raises
    ------
    ValueError
        An unknown fault, or a value it does not take.

    Examples
    --------
    >>> fault_value("gps", "off"), fault_value("cut", "10"), fault_value("motor", "")
    (1.0, 10.0, 0.0)
    """
    text = text.strip()
    if fault in ("loss", "duplicate", "reorder", "battery"):
        return parse_number(text, "a share", 0.0, 1.0)
    if fault in ("latency", "cut"):
        return parse_number(text, "seconds", 0.0, 3600.0)
    if fault == "gps" and text.lower() in ("off", "on"):
        return 1.0 if text.lower() == "off" else 0.0
    if fault == "gps":
        raise ValueError(f"cannot parse {text!r}: expected 'off' or 'on'")
    if fault in NO_VALUE:
        if text:
            raise ValueError(f"cannot parse {text!r}: {fault} takes no value")
        return 0.0
    raise ValueError(f"unknown fault {fault!r}; expected one of {', '.join(FAULTS)}")


class FleetFaults:
    """Apply named faults to a fleet's vehicles (``fleet.vehicle(i)`` handles), thread-safe."""

    def __init__(self, fleet: Any) -> None:
        self.fleet = fleet
        self._lock = threading.Lock()
        self._link: dict[int, dict[str, float]] = {}

    def apply(self, vehicle: int, fault: str, value: float) -> None:
        """Inject ``fault`` (a name of :data:`FAULTS`) with its number ``value`` into the
        1-based ``vehicle``."""
        handle = self.fleet.vehicle(vehicle - 1)
        if fault in LINK_FAULTS or fault == "link_ok":
            with self._lock:
                link = self._link.setdefault(vehicle, {})
                if fault == "link_ok":
                    link.clear()
                else:
                    link[LINK_FAULTS[fault]] = value
                handle.set_link_faults(**link)
        elif fault == "cut":
            handle.cut_link(value)
        elif fault == "battery":
            handle.battery_sag(value)
        elif fault == "gps":
            handle.gps_loss(value == 1.0)
        elif fault == "motor":
            handle.motor_failure()
        else:
            raise ValueError(f"unknown fault {fault!r}; expected one of {', '.join(FAULTS)}")


class FleetSimulator:
    """The web console's simulator control over a built-in fleet.

    Parameters
    ----------
    fleet
        A started ``sitl.builtin.BuiltinFleet`` (or anything with ``vehicle(i)`` and ``len``).
    """

    def __init__(self, fleet: Any) -> None:
        self._faults = FleetFaults(fleet)
        self._count = len(fleet)

    def vehicles(self) -> list[int]:
        """The vehicle numbers, 1 to N."""
        return list(range(1, self._count + 1))

    def faults(self) -> dict[str, str]:
        """Every fault and the value it takes."""
        return dict(FAULTS)

    def inject(self, vehicle: int, fault: str, value: str) -> str:
        """Inject ``fault`` with ``value`` into ``vehicle``; what was done.

        Raises
        ------
        InputError
            An unknown vehicle (field ``vehicle``) or fault (``fault``), or a bad value
            (``value``).
        """
        if vehicle not in self.vehicles():
            raise InputError(f"Expected a vehicle 1..{self._count}, got {vehicle}",
                             field="vehicle")
        if fault not in FAULTS:
            raise InputError(f"Expected one of {', '.join(FAULTS)}, got {fault!r}",
                             field="fault")
        try:
            number = fault_value(fault, value)
        except ValueError as exc:
            raise InputError(f"{fault}: {exc}", field="value") from None
        self._faults.apply(vehicle, fault, number)
        shown = value.strip()
        return f"vehicle {vehicle}: {fault}" + (f" {shown}" if shown else "")
