"""A plan's scenario: a copied scenario folder, files uploaded into it, and edits made on the map.

Edits are JSON, each key optional::

    {"depots": [{"id": "hub", "lat_deg": 44.3, "lon_deg": -71.8, "drones": {"heavy_octo": 2}}],
     "nofly": [{"name": "school", "polygon": [[-71.8, 44.3], [-71.79, 44.3], [-71.79, 44.31]]}],
     "drop_ids": ["P001", "P002"], "time_limit_s": 10, "seed": 3, "strict": false,
     "dem": "4f0c2a9e1b7d3e58", "wind": {"speed_m_s": 6, "from_deg": 270},
     "vehicle_starts": [{"vehicle": "hub/heavy_octo/1", "ready_s": 0, "battery_pct": 35}]}

``depots`` and ``nofly`` replace the folder's; ``drop_ids`` keeps only those drops; ``strict``
refuses a drops list with a parcel heavier than every drone type (by default it is planned as
unserved). ``dem`` is the id of a DEM uploaded to the plan (set by the upload, never a path).
``wind`` replaces the scenario's wind; ``vehicle_starts`` (set by a re-plan) says when vehicles
are ready and with what battery (:class:`planner.fleet_state.VehicleStart`), checked here against
the depots and given to the planner.
Every problem is an :class:`~planner.errors.InputError` naming the file or the edited item and
field. A file is named as the user knows it: an uploaded file by the name it was uploaded under,
a scenario file relative to the scenario folder; no server path is ever shown.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import re
import secrets
import shutil
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import shapely

from planner.errors import InputError, ScenarioError, TerrainError
from planner.fleet_state import check_starts, starts_from_json, wind_of
from planner.io.dem import load_dem
from planner.io.inputs import load_scenario_with_dem
from planner.io.scenario import load_scenario
from planner.scenario import MAX_DRONES, MAX_SEED, Depot, NoFlyZone, Scenario
from planner.terrain import Dem

UPLOAD_KINDS = ("drops", "nofly", "dem")
DEM_SUFFIXES = (".hgt", ".tif", ".tiff")
EDIT_KEYS = frozenset({"depots", "nofly", "drop_ids", "time_limit_s", "seed", "strict", "dem",
                       "wind", "vehicle_starts"})
#: Most cells of an uploaded GeoTIFF: an SRTM 1 arc-second tile (3601 x 3601) with room to spare.
UPLOAD_MAX_DEM_CELLS = 16_000_000
#: Longest time limit a plan of the console may ask for, in seconds (below the scenario
#: model's own bound, :data:`planner.scenario.MAX_TIME_LIMIT_S`).
CONSOLE_MAX_TIME_LIMIT_S = 600.0
#: Most zones drawn on the map, and most vertices of one.
MAX_ZONES = 1000
MAX_ZONE_VERTICES = 10_000
MAX_FILENAME_CHARS = 200
UPLOAD_NAMES = ".upload_names.json"
_DEM_ID = re.compile(r"[0-9a-f]{16}")
_HGT_NAME = re.compile(r"[NS]\d{2}[EW]\d{3}\.hgt", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_ABSOLUTE = re.compile(r"(?<![\w.])/(?:[^\s/:'\"(),;]+/)+([^\s/:'\"(),;]*)")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def list_scenarios(missions_dir: Path) -> list[str]:
    """Names of the scenario folders (those holding ``scenario.toml``) in ``missions_dir``."""
    if not missions_dir.is_dir():
        return []
    return sorted(p.name for p in missions_dir.iterdir() if (p / "scenario.toml").is_file())


@functools.lru_cache(maxsize=4)
def _dem_cached(files: tuple[tuple[Path, int, int], ...]) -> Dem:
    return load_dem([path for path, _, _ in files], max_cells=UPLOAD_MAX_DEM_CELLS)


def dem_for(paths: tuple[Path, ...]) -> Dem:
    """The elevation model of these files (kept while the files are unchanged)."""
    if not all(p.is_file() for p in paths):
        return load_dem(list(paths), max_cells=UPLOAD_MAX_DEM_CELLS)
    return _dem_cached(tuple((p, p.stat().st_mtime_ns, p.stat().st_size) for p in paths))


def upload_names(folder: Path) -> dict[str, str]:
    """The name each uploaded file of a scenario folder was uploaded under, by its path there."""
    try:
        names = json.loads((folder / UPLOAD_NAMES).read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in names.items()} if isinstance(names, dict) else {}


def _shown_name(path: str, root: Path, names: Mapping[str, str]) -> str:
    """How the user knows a file: its upload name, else its path in the scenario folder."""
    for base in (root, root.resolve()):
        try:
            rel = Path(path).relative_to(base).as_posix()
        except ValueError:
            continue
        return names.get(rel, rel)
    return Path(path).name


def _scrub(text: str, root: Path, names: Mapping[str, str]) -> str:
    """``text`` with every server path replaced by the name the user knows."""
    for rel, name in names.items():
        for base in (root.resolve(), root):
            text = text.replace(str(base / rel), name)
    for base in (root.resolve(), root):
        text = text.replace(f"{base}/", "")
    return _ABSOLUTE.sub(r"\1", text)


def scrub_paths(text: str, folder: Path) -> str:
    """``text`` naming files as the user knows them, never by a server path.

    Parameters
    ----------
    text
        A message that may name files by their paths on the server.
    folder
        The plan's scenario folder: its files are named by their upload names or their paths
        in the folder; any other absolute path by its last part.
    """
    return _scrub(text, folder, upload_names(folder))


def _relative(exc: InputError, root: Path, names: Mapping[str, str] | None = None
              ) -> InputError:
    """The same error naming its file as the user knows it (upload name or scenario path)."""
    names = upload_names(root) if names is None else names
    path = None if exc.path is None else _shown_name(exc.path, root, names)
    reason = _scrub(exc.reason, root, names)
    item = None if exc.item is None else _scrub(exc.item, root, names)
    cls = type(exc) if type(exc) in (InputError, ScenarioError, TerrainError) else InputError
    return cls(reason, path=path, line=exc.line, item=item, field=exc.field)


def copy_scenario(source: Path, target: Path) -> None:
    """Copy a scenario folder (checked to load) to ``target``.

    Files it names outside itself (a DEM shared by several scenarios: ``../district/terrain``)
    are linked at the same relative place beside ``target``.
    """
    try:
        scenario = load_scenario(source)
    except InputError as exc:
        raise _relative(exc, source) from None
    shutil.copytree(source, target)
    for path in [target, *target.rglob("*")]:  # private, like the rest of the data folder
        path.chmod(0o700 if path.is_dir() else 0o600)
    outside = [*scenario.terrain.dem_paths, scenario.drops_path]
    for path in (p for p in outside if p is not None):
        rel = os.path.relpath(path, source)
        if not rel.startswith(".."):
            continue
        link = Path(os.path.normpath(target / rel))
        if not link.is_relative_to(target.parent):
            raise InputError("the scenario names a file too far outside its folder",
                             path=rel)
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.exists():
            link.symlink_to(Path(path).resolve())


def _number(value: object, where: str, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or \
            (isinstance(value, int) and abs(value) > 10**15) or not math.isfinite(value):
        raise InputError(f"Expected a finite number, got {str(value)[:40]}", item=where,
                         field=name)
    return float(value)


def _blame(message: str, names: tuple[str, ...]) -> str | None:
    """The first of ``names`` a validation message mentions."""
    return next((w for w in _WORD.findall(message) if w in names), None)


def _depots(value: object, scenario: Scenario) -> tuple[Depot, ...]:
    if not isinstance(value, list) or not value:
        raise InputError("Expected a non-empty list of depots", field="depots")
    out = []
    for i, raw in enumerate(value):
        where = f"depot {i}"
        if not isinstance(raw, dict):
            raise InputError(f"Expected an object, got {str(raw)[:40]!r}", item=where)
        drones = raw.get("drones", {})
        if not isinstance(drones, dict):
            raise InputError(f"Expected an object of counts, got {str(drones)[:40]!r}",
                             item=where, field="drones")
        for type_id in drones:
            if type_id not in scenario.drone_types:
                raise InputError(f"no drone type {type_id[:64]!r} in the scenario (has "
                                 f"{', '.join(scenario.drone_types)})", item=where,
                                 field="drones")
        try:
            out.append(Depot(id=str(raw.get("id", "")), lat_deg=_number(raw.get("lat_deg"), where,
                                                                       "lat_deg"),
                             lon_deg=_number(raw.get("lon_deg"), where, "lon_deg"),
                             drones=drones))
        except ValueError as exc:
            raise InputError(str(exc), item=where,
                             field=_blame(str(exc), ("id", "lat_deg", "lon_deg", "drones"))
                             ) from None
    if len({d.id for d in out}) != len(out):
        raise InputError("Expected unique depot ids", field="depots")
    total = sum(n for d in out for n in d.drones.values())
    if total == 0:
        raise InputError("Expected at least one drone at some depot", field="depots")
    if total > MAX_DRONES:
        raise InputError(f"Expected at most {MAX_DRONES} drones over every depot, got {total}",
                         field="depots")
    return tuple(out)


def _zones(value: object) -> tuple[NoFlyZone, ...]:
    if not isinstance(value, list):
        raise InputError("Expected a list of zones", field="nofly")
    if len(value) > MAX_ZONES:
        raise InputError(f"Expected at most {MAX_ZONES} zones, got {len(value)}", field="nofly")
    out = []
    for i, raw in enumerate(value):
        where = f"zone {i}"
        ring = raw.get("polygon") if isinstance(raw, dict) else None
        if not isinstance(ring, list) or len(ring) < 3 or not all(
                isinstance(p, list) and len(p) == 2 for p in ring):
            raise InputError("Expected at least 3 [lon, lat] vertices", item=where,
                             field="polygon")
        if len(ring) > MAX_ZONE_VERTICES:
            raise InputError(f"Expected at most {MAX_ZONE_VERTICES} vertices, got {len(ring)}",
                             item=where, field="polygon")
        points = [(_number(p[0], where, "polygon"), _number(p[1], where, "polygon"))
                  for p in ring]
        if any(not (-180 <= lon <= 180 and -90 <= lat <= 90) for lon, lat in points):
            raise InputError("Expected lon in [-180, 180] and lat in [-90, 90]", item=where,
                             field="polygon")
        if points[0] != points[-1]:
            points.append(points[0])
        polygon = shapely.Polygon(points)
        if not polygon.is_valid or polygon.area <= 0:
            raise InputError(f"the polygon is not valid ({shapely.is_valid_reason(polygon)})",
                             item=where, field="polygon")
        name = raw.get("name") or f"zone {i}"
        try:
            out.append(NoFlyZone(name=str(name), polygons=((tuple(points),),),
                                 feature_index=i))
        except ValueError as exc:
            raise InputError(str(exc), item=where, field="name") from None
    return tuple(out)


def _dem_path(folder: Path, dem_id: object) -> Path:
    """The DEM uploaded to a plan under ``dem_id`` (an id, never a path)."""
    if not isinstance(dem_id, str) or _DEM_ID.fullmatch(dem_id) is None:
        raise InputError(f"Expected the id of a DEM uploaded to this plan (16 hex digits), got "
                         f"{str(dem_id)[:40]!r}; upload the file instead of naming a path",
                         field="dem")
    files = sorted((folder / "uploads" / dem_id).glob("*")) if \
        (folder / "uploads" / dem_id).is_dir() else []
    if len(files) != 1 or not files[0].is_file() or files[0].is_symlink():
        raise InputError(f"no DEM {dem_id!r} uploaded to this plan", field="dem")
    return files[0]


def apply_edits(scenario: Scenario, edits: Mapping[str, Any]) -> Scenario:
    """``scenario`` with the map edits applied (each checked)."""
    unknown = set(edits) - EDIT_KEYS
    if unknown:
        key = sorted(unknown)[0]
        raise InputError(f"unknown edit {key[:40]!r}; expected some of "
                         f"{', '.join(sorted(EDIT_KEYS))}", field=key[:40])
    changes: dict[str, Any] = {}
    if "depots" in edits:
        changes["depots"] = _depots(edits["depots"], scenario)
    if "nofly" in edits:
        changes["nofly"] = _zones(edits["nofly"])
    if "drop_ids" in edits:
        wanted = edits["drop_ids"]
        if not isinstance(wanted, list) or not all(isinstance(d, str) for d in wanted):
            raise InputError("Expected a list of drop ids", field="drop_ids")
        known = {d.id for d in scenario.drops}
        missing = [d for d in wanted if d not in known]
        if missing:
            raise InputError(f"no drop {missing[0][:64]!r} in the scenario", field="drop_ids")
        changes["drops"] = tuple(d for d in scenario.drops if d.id in set(wanted))
    params = scenario.params
    if "time_limit_s" in edits:
        limit = _number(edits["time_limit_s"], "planner", "time_limit_s")
        if not 0 < limit <= CONSOLE_MAX_TIME_LIMIT_S:
            raise InputError(f"Expected 0 < time_limit_s <= {CONSOLE_MAX_TIME_LIMIT_S:g}, "
                             f"got {limit:g}", field="time_limit_s")
        params = dataclasses.replace(params, time_limit_s=limit)
    if "seed" in edits:
        seed = edits["seed"]
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
            raise InputError(f"Expected an integer seed in [0, {MAX_SEED}], got "
                             f"{str(seed)[:40]}", field="seed")
        params = dataclasses.replace(params, seed=seed)
    if "strict" in edits and not isinstance(edits["strict"], bool):
        raise InputError(f"Expected true or false, got {str(edits['strict'])[:40]}",
                         field="strict")
    if params != scenario.params:
        changes["params"] = params
    if "wind" in edits:
        wind = edits["wind"]
        if not isinstance(wind, dict) or set(wind) != {"speed_m_s", "from_deg"}:
            raise InputError('Expected {"speed_m_s": 0-60, "from_deg": 0-360}', field="wind")
        changes["wind"] = wind_of(wind["speed_m_s"], wind["from_deg"], field="wind")
    if "vehicle_starts" in edits:
        check_starts(changes.get("depots", scenario.depots),
                     starts_from_json(edits["vehicle_starts"]))
    if "dem" in edits:
        path = _dem_path(scenario.root, edits["dem"])
        changes["terrain"] = dataclasses.replace(scenario.terrain, dem_paths=(path,))
    try:
        return dataclasses.replace(scenario, **changes)
    except ValueError as exc:
        raise InputError(str(exc), field="depots" if "drones" in str(exc) else None) from None


def load(folder: Path, edits: Mapping[str, Any],
         names: Mapping[str, str] | None = None) -> tuple[Scenario, Dem]:
    """The scenario of a plan folder with its edits, and its DEM, checked together.

    ``names`` maps files of the folder to the names they were uploaded under (default: those
    recorded in the folder), for error messages.
    """
    try:
        loaded = load_scenario_with_dem(folder, strict=edits.get("strict") is True,
                                        edit=lambda scenario: apply_edits(scenario, edits),
                                        dem_loader=dem_for)
    except InputError as exc:
        raise _relative(exc, folder, names) from None
    return loaded.scenario, loaded.dem


def _named_file(folder: Path, kind: str) -> Path:
    """Where the scenario's drops or no-fly file lives (as ``scenario.toml`` names it)."""
    doc = tomllib.loads((folder / "scenario.toml").read_text())
    if kind == "drops":
        target = folder / str(doc.get("drops", "drops.csv"))
    else:
        nofly = doc.get("airspace", {}).get("nofly")
        if not nofly:
            raise InputError("scenario.toml names no no-fly file; draw zones on the map instead",
                             field="airspace.nofly")
        target = folder / str(nofly)
    inside = Path(os.path.normpath(target))
    if not inside.is_relative_to(folder):
        raise InputError(f"the scenario's {kind} file lies outside its folder; it cannot be "
                         "replaced by an upload", field="kind")
    return inside


