"""Checks and options shared by the ``dropline`` command groups: numbers, ports, key files,
and where simulated vehicles fly (``--home``, ``--scenario``, ``--drone-type``).

Every check raises :class:`planner.errors.InputError` naming the option, which the command line
turns into exit code 2 (:mod:`dropline.commands.exit_codes`).
"""

from __future__ import annotations

import argparse
import dataclasses
import math

from planner.errors import InputError
from planner.io.inputs import load_scenario_with_dem
from planner.scenario import DroneType, Scenario, Wind
from planner.terrain import Dem

#: The highest TCP or UDP port number.
MAX_PORT = 65535
#: Ports between the simulated vehicles of one fleet (vehicle i listens on ``base + 10 * i``).
PORT_STEP = 10


def positive(value: float, option: str) -> float:
    """``value`` of ``option`` when it is a finite number above 0.

    Raises
    ------
    InputError
        Naming ``option``, for 0, a negative number, infinity or NaN.

    Examples
    --------
    >>> positive(10.0, "--speedup")
    10.0
    """
    if not (value > 0 and math.isfinite(value)):
        raise InputError(f"expected {option} > 0, got {value}", field=option)
    return value


def at_least(value: float, low: float, option: str) -> float:
    """``value`` of ``option`` when it is a finite number of at least ``low``.

    Raises
    ------
    InputError
        Naming ``option``, for a smaller number, infinity or NaN.

    Examples
    --------
    >>> at_least(0, 0, "--turnaround")
    0
    """
    if not (value >= low and math.isfinite(value)):
        raise InputError(f"expected {option} >= {low:g}, got {value}", field=option)
    return value


def port_number(value: int, option: str, *, lowest: int = 0) -> int:
    """``value`` of ``option`` when it is a port number from ``lowest`` (0: any free port).

    Raises
    ------
    InputError
        Naming ``option``, for a number outside ``lowest..65535``.

    Examples
    --------
    >>> port_number(8080, "--port")
    8080
    """
    if not lowest <= value <= MAX_PORT:
        raise InputError(f"expected a port in {lowest}..{MAX_PORT}, got {value}", field=option)
    return value


def fleet_ports(base_port: int, vehicles: int, option: str) -> int:
    """``base_port`` of ``option`` when every vehicle's port ``base_port + 10 * i`` is a port.

    Raises
    ------
    InputError
        Naming ``option`` and the ports the vehicles would need.

    Examples
    --------
    >>> fleet_ports(5760, 3, "--base-port")
    5760
    """
    last = base_port + PORT_STEP * (vehicles - 1)
    if not (base_port >= 1 and last <= MAX_PORT):
        raise InputError(f"expected a port such that {base_port}..{last} (every {PORT_STEP}th, "
                         f"one per simulated vehicle, {vehicles} vehicles) lies in "
                         f"1..{MAX_PORT}", field=option)
    return base_port


def add_sign_key_file(parser: argparse.ArgumentParser) -> None:
    """The ``--sign-key-file PATH`` option of the commands that talk to vehicles."""
    parser.add_argument("--sign-key-file", metavar="PATH",
                        help="sign with the key in PATH: 64 hex digits or a passphrase (hashed "
                             "as MAVProxy's 'signing setup' does) for every vehicle, or the "
                             "per-vehicle keys written by 'fly --sign'")


def parse_home(text: str, *, min_values: int, max_values: int) -> tuple[float, ...]:
    """``LAT,LON[,ALT[,HDG]]`` as floats, checked.

    Examples
    --------
    >>> parse_home("44.06,-71.13,150", min_values=2, max_values=3)
    (44.06, -71.13, 150.0)
    """
    parts = [p.strip() for p in text.split(",")]
    if not min_values <= len(parts) <= max_values:
        names = ["LAT", "LON", "ALT", "HDG"]
        raise InputError(f"expected {','.join(names[:max_values])} with at least {min_values} "
                         f"values, got {text!r}", field="--home")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError as exc:
        raise InputError(f"expected numbers, got {text!r}", field="--home") from exc
    if not all(math.isfinite(v) for v in values) or not (
            -90 <= values[0] <= 90 and -180 <= values[1] <= 180):
        raise InputError(f"expected a latitude in [-90, 90] and a longitude in [-180, 180], "
                         f"got {text!r}", field="--home")
    return values


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SimInputs:
    """Where and as what the simulated vehicles fly."""

    home: tuple[float, float, float]
    heading_deg: float = 0.0
    dem: Dem | None = None
    drone_type: DroneType | None = None
    wind: Wind | None = None


def _pick_drone_type(scenario: Scenario, wanted: str | None) -> DroneType:
    if wanted is not None:
        if wanted not in scenario.drone_types:
            raise InputError(f"no drone type {wanted!r} in the scenario (has "
                             f"{', '.join(scenario.drone_types)})", field="--drone-type")
        return scenario.drone_types[wanted]
    for depot in scenario.depots:
        for type_id, count in depot.drones.items():
            if count > 0 and type_id in scenario.drone_types:
                return scenario.drone_types[type_id]
    return next(iter(scenario.drone_types.values()))


def sim_inputs(home_text: str | None, scenario_dir: str | None, drone_type: str | None, *,
               max_values: int = 3) -> SimInputs:
    """Home, DEM, drone type and wind from ``--home``, ``--scenario`` and ``--drone-type``."""
    scenario = dem = None
    if scenario_dir is not None:
        from planner.io.inputs import load_scenario_with_dem
        loaded = load_scenario_with_dem(scenario_dir)
        scenario, dem = loaded.scenario, loaded.dem
    elif drone_type is not None:
        raise InputError("--drone-type needs --scenario", field="--drone-type")
    if home_text is not None:
        values = parse_home(home_text, min_values=2, max_values=max_values)
    elif scenario is not None:
        values = (scenario.depots[0].lat_deg, scenario.depots[0].lon_deg)
    else:
        raise InputError("give --home LAT,LON[,ALT] or --scenario DIR", field="--home")
    lat, lon = values[0], values[1]
    if len(values) >= 3:
        alt = values[2]
    elif dem is not None and bool(dem.covers(lon, lat)):
        alt = float(dem.elevation_amsl_m(lon, lat))
    else:
        alt = 0.0
    return SimInputs(home=(lat, lon, alt), heading_deg=values[3] if len(values) > 3 else 0.0,
                     dem=dem, wind=None if scenario is None else scenario.wind,
                     drone_type=None if scenario is None else _pick_drone_type(scenario,
                                                                               drone_type))


def scenario_option(folder: str | None) -> tuple[Scenario | None, Dem | None]:
    """The scenario and DEM of a ``--scenario`` folder, checked; ``(None, None)`` without one.

    Raises
    ------
    InputError
        The folder, its files or its DEM are wrong (see
        :func:`planner.io.inputs.load_scenario_with_dem`).
    """
    if folder is None:
        return None, None
    loaded = load_scenario_with_dem(folder)
    return loaded.scenario, loaded.dem
