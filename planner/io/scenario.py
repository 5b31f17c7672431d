"""Loading a scenario folder: ``scenario.toml``, the drops CSV and the no-fly GeoJSON.

Every bad input raises one :class:`~planner.errors.ScenarioError` naming the file, the line (TOML
line, CSV line) or the GeoJSON feature, the field and the reason, with what was expected. The
elevation model itself is not read here (see :mod:`planner.io.dem`); only its paths are checked.

The format, with defaults::

    name = "White Mountains district"   # default: the folder name
    drops = "drops.csv"                  # default: drops.csv

    [terrain]
    dem = "terrain/N44W072.hgt"          # a path or a list of paths (.hgt or GeoTIFF)
    clearance_agl_m = 40
    ceiling_agl_m = 120

    [airspace]                           # optional
    nofly = "nofly.geojson"              # optional
    buffer_m = 50

    [wind]                               # optional: Wind fields
    [planner]                            # optional: PlannerParams fields

    [[depot]]                            # one or more
    id = "littleton"
    lat_deg = 44.3179
    lon_deg = -71.8256
    drones = { heavy_quad = 3 }

    [[drone_type]]                       # one or more: DroneType fields

    [costs]                              # optional: CostTable prices (planner.io.costs)

Paths are relative to the folder. Ids (of drops, depots and drone types) are 1 to 64 characters:
letters, digits, space, ``_``, ``.`` and ``-``, starting with a letter or digit
(:data:`planner.scenario.ID_PATTERN`); names (of the scenario and of no-fly zones) are free text
of at most 200 characters without control characters. Numbers are bounded to what makes sense
(at most 1000 drones over every depot, a search time limit of at most 3600 s...).

The drops CSV has a header naming its columns in any order: ``id,lat_deg,lon_deg,weight_kg``
are required, ``earliest_s,latest_s,priority`` optional, ``kind`` optional (``delivery``, the
default, or ``pickup``: a parcel of ``weight_kg`` collected there and brought to the hub, its
window bounding the collection), and the recipient's ``phone,email`` for notifications (an
empty cell means unset), other columns are ignored; blank lines and
lines starting with ``#`` are skipped. The no-fly file is a GeoJSON FeatureCollection of
Polygon or MultiPolygon features whose ``name`` property names the zone (``zone N`` after the
0-based feature index if absent).
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from planner.errors import ScenarioError
from planner.io._drops_csv import read_drops
from planner.io._nofly_geojson import read_nofly
from planner.io._toml_tables import (
    ROOT,
    Spec,
    TomlLines,
    Where,
    construct,
    describe,
    did_you_mean,
    read_table,
    spec_of,
)
from planner.io.costs import read_costs
from planner.scenario import (
    MAX_DRONES,
    SCENARIO_FILE,
    Depot,
    DroneType,
    Drop,
    NoFlyZone,
    PlannerParams,
    Scenario,
    TerrainConfig,
    Wind,
)

DEM_SUFFIXES: tuple[str, ...] = (".hgt", ".tif", ".tiff")
DEFAULT_BUFFER_M = 50.0
MAX_BUFFER_M = 100_000.0

_TOP = Spec(kinds={"name": "string", "drops": "string", "terrain": "any", "airspace": "any",
                   "wind": "any", "planner": "any", "depot": "any", "drone_type": "any",
                   "costs": "any"},
            required=frozenset({"terrain", "depot", "drone_type"}))
_TERRAIN = Spec(kinds={"dem": "any", "clearance_agl_m": "number", "ceiling_agl_m": "number"},
                required=frozenset({"dem"}))
_AIRSPACE = Spec(kinds={"nofly": "string", "buffer_m": "number"})
_TOML_POS = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")


def _read_toml(path: Path) -> tuple[dict[str, Any], TomlLines]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ScenarioError(f"Expected UTF-8 text, got undecodable byte at offset {err.start}",
                            path=path) from None
    except OSError as err:
        raise ScenarioError(f"cannot read: {err.strerror}", path=path) from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        message = str(err)
        pos = _TOML_POS.search(message)
        if pos is None:
            raise ScenarioError(f"TOML syntax error: {message}", path=path) from None
        raise ScenarioError(f"TOML syntax error: {message[:pos.start()]} (column {pos.group(2)})",
                            path=path, line=int(pos.group(1))) from None
    return doc, TomlLines(text)


def _table(doc: Mapping[str, Any], name: str, top: Where) -> Where | None:
    """The ``[name]`` table's position, or None when absent; rejects non-tables."""
    if name not in doc:
        return None
    if not isinstance(doc[name], dict):
        raise top.error(f"Expected a [{name}] table, got {describe(doc[name])}", name)
    return Where(path=top.path, lines=top.lines, table=(name, None), item=f"[{name}]")


