"""A plan's scenario: a copied scenario folder, files uploaded into it, and edits made on the map.

Edits are JSON, each key optional::

    {"depots": [{"id": "hub", "lat_deg": 44.3, "lon_deg": -71.8, "drones": {"heavy_octo": 2}}],
     "nofly": [{"name": "school", "polygon": [[-71.8, 44.3], [-71.79, 44.3], [-71.79, 44.31]]}],
     "drop_ids": ["P001", "P002"], "time_limit_s": 10, "dem": "terrain/N44W072.hgt"}

``depots`` and ``nofly`` replace the folder's; ``drop_ids`` keeps only those drops. Every problem
is an :class:`~planner.errors.InputError` naming the file (relative to the scenario folder) or the
edited item and field.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import shutil
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import shapely

from planner.errors import InputError, ScenarioError
from planner.io.dem import load_dem
from planner.io.scenario import load_scenario
from planner.scenario import Depot, NoFlyZone, Scenario
from planner.terrain import Dem
from planner.validate import check_scenario

UPLOAD_KINDS = ("drops", "nofly", "dem")
DEM_SUFFIXES = (".hgt", ".tif", ".tiff")
EDIT_KEYS = frozenset({"depots", "nofly", "drop_ids", "time_limit_s", "dem"})


def list_scenarios(missions_dir: Path) -> list[str]:
    """Names of the scenario folders (those holding ``scenario.toml``) in ``missions_dir``."""
    if not missions_dir.is_dir():
        return []
    return sorted(p.name for p in missions_dir.iterdir() if (p / "scenario.toml").is_file())


@functools.lru_cache(maxsize=4)
def _dem_cached(files: tuple[tuple[Path, int, int], ...]) -> Dem:
    return load_dem([path for path, _, _ in files])


def dem_for(paths: tuple[Path, ...]) -> Dem:
    """The elevation model of these files (kept while the files are unchanged)."""
    if not all(p.is_file() for p in paths):
        return load_dem(list(paths))
    return _dem_cached(tuple((p, p.stat().st_mtime_ns, p.stat().st_size) for p in paths))


def _relative(exc: InputError, root: Path) -> InputError:
    """The same error naming its file relative to the scenario folder."""
    path = exc.path
    if path is not None:
        try:
            path = str(Path(path).resolve().relative_to(root.resolve()))
        except ValueError:
            path = Path(path).name
    return type(exc)(exc.reason, path=path, line=exc.line, item=exc.item, field=exc.field) \
        if type(exc) in (InputError, ScenarioError) else \
        InputError(exc.reason, path=path, line=exc.line, item=exc.item, field=exc.field)


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
            not math.isfinite(value):
        raise InputError(f"Expected a number, got {value!r}", item=where, field=name)
    return float(value)


def _depots(value: object, scenario: Scenario) -> tuple[Depot, ...]:
    if not isinstance(value, list) or not value:
        raise InputError("Expected a non-empty list of depots", field="depots")
    out = []
    for i, raw in enumerate(value):
        where = f"depot {i}"
        if not isinstance(raw, dict):
            raise InputError(f"Expected an object, got {raw!r}", item=where)
        drones = raw.get("drones", {})
        if not isinstance(drones, dict):
            raise InputError(f"Expected an object of counts, got {drones!r}", item=where,
                             field="drones")
        for type_id in drones:
            if type_id not in scenario.drone_types:
                raise InputError(f"no drone type {type_id!r} in the scenario (has "
                                 f"{', '.join(scenario.drone_types)})", item=where,
                                 field="drones")
        try:
            out.append(Depot(id=str(raw.get("id", "")), lat_deg=_number(raw.get("lat_deg"), where,
                                                                       "lat_deg"),
                             lon_deg=_number(raw.get("lon_deg"), where, "lon_deg"),
                             drones=drones))
        except ValueError as exc:
            raise InputError(str(exc), item=where) from None
    if len({d.id for d in out}) != len(out):
        raise InputError("Expected unique depot ids", field="depots")
    if not any(n > 0 for d in out for n in d.drones.values()):
        raise InputError("Expected at least one drone at some depot", field="depots")
    return tuple(out)


def _zones(value: object) -> tuple[NoFlyZone, ...]:
    if not isinstance(value, list):
        raise InputError("Expected a list of zones", field="nofly")
    out = []
    for i, raw in enumerate(value):
        where = f"zone {i}"
        ring = raw.get("polygon") if isinstance(raw, dict) else None
        if not isinstance(ring, list) or len(ring) < 3 or not all(
                isinstance(p, list) and len(p) == 2 for p in ring):
            raise InputError("Expected at least 3 [lon, lat] vertices", item=where,
                             field="polygon")
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
        out.append(NoFlyZone(name=str(name), polygons=((tuple(points),),), feature_index=i))
    return tuple(out)


def apply_edits(scenario: Scenario, edits: Mapping[str, Any]) -> Scenario:
    """``scenario`` with the map edits applied (each checked)."""
    unknown = set(edits) - EDIT_KEYS
    if unknown:
        raise InputError(f"unknown edit {sorted(unknown)[0]!r}; expected some of "
                         f"{', '.join(sorted(EDIT_KEYS))}", field=sorted(unknown)[0])
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
            raise InputError(f"no drop {missing[0]!r} in the scenario", field="drop_ids")
        changes["drops"] = tuple(d for d in scenario.drops if d.id in set(wanted))
    if "time_limit_s" in edits:
        limit = _number(edits["time_limit_s"], "planner", "time_limit_s")
        if not 0 < limit <= 600:
            raise InputError(f"Expected 0 < time_limit_s <= 600, got {limit}",
                             field="time_limit_s")
        changes["params"] = dataclasses.replace(scenario.params, time_limit_s=limit)
    if "dem" in edits:
        path = scenario.root / str(edits["dem"])
        changes["terrain"] = dataclasses.replace(scenario.terrain, dem_paths=(path,))
    return dataclasses.replace(scenario, **changes)


def load(folder: Path, edits: Mapping[str, Any]) -> tuple[Scenario, Dem]:
    """The scenario of a plan folder with its edits, and its DEM, checked together."""
    try:
        scenario = apply_edits(load_scenario(folder), edits)
        dem = dem_for(tuple(scenario.terrain.dem_paths))
        check_scenario(scenario, dem)
    except InputError as exc:
        raise _relative(exc, folder) from None
    return scenario, dem


def _named_file(folder: Path, kind: str) -> Path:
    """Where the scenario's drops or no-fly file lives (as ``scenario.toml`` names it)."""
    doc = tomllib.loads((folder / "scenario.toml").read_text())
    if kind == "drops":
        return folder / str(doc.get("drops", "drops.csv"))
    nofly = doc.get("airspace", {}).get("nofly")
    if not nofly:
        raise InputError("scenario.toml names no no-fly file; draw zones on the map instead",
                         field="airspace.nofly")
    return folder / str(nofly)


