"""Reading the no-fly GeoJSON of a scenario.

A FeatureCollection (RFC 7946) of Polygon or MultiPolygon features in WGS84 ``[lon, lat]``; the
``name`` property names the zone (``zone N`` when absent, N being the 0-based index of the feature
in ``features``). Every ring must be closed, hold at least 4 positions and every polygon must be
valid in the OGC sense (no self-intersection, holes inside their shell).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shapely.geometry import MultiPolygon, Polygon
from shapely.validation import explain_validity

from planner.errors import ScenarioError
from planner.scenario import NoFlyZone, check_name

Ring = tuple[tuple[float, float], ...]
Rings = tuple[Ring, ...]
_WHERE = re.compile(r"^(.*)\[(\S+) (\S+)\]$")


@dataclass(frozen=True, slots=True, kw_only=True)
class _Feature:
    path: Path
    index: int
    name: str | None

    def error(self, reason: str, field: str | None = "geometry") -> ScenarioError:
        named = f" ('{self.name}')" if self.name else ""
        return ScenarioError(reason, path=self.path, item=f"feature {self.index}{named}",
                             field=field)


def _explain(geom: Any) -> str:
    """Shapely's validity reason with its location spelt as lon/lat."""
    reason = str(explain_validity(geom))
    match = _WHERE.match(reason)
    if match is None:
        return reason
    return f"{match.group(1)} at lon {match.group(2)}, lat {match.group(3)}"


def _position(value: object, where: _Feature, label: str) -> tuple[float, float]:
    ok = (isinstance(value, list) and len(value) in (2, 3)
          and all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                  for v in value))
    if not ok:
        raise where.error(f"{label}: Expected a position [lon, lat], got {value!r}")
    lon, lat = float(value[0]), float(value[1])  # type: ignore[index]
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise where.error(f"{label}: Expected [lon, lat] with lon in [-180, 180] and lat in "
                          f"[-90, 90], got {value!r}")
    return lon, lat


def _ring(value: object, where: _Feature, label: str) -> Ring:
    if not isinstance(value, list):
        raise where.error(f"{label}: Expected an array of positions, got {value!r}")
    points = tuple(_position(p, where, f"{label} position {i}") for i, p in enumerate(value))
    if len(points) < 4:
        raise where.error(f"{label}: Expected at least 4 positions (a closed ring), "
                          f"got {len(points)}")
    if points[0] != points[-1]:
        raise where.error(f"{label} is not closed: Expected the last position to repeat the "
                          f"first {list(points[0])}, got {list(points[-1])}")
    return points


def _polygon(value: object, where: _Feature, label: str) -> Rings:
    if not isinstance(value, list) or not value:
        raise where.error(f"{label}: Expected a non-empty array of rings, got {value!r}")
    rings = tuple(_ring(r, where, f"{label} ring {i}") for i, r in enumerate(value))
    shape = Polygon(rings[0], rings[1:])
    if not shape.is_valid:
        raise where.error(f"{label} is invalid: {_explain(shape)}")
    return rings


def _zone(feature: object, index: int, path: Path) -> NoFlyZone:
    where = _Feature(path=path, index=index, name=None)
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise where.error(f"Expected a GeoJSON Feature object, got {str(feature)[:60]}", None)
    props = feature.get("properties")
    if props is not None and not isinstance(props, dict):
        raise where.error(f"Expected properties to be an object, got {props!r}", "properties")
    name = (props or {}).get("name")
    if name is not None and not isinstance(name, str):
        raise where.error(f"Expected a string, got {name!r}", "name")
    if name is not None:
        try:
            check_name("name", name)
        except ValueError as err:
            raise where.error(str(err), "name") from None
    where = _Feature(path=path, index=index, name=name)
    geometry = feature.get("geometry")
    if not isinstance(geometry, dict) or geometry.get("type") not in ("Polygon", "MultiPolygon"):
        got = ("no geometry" if geometry is None else
               f"a {geometry.get('type')} geometry" if isinstance(geometry, dict) else
               repr(geometry))
        raise where.error(f"Expected a Polygon or MultiPolygon geometry, got {got}")
    kind = geometry["type"]
    coords = geometry.get("coordinates")
    if kind == "Polygon":
        polygons: tuple[Rings, ...] = (_polygon(coords, where, "polygon"),)
    else:
        if not isinstance(coords, list) or not coords:
            raise where.error(f"Expected a non-empty array of polygons, got {coords!r}")
        polygons = tuple(_polygon(p, where, f"polygon {i}") for i, p in enumerate(coords))
        multi = MultiPolygon([Polygon(p[0], p[1:]) for p in polygons])
        if not multi.is_valid:
            raise where.error(f"MultiPolygon is invalid: {_explain(multi)}")
    return NoFlyZone(name=name or f"zone {index}", polygons=polygons, feature_index=index)


def read_nofly(path: Path) -> tuple[NoFlyZone, ...]:
    """Read and check the no-fly zones of a GeoJSON FeatureCollection.

    Parameters
    ----------
    path
        The GeoJSON file.

    Returns
    -------
    tuple of NoFlyZone
        One per feature, in file order, each with its ``feature_index``.

    Raises
    ------
    ScenarioError
        Naming the file and the feature (0-based index into ``features`` and its name) with
        the reason; JSON syntax errors name the line and column.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ScenarioError("no-fly file not found", path=path) from None
    except (OSError, UnicodeDecodeError) as err:
        raise ScenarioError(f"cannot read no-fly file: {err}", path=path) from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise ScenarioError(f"not valid JSON: {err.msg} (column {err.colno})", path=path,
                            line=err.lineno) from None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        got = doc.get("type") if isinstance(doc, dict) else type(doc).__name__
        raise ScenarioError(f"Expected a GeoJSON FeatureCollection, got {got!r}", path=path,
                            field="type")
    features = doc.get("features")
    if not isinstance(features, list):
        raise ScenarioError(f"Expected 'features' to be an array, got {features!r}", path=path,
                            field="features")
    return tuple(_zone(f, i, path) for i, f in enumerate(features))