def _array(doc: Mapping[str, Any], name: str, top: Where) -> list[dict[str, Any]]:
    value = doc[name]
    if isinstance(value, dict):
        raise top.error(f"Expected [[{name}]] entries (an array of tables), got a single "
                        f"[{name}] table", name)
    if not isinstance(value, list) or not value or not all(isinstance(v, dict) for v in value):
        raise top.error(f"Expected one or more [[{name}]] tables, got {describe(value)}", name)
    return value


def _entry(top: Where, name: str, index: int, table: Mapping[str, Any]) -> Where:
    ident = table.get("id")
    item = f"{name} '{ident}'" if isinstance(ident, str) and ident else \
        f"[[{name}]] #{index + 1}"
    return Where(path=top.path, lines=top.lines, table=(name, index), item=item)


def _file(root: Path, rel: object, where: Where, key: str, what: str) -> Path:
    """A path named in the TOML, checked to exist."""
    if not isinstance(rel, str) or not rel:
        raise where.error(f"Expected a non-empty path string, got {describe(rel)}", key)
    path = root / rel
    if not path.is_file():
        raise where.error(f"{what} file not found: {path}", key)
    return path


def _drone_types(doc: Mapping[str, Any], top: Where) -> dict[str, tuple[DroneType, Where]]:
    types: dict[str, tuple[DroneType, Where]] = {}
    for i, table in enumerate(_array(doc, "drone_type", top)):
        where = _entry(top, "drone_type", i, table)
        drone = construct(DroneType, read_table(table, spec_of(DroneType), where), where)
        if drone.id in types:
            raise where.error(f"duplicate drone_type id '{drone.id}': already defined on line "
                              f"{types[drone.id][1].line()}", "id")
        types[drone.id] = (drone, where)
    return types


def _depots(doc: Mapping[str, Any], top: Where, types: Mapping[str, object]) -> tuple[Depot, ...]:
    depots: dict[str, Depot] = {}
    total = 0
    for i, table in enumerate(_array(doc, "depot", top)):
        where = _entry(top, "depot", i, table)
        values = read_table(table, spec_of(Depot), where)
        drones = values.get("drones", {})
        if not isinstance(drones, dict):
            raise where.error(f"Expected a table of drone type id = count, got "
                              f"{describe(drones)}", "drones")
        for type_id in drones:
            if type_id not in types:
                raise where.error(f"unknown drone type '{type_id}'"
                                  f"{did_you_mean(type_id, types)} (defined drone types: "
                                  f"{', '.join(sorted(types))})", "drones")
        depot = construct(Depot, {**values, "line": where.line()}, where)
        if sum(depot.drones.values()) == 0:
            raise where.error("the depot has no drones: Expected drones = { <drone type id> = "
                              "<count >= 1>, ... }", "drones")
        if depot.id in depots:
            raise where.error(f"duplicate depot id '{depot.id}': already defined on line "
                              f"{depots[depot.id].line}", "id")
        total += sum(depot.drones.values())
        if total > MAX_DRONES:
            raise where.error(f"Expected at most {MAX_DRONES} drones over every depot, got "
                              f"{total} up to this depot", "drones")
        depots[depot.id] = depot
    return tuple(depots.values())


def _terrain(doc: Mapping[str, Any], top: Where, root: Path) -> TerrainConfig:
    where = _table(doc, "terrain", top)
    if where is None:
        raise top.error("missing required key 'terrain' in the top level", "terrain")
    values = read_table(doc["terrain"], _TERRAIN, where)
    dem = values.pop("dem")
    names = dem if isinstance(dem, list) else [dem]
    if not names:
        raise where.error("Expected a DEM path or a non-empty list of paths, got []", "dem")
    paths = []
    for rel in names:
        path = _file(root, rel, where, "dem", "DEM")
        if path.suffix.lower() not in DEM_SUFFIXES:
            raise where.error(f"Expected a DEM file ending in {', '.join(DEM_SUFFIXES)}, "
                              f"got {path.name}", "dem")
        paths.append(path)
    return construct(TerrainConfig, {**values, "dem_paths": tuple(paths)}, where,
                     {"dem_paths": "dem"})


