"""Geodesy of the shared data model: WGS84 ellipsoid distances and local metric projections.

Points are given latitude first (as MAVLink and the scenario files do); projections take and
return ``x`` (east) before ``y`` (north), so their WGS84 side is longitude first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pyproj
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]

#: The WGS84 ellipsoid, for geodesics (distance, azimuth, points along them).
WGS84_GEOD = pyproj.Geod(ellps="WGS84")


def geodesic_distance_m(lat1_deg: float, lon1_deg: float, lat2_deg: float,
                        lon2_deg: float) -> float:
    """Geodesic distance in metres between two WGS84 points, on the ellipsoid.

    Parameters
    ----------
    lat1_deg, lon1_deg
        First point, WGS84 degrees.
    lat2_deg, lon2_deg
        Second point, WGS84 degrees.

    Returns
    -------
    float
        The length of the shortest path on the WGS84 ellipsoid.

    Examples
    --------
    >>> round(geodesic_distance_m(44.0, -71.0, 45.0, -71.0))
    111122
    """
    return float(WGS84_GEOD.inv(lon1_deg, lat1_deg, lon2_deg, lat2_deg)[2])


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalProjection:
    """An azimuthal equidistant projection centred on the scenario.

    ``x_m`` is metres east and ``y_m`` metres north of (``lat0_deg``, ``lon0_deg``). Distances
    from the centre are exact; over 100 km the scale error stays below 1e-4.

    Examples
    --------
    >>> proj = LocalProjection(lat0_deg=44.5, lon0_deg=-71.5)
    >>> x, y = proj.to_xy([-71.5], [44.5])
    >>> float(x[0]), float(y[0])
    (0.0, 0.0)
    """

    lat0_deg: float
    lon0_deg: float
    _fwd: pyproj.Transformer = field(init=False, repr=False, compare=False)
    _inv: pyproj.Transformer = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        crs = pyproj.CRS.from_proj4(
            f"+proj=aeqd +lat_0={self.lat0_deg} +lon_0={self.lon0_deg} +datum=WGS84 +units=m"
        )
        object.__setattr__(
            self, "_fwd", pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True))
        object.__setattr__(
            self, "_inv", pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True))

    @classmethod
    def around(cls, lat_deg: Iterable[float], lon_deg: Iterable[float]) -> LocalProjection:
        """Centre a projection on the middle of the bounding box of the given points."""
        lats = np.asarray(list(lat_deg), dtype=float)
        lons = np.asarray(list(lon_deg), dtype=float)
        return cls(lat0_deg=float((lats.min() + lats.max()) / 2),
                   lon0_deg=float((lons.min() + lons.max()) / 2))

    def to_xy(self, lon_deg: ArrayLike, lat_deg: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Project WGS84 (lon, lat) degrees to local (x_m east, y_m north)."""
        x, y = self._fwd.transform(np.asarray(lon_deg, float), np.asarray(lat_deg, float))
        return np.asarray(x, dtype=float), np.asarray(y, dtype=float)

    def to_lonlat(self, x_m: ArrayLike, y_m: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Unproject local metres back to WGS84 (lon_deg, lat_deg)."""
        lon, lat = self._inv.transform(np.asarray(x_m, float), np.asarray(y_m, float))
        return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
