"""Scenario model: depots, drone types, drops, no-fly zones, terrain and wind.

All values are validated on construction; a bad value raises :class:`ValueError` with a message
that says what was expected. The loader in :mod:`planner.io.scenario` turns those into
:class:`~planner.errors.ScenarioError` with the file, line and field.

Frames: ``lat_deg``/``lon_deg`` are WGS84 degrees; ``*_agl_m`` is metres above the ground of the
elevation model; ``*_amsl_m`` metres above mean sea level.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from planner._frozen import reduce_frozen

DropMethod = Literal["gripper", "winch", "land"]
DROP_METHODS: tuple[str, ...] = ("gripper", "winch", "land")
AltitudeFrame = Literal["relative", "terrain"]
DropKind = Literal["delivery", "pickup"]
#: Every kind of drop: a parcel delivered at the point, or one collected there for the hub.
DROP_KINDS: tuple[DropKind, ...] = ("delivery", "pickup")

#: What an id (of a drop, depot or drone type) may be: 1 to 64 characters, letters, digits,
#: space, ``_``, ``.`` and ``-``, starting with a letter or digit.
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.\-]{0,63}")
ID_RULE = ("1 to 64 characters: letters, digits, space, '_', '.', '-', starting with a letter or "
           "digit")
#: Longest free-text name (scenario, no-fly zone), in characters.
MAX_NAME_CHARS = 200
#: Most drones of one scenario, over every depot and drone type.
MAX_DRONES = 1000
#: Latest time window bound: seven days after the plan starts, in seconds.
MAX_TIME_S = 7 * 24 * 3600.0
#: Largest random seed (the routing search keeps seeds in 32 bits).
MAX_SEED = 1_000_000_000
#: The file of a scenario folder that names the others.
SCENARIO_FILE = "scenario.toml"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def _finite(name: str, value: float) -> None:
    _require(
        isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value),
        f"Expected {name} to be a finite number, got {value!r}",
    )


def _non_negative(name: str, value: float) -> None:
    _finite(name, value)
    _require(value >= 0, f"Expected {name} >= 0, got {value}")


def _positive(name: str, value: float) -> None:
    _finite(name, value)
    _require(value > 0, f"Expected {name} > 0, got {value}")


def _at_most(name: str, value: float, limit: float) -> None:
    _require(value <= limit, f"Expected {name} <= {limit:g}, got {value:g}")


def _shown(text: object) -> str:
    shown = repr(text)
    return shown if len(shown) <= 42 else shown[:39] + "..."


def check_id(name: str, value: object) -> None:
    """Raise ValueError unless ``value`` is a valid id (see :data:`ID_PATTERN`).

    Examples
    --------
    >>> check_id("id", "P001")
    >>> check_id("id", "../x")
    Traceback (most recent call last):
    ...
    ValueError: Expected id to be 1 to 64 characters: letters, digits, space, '_', '.', '-', \