def upload_name(filename: object) -> str:
    """The name of an uploaded file as shown back to the user: its last path component, checked
    to hold no control characters and to be a plausible file name."""
    if not isinstance(filename, str):
        raise InputError("Expected a file name", field="file")
    name = re.split(r"[/\\]", filename)[-1].strip()
    if _CONTROL.search(name) is not None:
        raise InputError("Expected a file name without control characters (such as NUL), got "
                         f"{name[:60]!r}", field="file")
    if not name or name in (".", "..") or len(name) > MAX_FILENAME_CHARS:
        raise InputError(f"Expected a file name of 1 to {MAX_FILENAME_CHARS} characters, got "
                         f"{name[:60]!r}", field="file")
    return name


def _dem_target(folder: Path, name: str) -> tuple[Path, str]:
    """A fresh place for an uploaded DEM, and its id."""
    suffix = Path(name).suffix.lower()
    if suffix not in DEM_SUFFIXES:
        raise InputError(f"Expected a {', '.join(DEM_SUFFIXES)} file", path=name)
    if suffix == ".hgt" and _HGT_NAME.fullmatch(name) is None:
        raise InputError("cannot tell the tile's corner from the name; expected an SRTM name "
                         "like N44W072.hgt (latitude then longitude of the south-west corner)",
                         path=name)
    dem_id = secrets.token_hex(8)
    stored = name.upper().replace(".HGT", ".hgt") if suffix == ".hgt" else f"dem{suffix}"
    return folder / "uploads" / dem_id / stored, dem_id