def _airspace(doc: Mapping[str, Any], top: Where, root: Path
              ) -> tuple[tuple[NoFlyZone, ...], float]:
    where = _table(doc, "airspace", top)
    if where is None:
        return (), DEFAULT_BUFFER_M
    values = read_table(doc["airspace"], _AIRSPACE, where)
    buffer_m = cast(float, values.get("buffer_m", DEFAULT_BUFFER_M))
    if not 0 <= buffer_m < math.inf:
        raise where.error(f"Expected buffer_m to be a finite number >= 0, got {buffer_m}",
                          "buffer_m")
    if buffer_m > MAX_BUFFER_M:
        raise where.error(f"Expected buffer_m <= {MAX_BUFFER_M:g}, got {buffer_m:g}", "buffer_m")
    if "nofly" not in values:
        return (), buffer_m
    return read_nofly(_file(root, values["nofly"], where, "nofly", "no-fly")), buffer_m


def _optional(doc: Mapping[str, Any], top: Where, name: str, cls: type[Any]) -> Any:
    where = _table(doc, name, top)
    if where is None:
        return cls()
    return construct(cls, read_table(doc[name], spec_of(cls), where), where)


def _check_weights(drops: tuple[Drop, ...], types: Mapping[str, tuple[DroneType, Where]],
                   drops_path: Path) -> None:
    heaviest, where = max(types.values(), key=lambda t: t[0].max_payload_kg)
    for drop in drops:
        if drop.weight_kg > heaviest.max_payload_kg:
            raise ScenarioError(
                f"weight_kg {drop.weight_kg} exceeds the max_payload_kg of every drone type: "
                f"Expected at most {heaviest.max_payload_kg} kg (drone_type '{heaviest.id}', "
                f"{where.path}:{where.line('max_payload_kg')})",
                path=drops_path, line=drop.line, item=f"drop '{drop.id}'", field="weight_kg")


def load_scenario(folder: str | Path, *, strict: bool = False) -> Scenario:
    """Load and check a scenario folder.

    Parameters
    ----------
    folder
        The folder holding ``scenario.toml`` and the files it names.
    strict
        Refuse a drop heavier than every drone type can carry. By default such a drop loads
        and the planner lists it as unserved, with the reason.

    Returns
    -------
    Scenario
        With ``root`` set to ``folder``; drops carry their CSV line, depots the line of their
        ``[[depot]]`` header, zones their feature index.

    Raises
    ------
    ScenarioError
        For the first problem found, naming the file, the line or feature, the field and the
        reason (a missing folder or file, TOML syntax, an unknown or missing key, a value of the
        wrong type or range, an id outside the allowed characters, an unknown drone type, a depot
        without drones, duplicate ids, bad CSV rows, with ``strict`` drops heavier than every
        drone type can carry, bad GeoJSON geometry).
    """
    root = Path(folder)
    if not root.is_dir():
        raise ScenarioError("scenario folder not found" if not root.exists() else
                            "Expected a scenario folder, got a file", path=root)
    toml_path = root / SCENARIO_FILE
    if not toml_path.is_file():
        raise ScenarioError(f"no {SCENARIO_FILE} in the scenario folder", path=toml_path)
    doc, lines = _read_toml(toml_path)
    top = Where(path=toml_path, lines=lines, table=ROOT, item=None)
    read_table(doc, _TOP, top)
    terrain = _terrain(doc, top, root)
    types = _drone_types(doc, top)
    depots = _depots(doc, top, types)
    nofly, buffer_m = _airspace(doc, top, root)
    wind = _optional(doc, top, "wind", Wind)
    params = _optional(doc, top, "planner", PlannerParams)
    read_costs(doc, top)  # checked here; planner.io.costs.load_costs reads it for the cost report
    if "drops" in doc:
        drops_path = _file(root, doc["drops"], top, "drops", "drops")
    else:
        drops_path = root / "drops.csv"
        if not drops_path.is_file():
            raise ScenarioError("drops file not found (the default when scenario.toml has no "
                                "'drops' key)", path=drops_path)
    drops = read_drops(drops_path)
    if strict:
        _check_weights(drops, types, drops_path)
    name = doc.get("name") or root.resolve().name
    return construct(Scenario, {
        "name": name, "root": root, "terrain": terrain, "nofly": nofly, "buffer_m": buffer_m,
        "depots": depots, "drone_types": {k: v[0] for k, v in types.items()}, "drops": drops,
        "wind": wind, "params": params, "drops_path": drops_path}, top)
