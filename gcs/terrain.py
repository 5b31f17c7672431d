"""Terrain server: the vehicle's TERRAIN_REQUESTs answered from the scenario's elevation model.

ArduPilot keeps a grid of terrain heights around itself and asks the ground station for the
blocks it lacks (TERRAIN_REQUEST, only while its EXTRA3 stream runs); QGroundControl and Mission
Planner answer from their own elevation data, and so does :class:`TerrainServer`, from the
planner's :class:`~planner.terrain.Dem`. Without the data ArduPilot SITL's simulated ground is
flat at home altitude, so a mission that goes below home over a valley flies into it.

The protocol, as ArduCopter speaks it:

- ``TERRAIN_REQUEST(lat, lon, grid_spacing, mask)``: ``lat``/``lon`` (degE7) is the south-west
  corner of one block of 28 x 32 points (7 x 8 tiles of 4 x 4 points, ``grid_spacing`` metres
  apart); ``mask`` has one bit per tile still wanted (bits 0..55).
- Every set bit ``b`` is answered with ``TERRAIN_DATA(lat, lon, grid_spacing, gridbit=b, data)``
  whose ``data[4 * x + y]`` is the height (int16 metres AMSL) of the point
  ``(4 * (b // 8) + x) * spacing`` north and ``(4 * (b % 8) + y) * spacing`` east of the corner.
- There is no acknowledgement: the vehicle asks again for the bits it still lacks, so answering
  every request in full (stateless) is enough.
- ``TERRAIN_CHECK(lat, lon)`` makes the vehicle answer with a ``TERRAIN_REPORT`` for that point
  and queue its block for download: checks at a mission's far points prefetch their terrain.

Tiles with a point the elevation model does not cover are not answered (the vehicle keeps
asking and reports them pending): a vehicle is never given invented heights.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from gcs import mavlink as mav
from gcs.link import Link, Message
from planner.terrain import Dem

log = logging.getLogger(__name__)
_D = mav.dialect

#: Metres per degE7 of latitude (ArduPilot's LOCATION_SCALING_FACTOR).
M_PER_DEG_E7 = 0.011131884502145034
#: Tiles in a block: 7 rows (north) x 8 columns (east) of 4 x 4 points.
TILE_ROWS, TILE_COLS, TILE_POINTS = 7, 8, 4
#: ArduPilot's default ``TERRAIN_SPACING`` (m).
DEFAULT_SPACING_M = 100
#: Rate (Hz of vehicle time) asked for the EXTRA3 stream that carries TERRAIN_REQUEST.
EXTRA3_RATE_HZ = 4
#: Blocks a server keeps looked up (vehicles ask for the same blocks again and again).
BLOCK_CACHE = 256
_INT16 = (-32768, 32767)


@dataclass(frozen=True, slots=True, kw_only=True)
class TerrainReport:
    """A vehicle's TERRAIN_REPORT: what it knows of the terrain at ``lat_deg``/``lon_deg``.

    ``spacing_m`` is 0 when the vehicle has no data there; ``terrain_height_amsl_m`` is the
    ground's height above mean sea level there; ``current_height_m`` the vehicle's height above
    that ground; ``pending_tiles`` and ``loaded_tiles`` count the 4 x 4 tiles still wanted and
    held in the vehicle's memory.
    """

    lat_deg: float
    lon_deg: float
    spacing_m: int
    terrain_height_amsl_m: float
    current_height_m: float
    pending_tiles: int
    loaded_tiles: int

    @property
    def has_data(self) -> bool:
        """The vehicle holds terrain at the reported point (a vehicle that does not know where
        it is yet reports spacing but lat = lon = 0 and height 0)."""
        return self.spacing_m > 0 and (self.lat_deg != 0.0 or self.lon_deg != 0.0)

    @classmethod
    def from_message(cls, msg: Message) -> TerrainReport:
        """The report a TERRAIN_REPORT message carries."""
        return cls(lat_deg=msg.lat * 1e-7, lon_deg=msg.lon * 1e-7, spacing_m=int(msg.spacing),
                   terrain_height_amsl_m=float(msg.terrain_height),
                   current_height_m=float(msg.current_height), pending_tiles=int(msg.pending),
                   loaded_tiles=int(msg.loaded))


def tile_points_deg(lat_e7: int, lon_e7: int, spacing_m: float,
                    gridbit: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Latitudes and longitudes (degrees) of the 16 points of tile ``gridbit`` of a block.

    Element ``4 * x + y`` is the point ``x`` rows north and ``y`` columns east of the tile's
    south-west point, as ``TERRAIN_DATA.data`` orders them. Offsets are turned into degrees as
    ArduPilot's ``Location::offset`` does: north by the latitude scale, east by the longitude
    scale at the latitude midway along the offset.
    """
    if not 0 <= gridbit < TILE_ROWS * TILE_COLS:
        raise ValueError(f"Expected gridbit in 0..55, got {gridbit}")
    x, y = np.divmod(np.arange(16), TILE_POINTS)
    north_m = (TILE_POINTS * (gridbit // TILE_COLS) + x) * float(spacing_m)
    east_m = (TILE_POINTS * (gridbit % TILE_COLS) + y) * float(spacing_m)
    dlat_e7 = north_m / M_PER_DEG_E7
    mid_lat = np.radians((lat_e7 + dlat_e7 / 2.0) * 1e-7)
    dlon_e7 = east_m / (M_PER_DEG_E7 * np.maximum(np.cos(mid_lat), 0.01))
    return (lat_e7 + dlat_e7) * 1e-7, (lon_e7 + dlon_e7) * 1e-7


def tile_heights_m(dem: Dem, lat_e7: int, lon_e7: int, spacing_m: float,
                   gridbit: int) -> list[int] | None:
    """The 16 heights (whole metres AMSL) of one tile, or None where the DEM lacks a point."""
    lat, lon = tile_points_deg(lat_e7, lon_e7, spacing_m, gridbit)
    heights = dem.elevation_amsl_m(lon, lat)
    if not np.all(np.isfinite(heights)):
        return None
    return [int(h) for h in np.clip(np.rint(heights), *_INT16)]


def block_heights_m(dem: Dem, lat_e7: int, lon_e7: int, spacing_m: float) -> NDArray[np.float64]:
    """Heights (m AMSL, NaN outside the DEM) of a whole block's 28 x 32 points, row = north.

    The points of :func:`tile_points_deg`, all looked up at once: tile ``b`` is rows
    ``4 * (b // 8)`` and columns ``4 * (b % 8)`` onwards.
    """
    rows, cols = np.mgrid[0:TILE_ROWS * TILE_POINTS, 0:TILE_COLS * TILE_POINTS]
    dlat_e7 = rows * float(spacing_m) / M_PER_DEG_E7
    mid_lat = np.radians((lat_e7 + dlat_e7 / 2.0) * 1e-7)
    dlon_e7 = cols * float(spacing_m) / (M_PER_DEG_E7 * np.maximum(np.cos(mid_lat), 0.01))
    heights = dem.elevation_amsl_m((lon_e7 + dlon_e7) * 1e-7, (lat_e7 + dlat_e7) * 1e-7)
    return np.asarray(heights, dtype=np.float64)


def mask_bits(mask: int) -> list[int]:
    """The tile numbers (0..55) set in a TERRAIN_REQUEST mask."""
    return [b for b in range(TILE_ROWS * TILE_COLS) if mask >> b & 1]


def request_terrain_streams(link: Link, sysid: int, rate_hz: int = EXTRA3_RATE_HZ) -> None:
    """Ask the vehicle for its EXTRA3 stream: it sends TERRAIN_REQUEST only while that runs."""
    link.send(link.mav.request_data_stream_encode(sysid, 0, _D.MAV_DATA_STREAM_EXTRA3,
                                                  rate_hz, 1))


def send_checks(link: Link, points_deg: Iterable[tuple[float, float]]) -> int:
    """Send a TERRAIN_CHECK for every ``(lat_deg, lon_deg)``; the number sent.

    The vehicle answers each with a TERRAIN_REPORT and queues the point's block for download.
    """
    sent = 0
    for lat_deg, lon_deg in points_deg:
        link.send(link.mav.terrain_check_encode(round(lat_deg * 1e7), round(lon_deg * 1e7)))
        sent += 1
    return sent


@dataclass(frozen=True, slots=True, kw_only=True)
class TerrainStats:
    """What a server has done: requests answered, tiles sent, tiles it could not fill."""

    requests: int
    tiles_sent: int
    tiles_missing: int


class TerrainServer:
    """Answers every vehicle's TERRAIN_REQUEST on the attached links from ``dem``.

    Requests are taken from the links' reader threads and answered from a thread of its own.
    The first heartbeat of each vehicle makes it ask for the vehicle's EXTRA3 stream.
    Close it (or use ``with``) to stop the thread.
    """

    def __init__(self, dem: Dem) -> None:
        self._dem = dem
        self._queue: queue.Queue[tuple[Link, Message] | None] = queue.Queue()
        self._queued: set[tuple[str, int, int, int, int]] = set()
        self._lock = threading.Lock()
        self._links: list[tuple[Link, Callable[[Message], None]]] = []
        self._closed = False
        self._vehicles: set[tuple[str, int]] = set()
        self._requests = self._sent = self._missing = 0
        self._blocks: dict[tuple[int, int, int], NDArray[np.float64]] = {}
        self._thread = threading.Thread(target=self._serve, daemon=True, name="terrain-server")
        self._thread.start()

    @property
    def dem(self) -> Dem:
        """The elevation model answered from."""
        return self._dem

    @dem.setter
    def dem(self, dem: Dem) -> None:
        with self._lock:
            self._dem = dem
            self._blocks = {}

    def attach(self, link: Link) -> None:
        """Answer the vehicles of ``link`` from now on."""
        def listener(msg: Message) -> None:
            self._on_message(link, msg)

        with self._lock:
            if self._closed or any(known is link for known, _ in self._links):
                return
            self._links.append((link, listener))
        link.add_listener(listener)

    @property
    def stats(self) -> TerrainStats:
        """Requests answered and tiles sent so far."""
        with self._lock:
            return TerrainStats(requests=self._requests, tiles_sent=self._sent,
                                tiles_missing=self._missing)

    def _on_message(self, link: Link, msg: Message) -> None:
        kind = msg.get_type()
        sysid = msg.get_srcSystem()
        if sysid == link.source_system:
            return
        if kind == "TERRAIN_REQUEST":
            key = (link.url, int(msg.lat), int(msg.lon), int(msg.grid_spacing), int(msg.mask))
            with self._lock:
                if key in self._queued:
                    return
                self._queued.add(key)
            self._queue.put((link, msg))
        elif kind == "HEARTBEAT" and msg.type != _D.MAV_TYPE_GCS and \
                msg.autopilot != _D.MAV_AUTOPILOT_INVALID:
            with self._lock:
                new = (link.url, sysid) not in self._vehicles
                self._vehicles.add((link.url, sysid))
            if new:
                self._queue.put((link, msg))

    def _serve(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            link, msg = job
            try:
                if msg.get_type() == "HEARTBEAT":
                    request_terrain_streams(link, msg.get_srcSystem())
                else:
                    self._answer(link, msg)
            except Exception:  # the server must outlive one bad request
                log.exception("terrain: %s not answered", msg.get_type())

    def _answer(self, link: Link, msg: Message) -> None:
        lat_e7, lon_e7 = int(msg.lat), int(msg.lon)
        spacing, mask = int(msg.grid_spacing), int(msg.mask)
        with self._lock:
            self._queued.discard((link.url, lat_e7, lon_e7, spacing, mask))
        if spacing <= 0:
            return
        sent = missing = 0
        block = self._block(lat_e7, lon_e7, spacing)
        for bit in mask_bits(mask):
            row, col = TILE_POINTS * (bit // TILE_COLS), TILE_POINTS * (bit % TILE_COLS)
            tile = block[row:row + TILE_POINTS, col:col + TILE_POINTS]
            if not np.all(np.isfinite(tile)):
                missing += 1
                continue
            heights = [int(h) for h in np.clip(np.rint(tile), *_INT16).ravel()]
            try:
                link.send(link.mav.terrain_data_encode(lat_e7, lon_e7, spacing, bit, heights))
            except AttributeError:  # the link was closed meanwhile
                return
            sent += 1
        with self._lock:
            self._requests += 1
            self._sent += sent
            self._missing += missing
        if missing:
            log.info("terrain: %d tiles of block %.4f, %.4f outside the DEM", missing,
                     lat_e7 * 1e-7, lon_e7 * 1e-7)

    def _block(self, lat_e7: int, lon_e7: int, spacing_m: int) -> NDArray[np.float64]:
        """The heights of a block, looked up once (see :data:`BLOCK_CACHE`)."""
        key = (lat_e7, lon_e7, spacing_m)
        with self._lock:
            dem, blocks = self._dem, self._blocks
        block = blocks.get(key)
        if block is None:
            block = block_heights_m(dem, lat_e7, lon_e7, spacing_m)
            if len(blocks) >= BLOCK_CACHE:
                blocks.clear()
            blocks[key] = block  # a model switched meanwhile has a new cache
        return block

    def close(self) -> None:
        """Stop answering (and listening to the links)."""
        with self._lock:
            self._closed = True
            links, self._links = self._links, []
        for link, listener in links:
            link.remove_listener(listener)
        self._queue.put(None)
        self._thread.join(timeout=2.0)

    def __enter__(self) -> TerrainServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def leg_points_deg(points_deg: Sequence[tuple[float, float]],
                   step_m: float = 1000.0) -> list[tuple[float, float]]:
    """The points of a path and points every ``step_m`` along its legs (to check terrain at).

    Blocks are about 2.7 km across at the default spacing, so checks every kilometre reach every
    block a leg crosses.
    """
    out: list[tuple[float, float]] = []
    for i, (lat, lon) in enumerate(points_deg):
        if i > 0:
            lat0, lon0 = points_deg[i - 1]
            north = (lat - lat0) * 111_320.0
            east = (lon - lon0) * 111_320.0 * math.cos(math.radians((lat + lat0) / 2))
            n = max(math.ceil(math.hypot(north, east) / step_m) - 1, 0)
            out.extend((lat0 + (lat - lat0) * k / (n + 1), lon0 + (lon - lon0) * k / (n + 1))
                       for k in range(1, n + 1))
        out.append((lat, lon))
    return out