def upload(folder: Path, edits: dict[str, Any], kind: str, filename: str,
           data: bytes) -> dict[str, Any]:
    """Put an uploaded drops CSV, no-fly GeoJSON or DEM into a plan's scenario folder.

    The file is kept only if the scenario still loads with it; otherwise the previous file is
    restored and the error (file, line or feature, field, reason) raised, naming the file by
    the name it was uploaded under. A DEM is stored under a new id, which the returned edits
    name; the client never gives a path.
    """
    if kind not in UPLOAD_KINDS:
        raise InputError(f"Expected one of {', '.join(UPLOAD_KINDS)}, got {str(kind)[:40]!r}",
                         field="kind")
    name = upload_name(filename)
    if not data:
        raise InputError("the uploaded file is empty", path=name)
    new_edits = dict(edits)
    if kind == "dem":
        target, dem_id = _dem_target(folder, name)
        new_edits["dem"] = dem_id
    else:
        target = _named_file(folder, kind)
    rel = target.relative_to(folder).as_posix()
    names = {**upload_names(folder), rel: name}
    backup = target.read_bytes() if target.exists() else None
    if target.is_symlink():  # a file shared with the scenario it was copied from
        target.unlink()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    try:
        load(folder, new_edits, names)
    except InputError:
        if kind == "dem":
            shutil.rmtree(target.parent, ignore_errors=True)
        elif backup is None:
            target.unlink()
        else:
            target.write_bytes(backup)
        raise
    (folder / UPLOAD_NAMES).write_text(json.dumps(names, indent=1))
    return new_edits
