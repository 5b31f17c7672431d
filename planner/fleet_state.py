"""The fleet as a re-plan finds it: vehicles grounded, when each is ready with what battery, and
the wind blowing now.

Vehicles are named as plans name them: ``depot/type/n``, n from 1 to the depot's count of that
type. A grounded vehicle is taken out of its depot's count, so the vehicles after it move up one
number (:func:`renumbered`). A :class:`VehicleStart` says when a vehicle stands ready at its depot
and what its battery holds then; a plan records the starts it was made from
(:attr:`planner.plan_model.Plan.vehicle_starts`) and the verifier checks them.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from planner.errors import InputError
from planner.scenario import Depot, DroneType, Wind

#: How a vehicle name is written, for error messages.
VEHICLE_FORM = "depot/type/n, n from 1 to the depot's count of that type"
#: Strongest wind a re-plan takes, in m/s (as a scenario's wind).
MAX_WIND_M_S = 60.0


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class VehicleStart:
    """When a vehicle first stands ready at its depot, and its battery then.

    ``vehicle`` names it as a plan does (``depot/type/n``); ``ready_s`` is the time it is ready
    (seconds from the plan start), for example after the sortie it is flying and a turnaround;
    ``battery_pct`` is the state of charge of the battery in it then (percent of the drone
    type's capacity, as measured), None for a full battery. Its first sortie may take off at
    ``ready_s`` on that battery only if the sortie's energy fits in the charge above the reserve
    (less the planning margin, as every sortie's energy is checked); otherwise the battery is
    swapped first and the sortie waits one turnaround. Later sorties start on a full battery.
    """

    vehicle: str
    ready_s: float = 0.0
    battery_pct: float | None = None

    def __post_init__(self) -> None:
        split_vehicle(self.vehicle)
        if not (math.isfinite(self.ready_s) and 0 <= self.ready_s <= 86_400 * 7):
            raise ValueError(f"Expected ready_s in [0, 604800] seconds, got {self.ready_s}")
        if self.battery_pct is not None and not (math.isfinite(self.battery_pct)
                                                 and 0 <= self.battery_pct <= 100):
            raise ValueError(f"Expected battery_pct in [0, 100], got {self.battery_pct}")

    def battery_wh(self, drone: DroneType, margin_fraction: float = 0.0) -> float | None:
        """Energy a first sortie may draw on the measured battery (above the reserve, less
        ``margin_fraction`` of the capacity), in Wh; None for a full battery."""
        if self.battery_pct is None:
            return None
        above_reserve_wh = drone.battery_wh * (self.battery_pct / 100.0 - drone.reserve_fraction)
        return above_reserve_wh - margin_fraction * drone.battery_wh


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SourcedStart:
    """A vehicle's start and where it comes from (``measured``, ``override``, ``in the air``)."""

    start: VehicleStart
    source: str

    def as_json(self, name: str) -> dict[str, Any]:
        """As a re-plan records it: ``vehicle`` (its name in the re-plan), ``was`` (its name
        in the plan flown), ready time, battery and source."""
        return {"vehicle": name, "was": self.start.vehicle,
                "ready_s": round(self.start.ready_s, 1),
                "battery_pct": self.start.battery_pct, "source": self.source}


def split_vehicle(name: str) -> tuple[str, str, int]:
    """``(depot, type, n)`` of a vehicle name.

    Raises
    ------
    ValueError
        The name is not ``depot/type/n`` with n a whole number from 1.

    Examples
    --------
    >>> split_vehicle("north_conway/heavy_octo/2")
    ('north_conway', 'heavy_octo', 2)
    """
    parts = str(name).split("/")
    if len(parts) != 3 or not all(parts) or not parts[2].isdigit() or int(parts[2]) < 1:
        raise ValueError(f"Expected a vehicle named depot/type/n, got {str(name)[:80]!r}")
    return parts[0], parts[1], int(parts[2])


def check_vehicle(depots: Sequence[Depot], name: str, *, field: str) -> tuple[str, str, int]:
    """``(depot, type, n)`` of a vehicle of ``depots``.

    Raises
    ------
    InputError
        The name is not of a vehicle the depots have (naming ``field``).
    """
    try:
        depot_id, type_id, n = split_vehicle(name)
    except ValueError:
        depot_id, type_id, n = "", "", 0
    depot = next((d for d in depots if d.id == depot_id), None)
    if depot is None or not 1 <= n <= depot.drones.get(type_id, 0):
        raise InputError(f"{str(name)[:80]!r} is not a vehicle of the scenario's depots "
                         f"({VEHICLE_FORM})", field=field)
    return depot_id, type_id, n


def ground_vehicles(depots: tuple[Depot, ...], names: Iterable[str], *,
                    field: str = "ground") -> tuple[Depot, ...]:
    """The depots with the named vehicles taken out of their drone counts.

    Parameters
    ----------
    depots
        The scenario's depots.
    names
        Vehicle names as a plan gives them (``"north_conway/heavy_octo/2"``); a name given
        twice counts once.
    field
        The option or field named in errors.

    Returns
    -------
    tuple of Depot
        The same depots, each type's count lowered by its grounded vehicles.

    Raises
    ------
    InputError
        A name is not of a vehicle the depots have.

    Examples
    --------
    >>> hub = Depot(id="hub", lat_deg=45.0, lon_deg=10.0, drones={"quad": 2})
    >>> dict(ground_vehicles((hub,), ["hub/quad/2"])[0].drones)
    {'quad': 1}
    """
    out: Counter[tuple[str, str]] = Counter()
    for name in dict.fromkeys(names):
        depot_id, type_id, _ = check_vehicle(depots, name, field=field)
        out[(depot_id, type_id)] += 1
    return tuple(dataclasses.replace(d, drones={t: n - out[(d.id, t)]
                                                for t, n in d.drones.items()})
                 for d in depots)


def renumbered(depots: Sequence[Depot], grounded: Iterable[str]) -> dict[str, str]:
    """Each vehicle left flying (name among ``depots``) -> its name once ``grounded`` are out.

    Examples
    --------
    >>> hub = Depot(id="hub", lat_deg=45.0, lon_deg=10.0, drones={"quad": 3})
    >>> renumbered((hub,), ["hub/quad/2"])
    {'hub/quad/1': 'hub/quad/1', 'hub/quad/3': 'hub/quad/2'}
    """
    out_of = set(grounded)
    names: dict[str, str] = {}
    for depot in depots:
        for type_id, count in depot.drones.items():
            k = 0
            for n in range(1, count + 1):
                name = f"{depot.id}/{type_id}/{n}"
                if name not in out_of:
                    k += 1
                    names[name] = f"{depot.id}/{type_id}/{k}"
    return names


def parse_battery(text: str, *, field: str = "--battery") -> tuple[str, float]:
    """``(vehicle, percent)`` of ``VEHICLE=PCT`` (the vehicle's name is checked later).

    Raises
    ------
    InputError
        Not ``VEHICLE=PCT`` with a percentage from 0 to 100 (naming ``field``).

    Examples
    --------
    >>> parse_battery("hub/quad/1=35")
    ('hub/quad/1', 35.0)
    """
    name, sep, pct = str(text).rpartition("=")
    value = battery_percent(pct, field=field) if sep and name else None
    if value is None:
        raise InputError(f"expected VEHICLE=PCT (a vehicle {VEHICLE_FORM}, a percentage from "
                         f"0 to 100), got {str(text)[:80]!r}", field=field)
    return name, value


def battery_percent(value: object, *, field: str) -> float | None:
    """``value`` as a state of charge in percent (0-100), None if it is not one."""
    if isinstance(value, bool):
        return None
    try:
        pct = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return pct if math.isfinite(pct) and 0 <= pct <= 100 else None


def starts_for(depots: Sequence[Depot], grounded: Iterable[str],
               starts: Mapping[str, VehicleStart], *, field: str) -> tuple[VehicleStart, ...]:
    """The starts of the vehicles left flying, named as the re-plan names them.

    ``starts`` is keyed by the vehicles' names among ``depots`` (before grounding); the starts
    of grounded vehicles are dropped.

    Raises
    ------
    InputError
        A start names no vehicle of ``depots`` (naming ``field``).
    """
    for name in starts:
        check_vehicle(depots, name, field=field)
    names = renumbered(depots, grounded)
    return tuple(sorted((dataclasses.replace(s, vehicle=names[old])
                         for old, s in starts.items() if old in names),
                        key=lambda s: s.vehicle))


def check_starts(depots: Sequence[Depot], starts: Iterable[VehicleStart], *,
                 field: str = "vehicle_starts") -> tuple[VehicleStart, ...]:
    """``starts`` sorted by vehicle, each of a vehicle of ``depots`` and none given twice.

    Raises
    ------
    InputError
        A start names no vehicle of ``depots``, or a vehicle has two (naming ``field``).
    """
    out: dict[str, VehicleStart] = {}
    for s in starts:
        check_vehicle(depots, s.vehicle, field=field)
        if s.vehicle in out and out[s.vehicle] != s:
            raise InputError(f"two starts for vehicle {s.vehicle!r}", field=field)
        out[s.vehicle] = s
    return tuple(out[name] for name in sorted(out))


def wind_of(speed_m_s: object, from_deg: object, *, field: str) -> Wind:
    """The wind of ``speed_m_s`` (0-60 m/s) blowing from ``from_deg`` (0-360, 0 = from north).

    Raises
    ------
    InputError
        A value is not a number in its range (naming ``field``).

    Examples
    --------
    >>> wind_of(8, 270, field="wind")
    Wind(speed_m_s=8.0, from_deg=270.0)
    """
    values = []
    for name, value, top in (("speed_m_s", speed_m_s, MAX_WIND_M_S), ("from_deg", from_deg, 360)):
        number = None
        if not isinstance(value, bool):
            try:
                number = float(value)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                number = None
        if number is None or not (math.isfinite(number) and 0 <= number <= top):
            raise InputError(f"expected {name} from 0 to {top:g}, got {str(value)[:40]!r}",
                             field=field)
        values.append(number)
    return Wind(speed_m_s=values[0], from_deg=values[1])


def parse_wind(text: str, *, field: str = "--wind") -> Wind:
    """The wind written ``SPEED_M_S@FROM_DEG`` (``8@270``: 8 m/s from the west).

    Raises
    ------
    InputError
        Not two numbers around ``@`` in their ranges (naming ``field``).

    Examples
    --------
    >>> parse_wind("6.5@180")
    Wind(speed_m_s=6.5, from_deg=180.0)
    """
    speed, sep, direction = str(text).partition("@")
    if not sep:
        raise InputError(f"expected SPEED_M_S@FROM_DEG (for example 8@270), got "
                         f"{str(text)[:40]!r}", field=field)
    return wind_of(speed, direction, field=field)


def starts_to_json(starts: Iterable[VehicleStart]) -> list[dict[str, object]]:
    """Starts as JSON values (``vehicle``, ``ready_s``, ``battery_pct``)."""
    return [{"vehicle": s.vehicle, "ready_s": s.ready_s, "battery_pct": s.battery_pct}
            for s in starts]


def starts_from_json(value: object, *, field: str = "vehicle_starts") -> tuple[VehicleStart, ...]:
    """Starts from JSON values as :func:`starts_to_json` writes them.

    Raises
    ------
    InputError
        Not a list of such objects with valid values (naming ``field``).
    """
    if not isinstance(value, list) or len(value) > 10_000:
        raise InputError("Expected a list of vehicle starts", field=field)
    out = []
    for k, item in enumerate(value):
        if not isinstance(item, dict) or set(item) - {"vehicle", "ready_s", "battery_pct"} \
                or not isinstance(item.get("vehicle"), str):
            raise InputError(f"Expected start {k} to be {{vehicle, ready_s, battery_pct}}",
                             field=field)
        ready, pct = item.get("ready_s", 0.0), item.get("battery_pct")
        if isinstance(ready, bool) or not isinstance(ready, int | float) or \
                (pct is not None and (isinstance(pct, bool) or not isinstance(pct, int | float))):
            raise InputError(f"Expected start {k} to have numbers for ready_s and battery_pct",
                             field=field)
        try:
            out.append(VehicleStart(vehicle=item["vehicle"], ready_s=float(ready),
                                    battery_pct=None if pct is None else float(pct)))
        except ValueError as exc:
            raise InputError(f"start {k}: {exc}", field=field) from None
    return tuple(out)