def upload(folder: Path, edits: dict[str, Any], kind: str, filename: str,
           data: bytes) -> dict[str, Any]:
    """Put an uploaded drops CSV, no-fly GeoJSON or DEM into a plan's scenario folder.

    The file is kept only if the scenario still loads with it; otherwise the previous file is
    restored and the error (file, line or feature, field, reason) raised. Returns the edits,
    changed for a DEM.
    """
    if kind not in UPLOAD_KINDS:
        raise InputError(f"Expected one of {', '.join(UPLOAD_KINDS)}, got {kind!r}",
                         field="kind")
    if not data:
        raise InputError("the uploaded file is empty", path=filename)
    new_edits = dict(edits)
    if kind == "dem":
        name = Path(filename).name
        if Path(name).suffix.lower() not in DEM_SUFFIXES or name.startswith("."):
            raise InputError(f"Expected a {', '.join(DEM_SUFFIXES)} file", path=name)
        target = folder / "uploads" / name
        new_edits["dem"] = f"uploads/{name}"
    else:
        target = _named_file(folder, kind)
    backup = target.read_bytes() if target.exists() else None
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    try:
        load(folder, new_edits)
    except InputError:
        if backup is None:
            target.unlink()
        else:
            target.write_bytes(backup)
        raise
    return new_edits
