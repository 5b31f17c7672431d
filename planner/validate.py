"""Checks of a loaded scenario that need the elevation model or zone geometry.

The loader (:mod:`planner.io.scenario`) checks each file on its own; these checks relate the
files to each other. Drops that no drone can serve (too heavy, out of range, inside or walled in
by no-fly zones) are not errors: the planner reports them as unserved, with a reason.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from shapely.geometry import Point, Polygon

from planner.errors import ScenarioError
from planner.geo import LocalProjection
from planner.scenario import SCENARIO_FILE, NoFlyZone, Scenario
from planner.terrain import Dem


def _outside(dem: Dem, lat_deg: float, lon_deg: float) -> str | None:
    """Why a point is not covered by ``dem``, or None when it is."""
    if bool(dem.covers(lon_deg, lat_deg)):
        return None
    west, south, east, north = dem.bounds_deg
    reason = (f"lat_deg {lat_deg}, lon_deg {lon_deg} lies outside the elevation model "
              f"(lat {south:g}..{north:g}, lon {west:g}..{east:g}): Expected a point the DEM "
              f"covers")
    if bool(dem.covers(lat_deg, lon_deg)):
        reason += "; lat_deg and lon_deg look swapped"
    return reason


def check_coverage(scenario: Scenario, dem: Dem, *, drops_path: Path | None = None) -> None:
    """Raise unless every depot and drop of ``scenario`` lies inside the elevation model.

    Parameters
    ----------
    scenario
        A loaded scenario.
    dem
        Its elevation model.
    drops_path
        The drops CSV to name in errors; defaults to ``drops.csv`` in the scenario folder.

    Raises
    ------
    ScenarioError
        For the first depot (naming ``scenario.toml`` and its ``[[depot]]`` line) or drop (naming
        its CSV line) outside the model, saying when swapping lat_deg and lon_deg would put the
        point inside.

    Examples
    --------
    >>> import numpy as np
    >>> from pathlib import Path
    >>> from planner.scenario import Depot, Drop, Scenario, TerrainConfig
    >>> from planner.terrain import Dem, DemTile
    >>> dem = Dem(tiles=(DemTile(heights_m=np.zeros((2, 2)), west_deg=-72.0, north_deg=45.0,
    ...                          dlon_deg=1.0, dlat_deg=1.0),))
    >>> s = Scenario(name="s", root=Path("s"), terrain=TerrainConfig(dem_paths=(Path("t"),)),
    ...     nofly=(), buffer_m=50.0, drone_types={},
    ...     depots=(Depot(id="d", lat_deg=44.3, lon_deg=-71.8, drones={"q": 1}),),
    ...     drops=(Drop(id="a", lat_deg=-71.5, lon_deg=44.5, weight_kg=1.0, line=2),))
    >>> check_coverage(s, dem)
    Traceback (most recent call last):
    ...
    planner.errors.ScenarioError: s/drops.csv:2, drop 'a', field 'lat_deg': lat_deg -71.5, \
lon_deg 44.5 lies outside the elevation model (lat 44..45, lon -72..-71): Expected a point the \
DEM covers; lat_deg and lon_deg look swapped
    """
    for depot in scenario.depots:
        reason = _outside(dem, depot.lat_deg, depot.lon_deg)
        if reason is not None:
            raise ScenarioError(reason, path=scenario.root / SCENARIO_FILE, line=depot.line,
                                item=f"depot '{depot.id}'", field="lat_deg")
    csv_path = drops_path or scenario.drops_path or scenario.root / "drops.csv"
    for drop in scenario.drops:
        reason = _outside(dem, drop.lat_deg, drop.lon_deg)
        if reason is not None:
            raise ScenarioError(reason, path=csv_path, line=drop.line,
                                item=f"drop '{drop.id}'", field="lat_deg")


def _zone_distance_m(zone: NoFlyZone, proj: LocalProjection) -> float:
    """Distance in metres from the projection centre to the zone (0 inside it)."""
    best = math.inf
    for rings in zone.polygons:
        xy_rings = []
        for ring in rings:
            lon, lat = np.asarray(ring, dtype=float).T
            x, y = proj.to_xy(lon, lat)
            xy_rings.append(list(zip(x.tolist(), y.tolist(), strict=True)))
        best = min(best, float(Polygon(xy_rings[0], xy_rings[1:]).distance(Point(0.0, 0.0))))
    return best


def check_depots_clear(scenario: Scenario) -> None:
    """Raise when a depot lies inside a no-fly zone or within ``buffer_m`` of one.

    Parameters
    ----------
    scenario
        A loaded scenario.

    Raises
    ------
    ScenarioError
        Naming ``scenario.toml``, the depot's line, the zone and its GeoJSON feature index.
    """
    for depot in scenario.depots:
        proj = LocalProjection(lat0_deg=depot.lat_deg, lon0_deg=depot.lon_deg)
        for zone in scenario.nofly:
            dist_m = _zone_distance_m(zone, proj)
            if dist_m <= scenario.buffer_m:
                where = "inside" if dist_m == 0 else f"{dist_m:.0f} m from"
                feature = "" if zone.feature_index is None else \
                    f" (feature {zone.feature_index})"
                raise ScenarioError(
                    f"the depot lies {where} no-fly zone '{zone.name}'{feature}: Expected it "
                    f"more than buffer_m = {scenario.buffer_m:g} m away from every zone",
                    path=scenario.root / SCENARIO_FILE, line=depot.line,
                    item=f"depot '{depot.id}'", field="lat_deg")


def check_scenario(scenario: Scenario, dem: Dem, *, drops_path: Path | None = None) -> None:
    """Run :func:`check_coverage` and :func:`check_depots_clear`.

    Parameters
    ----------
    scenario
        A loaded scenario.
    dem
        Its elevation model.
    drops_path
        The drops CSV to name in errors; defaults to ``drops.csv`` in the scenario folder.
    """
    check_coverage(scenario, dem, drops_path=drops_path)
    check_depots_clear(scenario)