starting with a letter or digit, got '../x'
    """
    _require(isinstance(value, str) and ID_PATTERN.fullmatch(value) is not None,
             f"Expected {name} to be {ID_RULE}, got {_shown(value)}")


def check_name(name: str, value: object) -> None:
    """Raise ValueError unless ``value`` is free text of at most :data:`MAX_NAME_CHARS`
    characters without control characters."""
    _require(isinstance(value, str), f"Expected {name} to be a string, got {_shown(value)}")
    assert isinstance(value, str)
    _require(len(value) <= MAX_NAME_CHARS,
             f"Expected {name} of at most {MAX_NAME_CHARS} characters, got {len(value)}")
    _require(_CONTROL.search(value) is None,
             f"Expected {name} without control characters, got {_shown(value)}")


def check_lat_lon(lat_deg: float, lon_deg: float) -> None:
    """Raise ValueError unless ``lat_deg`` and ``lon_deg`` are valid WGS84 degrees."""
    _finite("lat_deg", lat_deg)
    _finite("lon_deg", lon_deg)
    _require(-90 <= lat_deg <= 90, f"Expected lat_deg in [-90, 90], got {lat_deg}")
    _require(-180 <= lon_deg <= 180, f"Expected lon_deg in [-180, 180], got {lon_deg}")


#: Upper bounds of the drone type numbers: far beyond any real multicopter, low enough that
#: no arithmetic overflows.
_DRONE_LIMITS: dict[str, float] = {
    "empty_mass_kg": 1000.0, "battery_mass_kg": 1000.0, "battery_wh": 1_000_000.0,
    "max_payload_kg": 1000.0, "cruise_speed_m_s": 100.0, "climb_rate_m_s": 50.0,
    "descent_rate_m_s": 50.0, "drop_alt_agl_m": 1000.0, "drop_hover_s": 3600.0,
    "turnaround_s": 86400.0, "rotor_disk_area_m2": 100.0, "air_density_kg_m3": 2.0,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class DroneType:
    """A multicopter model with its battery and the payload-aware energy model parameters.

    Masses in kg, energy in Wh, speeds and rates in m/s, times in s. The energy model is
    Dorling et al. (2017): hover power ``P = (W + m)^1.5 * sqrt(g^3 / (2 rho zeta n))`` with
    ``W = empty_mass_kg`` and ``m = battery_mass_kg + payload``; electrical power is
    ``P / power_efficiency``. ``max_payload_kg`` bounds the payload on board at every point of
    a sortie (pickups add to it); ``max_parcels`` the stops of a sortie, pickups included.
    """

    id: str
    empty_mass_kg: float
    battery_mass_kg: float
    battery_wh: float
    reserve_fraction: float
    max_payload_kg: float
    max_parcels: int
    cruise_speed_m_s: float
    climb_rate_m_s: float
    descent_rate_m_s: float
    drop_method: DropMethod
    drop_alt_agl_m: float
    drop_hover_s: float
    turnaround_s: float
    rotor_disk_area_m2: float
    rotor_count: int
    air_density_kg_m3: float = 1.225
    power_efficiency: float = 1.0

    def __post_init__(self) -> None:
        _require(bool(self.id), "Expected a non-empty drone type id")
        check_id("id", self.id)
        for name in ("empty_mass_kg", "battery_mass_kg", "battery_wh", "cruise_speed_m_s",
                     "climb_rate_m_s", "descent_rate_m_s", "rotor_disk_area_m2",
                     "air_density_kg_m3"):
            _positive(name, getattr(self, name))
        for name in ("max_payload_kg", "drop_alt_agl_m", "drop_hover_s", "turnaround_s"):
            _non_negative(name, getattr(self, name))
        for name, limit in _DRONE_LIMITS.items():
            _at_most(name, getattr(self, name), limit)
        _finite("reserve_fraction", self.reserve_fraction)
        _require(0 <= self.reserve_fraction < 1,
                 f"Expected reserve_fraction in [0, 1), got {self.reserve_fraction}")
        _finite("power_efficiency", self.power_efficiency)
        _require(0 < self.power_efficiency <= 1,
                 f"Expected power_efficiency in (0, 1], got {self.power_efficiency}")
        _require(isinstance(self.max_parcels, int) and 1 <= self.max_parcels <= 100,
                 f"Expected max_parcels to be an integer in [1, 100], got {self.max_parcels!r}")
        _require(isinstance(self.rotor_count, int) and 1 <= self.rotor_count <= 32,
                 f"Expected rotor_count to be an integer in [1, 32], got {self.rotor_count!r}")
        _require(self.drop_method in DROP_METHODS,
                 f"Expected drop_method one of {', '.join(DROP_METHODS)}, "
                 f"got {self.drop_method!r}")

    @property
    def usable_wh(self) -> float:
        """Energy that may be used before the reserve is touched, in Wh."""
        return self.battery_wh * (1.0 - self.reserve_fraction)


@dataclass(frozen=True, slots=True, kw_only=True)
class Depot:
    """A hub where drones take off, land, swap batteries and load parcels.

    ``drones`` maps a drone type id to the number of such drones based here.
    """

    id: str
    lat_deg: float
    lon_deg: float
    drones: Mapping[str, int] = field(default_factory=dict)
    line: int | None = field(default=None, compare=False)

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        return reduce_frozen(self)

    def __post_init__(self) -> None:
        _require(bool(self.id), "Expected a non-empty depot id")
        check_id("id", self.id)
        check_lat_lon(self.lat_deg, self.lon_deg)
        for type_id, count in self.drones.items():
            check_id("drones", type_id)
            _require(isinstance(count, int) and not isinstance(count, bool)
                     and 0 <= count <= MAX_DRONES,
                     f"Expected drones.{type_id} to be an integer in [0, {MAX_DRONES}], "
                     f"got {_shown(count)}")
        object.__setattr__(self, "drones", MappingProxyType(dict(self.drones)))


#: A recipient's telephone number: an optional ``+``, then digits, spaces, ``-``, ``(`` and ``)``,
#: with 6 to 15 digits (E.164 allows at most 15).
PHONE_PATTERN = re.compile(r"\+?(?=(?:[ ()-]*\d){6,15}[ ()-]*$)[\d ()-]{6,32}")
#: A recipient's e-mail address (one ``@``, a dotted domain, no spaces or angle brackets).
EMAIL_PATTERN = re.compile(r"[^\s@<>\"',;]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})+")

#: Heaviest parcel a drops list may hold, in kg (heavier than any drone carries is planned as
#: unserved; beyond this it is a typing error).
MAX_PARCEL_KG = 1000.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Drop:
    """A parcel to deliver at a point, with an optional time window in seconds from plan start.

    ``kind`` is ``delivery`` (the parcel leaves the hub and is released at the point) or
    ``pickup`` (a parcel of ``weight_kg`` is collected at the point and brought to the hub); the
    window bounds the release or the collection alike.
    ``line`` is the 1-based line of the drops CSV it came from, when loaded from a file.
    ``phone`` and ``email`` are the recipient's, for notifications (optional); they take no part
    in planning, comparisons or ``repr``.
    """

    id: str
    lat_deg: float
    lon_deg: float
    weight_kg: float
    earliest_s: float | None = None
    latest_s: float | None = None
    priority: int = 0
    kind: DropKind = "delivery"
    line: int | None = field(default=None, compare=False)
    phone: str | None = field(default=None, compare=False, repr=False)
    email: str | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        _require(bool(self.id), "Expected a non-empty drop id")
        if self.phone is not None:
            _require(isinstance(self.phone, str) and PHONE_PATTERN.fullmatch(self.phone)
                     is not None, f"Expected phone to be a telephone number (digits, spaces, "
                     f"+ - ( ) and 6-15 digits), got {_shown(self.phone)}")
        if self.email is not None:
            _require(isinstance(self.email, str) and EMAIL_PATTERN.fullmatch(self.email)
                     is not None, f"Expected email to be an address like name@example.org, "
                     f"got {_shown(self.email)}")
        check_id("id", self.id)
        check_lat_lon(self.lat_deg, self.lon_deg)
        _positive("weight_kg", self.weight_kg)
        _at_most("weight_kg", self.weight_kg, MAX_PARCEL_KG)
        if self.earliest_s is not None:
            _non_negative("earliest_s", self.earliest_s)
            _at_most("earliest_s", self.earliest_s, MAX_TIME_S)
        if self.latest_s is not None:
            _non_negative("latest_s", self.latest_s)
            _at_most("latest_s", self.latest_s, MAX_TIME_S)
        _require(isinstance(self.priority, int) and not isinstance(self.priority, bool)
                 and abs(self.priority) <= 1_000_000,
                 f"Expected priority to be an integer in [-1000000, 1000000], "
                 f"got {_shown(self.priority)}")
        if self.earliest_s is not None and self.latest_s is not None:
            _require(self.earliest_s <= self.latest_s,
                     f"Expected earliest_s <= latest_s, got {self.earliest_s} > {self.latest_s}")
        _require(self.kind in DROP_KINDS,
                 f"Expected kind 'delivery' or 'pickup', got {_shown(self.kind)}")

    @property
    def is_pickup(self) -> bool:
        """Whether the parcel is collected here (and brought to the hub) rather than delivered."""
        return self.kind == "pickup"


@dataclass(frozen=True, slots=True, kw_only=True)
class NoFlyZone:
    """A no-fly polygon in WGS84.

    ``polygons`` holds one or more polygons, each a tuple of rings (exterior first, then holes),
    each ring a tuple of ``(lon_deg, lat_deg)`` pairs as in GeoJSON.
    """

    name: str
    polygons: tuple[tuple[tuple[tuple[float, float], ...], ...], ...]
    feature_index: int | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        check_name("name", self.name)


@dataclass(frozen=True, slots=True, kw_only=True)
class Wind:
    """A steady wind: ``speed_m_s`` blowing from ``from_deg`` (meteorological, 0 = from north)."""

    speed_m_s: float = 0.0
    from_deg: float = 0.0

    def __post_init__(self) -> None:
        _non_negative("speed_m_s", self.speed_m_s)
        _at_most("speed_m_s", self.speed_m_s, 60.0)
        _finite("from_deg", self.from_deg)
        _require(-360 <= self.from_deg <= 360,
                 f"Expected from_deg in [-360, 360], got {self.from_deg}")

    @property
    def velocity_en_m_s(self) -> tuple[float, float]:
        """Air mass velocity (east, north) in m/s: the direction the wind blows towards."""
        to_rad = math.radians(self.from_deg + 180.0)
        return (self.speed_m_s * math.sin(to_rad), self.speed_m_s * math.cos(to_rad))


@dataclass(frozen=True, slots=True, kw_only=True)
class TerrainConfig:
    """Where the elevation model is and the altitude band legs must stay inside (AGL)."""

    dem_paths: tuple[Path, ...]
    clearance_agl_m: float = 40.0
    ceiling_agl_m: float = 120.0

    def __post_init__(self) -> None:
        _require(len(self.dem_paths) >= 1, "Expected at least one DEM file")
        _non_negative("clearance_agl_m", self.clearance_agl_m)
        _positive("ceiling_agl_m", self.ceiling_agl_m)
        _at_most("ceiling_agl_m", self.ceiling_agl_m, 10_000.0)
        _require(self.clearance_agl_m < self.ceiling_agl_m,
                 f"Expected clearance_agl_m < ceiling_agl_m, got {self.clearance_agl_m} >= "
                 f"{self.ceiling_agl_m}")


#: Longest search time a plan may ask for, in seconds.
MAX_TIME_LIMIT_S = 3600.0


@dataclass(frozen=True, slots=True, kw_only=True)
class PlannerParams:
    """Knobs of the planning pipeline, loadable from the ``[planner]`` table of a scenario.

    ``altitude_margin_m`` keeps planned legs this far inside the [clearance, ceiling] band so
    that small differences in DEM sampling never push a leg out of it. ``altitude_frame`` picks
    the frame of emitted waypoint altitudes: ``relative`` (MAV_FRAME_GLOBAL_RELATIVE_ALT, to home)
    or ``terrain`` (MAV_FRAME_GLOBAL_TERRAIN_ALT). ``fence_corridor_m`` is the half-width of the
    geofence inclusion corridor around a sortie's track.
    """

    altitude_margin_m: float = 5.0
    altitude_frame: AltitudeFrame = "relative"
    fence_corridor_m: float = 400.0
    seed: int = 0
    time_limit_s: float = 30.0

    def __post_init__(self) -> None:
        _non_negative("altitude_margin_m", self.altitude_margin_m)
        _at_most("altitude_margin_m", self.altitude_margin_m, 1000.0)
        _require(self.altitude_frame in ("relative", "terrain"),
                 f"Expected altitude_frame 'relative' or 'terrain', got {self.altitude_frame!r}")
        _positive("fence_corridor_m", self.fence_corridor_m)
        _at_most("fence_corridor_m", self.fence_corridor_m, 100_000.0)
        _require(isinstance(self.seed, int) and not isinstance(self.seed, bool)
                 and 0 <= self.seed <= MAX_SEED,
                 f"Expected seed to be an integer in [0, {MAX_SEED}], got {_shown(self.seed)}")
        _positive("time_limit_s", self.time_limit_s)
        _at_most("time_limit_s", self.time_limit_s, MAX_TIME_LIMIT_S)


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    """Everything a plan is made from.

    ``root`` is the folder the scenario was loaded from and ``drops_path`` the drops file, when
    loaded from files (error messages name them).
    """

    name: str
    root: Path
    terrain: TerrainConfig
    nofly: tuple[NoFlyZone, ...]
    buffer_m: float
    depots: tuple[Depot, ...]
    drone_types: Mapping[str, DroneType]
    drops: tuple[Drop, ...]
    wind: Wind = field(default_factory=Wind)
    params: PlannerParams = field(default_factory=PlannerParams)
    drops_path: Path | None = None

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        return reduce_frozen(self)

    def __post_init__(self) -> None:
        check_name("name", self.name)
        _non_negative("buffer_m", self.buffer_m)
        _at_most("buffer_m", self.buffer_m, 100_000.0)
        _require(len(self.depots) >= 1, "Expected at least one depot")
        drones = sum(n for d in self.depots for n in d.drones.values())
        _require(drones <= MAX_DRONES,
                 f"Expected at most {MAX_DRONES} drones over every depot, got {drones}")
        object.__setattr__(self, "drone_types", MappingProxyType(dict(self.drone_types)))
