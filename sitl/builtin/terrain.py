"""The simulated copter's terrain database, kept and fetched as ArduPilot's ``AP_Terrain`` does.

ArduPilot SITL has no elevation model of its own: its simulated ground is flat at the start
(``--home``) altitude until the vehicle holds terrain, which it asks the ground station for
(``TERRAIN_REQUEST``, only while its EXTRA3 stream runs) and then follows:
ground = start altitude + T(here) - T(start), with T the heights the vehicle was served, bilinear
between grid points. :class:`Terrain` does the same, so a ground station that never serves terrain
flies a built-in vehicle over the same flat world as a real one.

The geometry, as ``AP_Terrain::calculate_grid_info`` computes it: blocks of 28 (north) x 32 (east)
points ``TERRAIN_SPACING`` metres apart, 7 x 8 tiles of 4 x 4 points, with corners at whole
degrees stepping 24 spacings north and 28 east (neighbours overlap by one tile). The vehicle keeps
12 blocks in memory (least recently used leaves first) and, like SITL with its ``terrain/*.DAT``
files, keeps every tile it was given to reload a block that left memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

from gcs.mavlink import dialect as mav
from sitl.builtin.params import ParamStore

#: Metres per degE7 of latitude (ArduPilot's LOCATION_SCALING_FACTOR).
M_PER_DEG_E7 = 0.011131884502145034
#: Points of a block (north rows, east columns) and the step between block corners.
BLOCK_ROWS, BLOCK_COLS = 28, 32
BLOCK_STEP_N, BLOCK_STEP_E = 24, 28
#: Tiles of a block (north, east) and points of a tile side.
TILE_ROWS, TILE_COLS, TILE_SIDE = 7, 8, 4
FULL_MASK = (1 << (TILE_ROWS * TILE_COLS)) - 1
#: Blocks held in memory.
CACHE_BLOCKS = 12
#: Data whose corner differs from a block's by more than this (degE7) is not that block's.
LATLON_TOLERANCE_E7 = 5
#: Least time between two requests once the vehicle knows where it is (s of vehicle time);
#: before, it asks at every tick of its EXTRA3 stream (0.25 s at 4 Hz).
REQUEST_PERIOD_S = 2.0
#: Neighbours asked for after the block under the vehicle: offsets of 0.7 block.
_NEIGHBOUR_SHARE = 0.7


class TerrainHost(Protocol):
    """What the terrain database needs of its vehicle: its clock, its parameters
    (``TERRAIN_ENABLE``, ``TERRAIN_SPACING``, ``SIM_TERRAIN``) and its outbox."""

    @property
    def t(self) -> float: ...

    @property
    def params(self) -> ParamStore: ...

    def send(self, msg: Any) -> None: ...


def longitude_scale(lat_e7: float) -> float:
    """ArduPilot's ``Location::longitude_scale``: cos(latitude), at least 0.01."""
    return max(math.cos(math.radians(lat_e7 * 1e-7)), 0.01)


def offset_e7(lat_e7: int, lon_e7: int, north_m: float, east_m: float) -> tuple[int, int]:
    """``Location::offset``: the point ``north_m``, ``east_m`` from a degE7 point (truncated)."""
    dlat = int(north_m / M_PER_DEG_E7)
    dlon = int((east_m / M_PER_DEG_E7) / longitude_scale(lat_e7 + int(dlat / 2)))
    return lat_e7 + dlat, lon_e7 + dlon


@dataclass(frozen=True, slots=True)
class GridInfo:
    """Where a point falls: its block's south-west corner (degE7), the grid point south-west of
    it within the block (``row`` north, ``col`` east) and the fractions towards the next."""

    lat_e7: int
    lon_e7: int
    row: int
    col: int
    frac_n: float
    frac_e: float


def _corner(ref_lat_e7: int, ref_lon_e7: int, block_n: int, block_e: int,
            spacing_m: int, memo: dict[tuple[int, int, int, int, int], tuple[int, int]],
            ) -> tuple[int, int]:
    key = (ref_lat_e7, ref_lon_e7, block_n, block_e, spacing_m)
    corner = memo.get(key)
    if corner is None:
        corner = offset_e7(ref_lat_e7, ref_lon_e7, block_n * BLOCK_STEP_N * float(spacing_m),
                           block_e * BLOCK_STEP_E * float(spacing_m))
        if len(memo) > 4096:
            memo.clear()
        memo[key] = corner
    return corner


_CORNERS: dict[tuple[int, int, int, int, int], tuple[int, int]] = {}


def grid_info(lat_e7: int, lon_e7: int, spacing_m: int) -> GridInfo:
    """``AP_Terrain::calculate_grid_info`` for a point (degE7) and grid spacing (m)."""
    ref_lat = math.floor(lat_e7 / 1e7) * 10_000_000
    ref_lon = math.floor(lon_e7 / 1e7) * 10_000_000
    north = (lat_e7 - ref_lat) * M_PER_DEG_E7
    east = (lon_e7 - ref_lon) * M_PER_DEG_E7 * longitude_scale(int((ref_lat + lat_e7) / 2))
    idx_n, idx_e = int(north / spacing_m), int(east / spacing_m)
    block_n, row = divmod(idx_n, BLOCK_STEP_N)
    block_e, col = divmod(idx_e, BLOCK_STEP_E)
    lat0, lon0 = _corner(ref_lat, ref_lon, block_n, block_e, spacing_m, _CORNERS)
    return GridInfo(lat_e7=lat0, lon_e7=lon0, row=row, col=col,
                    frac_n=(north - idx_n * spacing_m) / spacing_m,
                    frac_e=(east - idx_e * spacing_m) / spacing_m)


def _tile_bit(row: int, col: int) -> int:
    return (row // TILE_SIDE) * TILE_COLS + col // TILE_SIDE


class Block:
    """One block of grid heights (whole metres AMSL) and the tiles of it held."""

    __slots__ = ("bitmap", "heights", "last_access_s", "lat_e7", "lon_e7", "spacing_m")

    def __init__(self, lat_e7: int, lon_e7: int, spacing_m: int) -> None:
        self.lat_e7, self.lon_e7, self.spacing_m = lat_e7, lon_e7, spacing_m
        self.heights = [0] * (BLOCK_ROWS * BLOCK_COLS)
        self.bitmap = 0
        self.last_access_s = 0.0

    @property
    def complete(self) -> bool:
        """Every tile is held."""
        return self.bitmap & FULL_MASK == FULL_MASK

    def matches(self, lat_e7: int, lon_e7: int, spacing_m: int) -> bool:
        """Data for this corner and spacing belongs to this block."""
        return (spacing_m == self.spacing_m and abs(lat_e7 - self.lat_e7) <= LATLON_TOLERANCE_E7
                and abs(lon_e7 - self.lon_e7) <= LATLON_TOLERANCE_E7)

    def height_m(self, info: GridInfo) -> float | None:
        """Bilinear height at a point of this block, None unless all four points are held."""
        r, c = info.row, info.col
        bitmap = self.bitmap
        for dr, dc in ((0, 0), (1, 0), (0, 1), (1, 1)):
            if not bitmap >> _tile_bit(r + dr, c + dc) & 1:
                return None
        h = self.heights
        i = r * BLOCK_COLS + c
        h00, h01, h10, h11 = h[i], h[i + 1], h[i + BLOCK_COLS], h[i + BLOCK_COLS + 1]
        fn, fe = info.frac_n, info.frac_e
        west = (1.0 - fn) * h00 + fn * h10
        east = (1.0 - fn) * h01 + fn * h11
        return (1.0 - fe) * west + fe * east


@dataclass(frozen=True, slots=True, kw_only=True)
class TerrainStats:
    """Tiles held in memory and tiles still wanted (at the present spacing)."""

    loaded: int
    pending: int


class Terrain:
    """The terrain database of one simulated vehicle.

    Parameters
    ----------
    host
        The vehicle: its clock, parameters and outbox.
    start_e7
        Where SITL's ``--home`` puts the vehicle (degE7): the simulated ground is level with it.
    start_alt_m
        The ground's altitude AMSL there (and everywhere the vehicle holds no terrain).
    """

    def __init__(self, host: TerrainHost, start_e7: tuple[int, int], start_alt_m: float) -> None:
        self.host = host
        self.start_e7 = start_e7
        self.start_alt_m = start_alt_m
        self.blocks: list[Block] = []
        #: Every tile ever received, by block: SITL's ``terrain/*.DAT`` files.
        self._disk: dict[tuple[int, int, int], Block] = {}
        self._last_request_s = -math.inf
        self._last_height: float | None = None
        #: Bumped whenever the heights the vehicle holds change.
        self.version = 0
        self._ground_memo: tuple[int, int, int, int, float] | None = None
        self._start_memo: tuple[int, int, float | None] | None = None
        self.tiles_received = 0

    # -- parameters ---------------------------------------------------------------------------
    @property
    def enabled(self) -> bool:
        """TERRAIN_ENABLE."""
        return bool(self.host.params["TERRAIN_ENABLE"] >= 1)

    @property
    def spacing_m(self) -> int:
        """TERRAIN_SPACING (m)."""
        return max(int(self.host.params["TERRAIN_SPACING"]), 1)

    # -- cache --------------------------------------------------------------------------------
    def _find(self, info: GridInfo, spacing_m: int) -> Block:
        """The cached block of ``info`` (created, reloaded from disk or evicting the oldest)."""
        now = self.host.t
        for cached in self.blocks:
            if (cached.lat_e7 == info.lat_e7 and cached.lon_e7 == info.lon_e7
                    and cached.spacing_m == spacing_m):
                cached.last_access_s = now
                return cached
        key = (info.lat_e7, info.lon_e7, spacing_m)
        block = self._disk.get(key)
        if block is None:
            block = self._disk[key] = Block(info.lat_e7, info.lon_e7, spacing_m)
        if len(self.blocks) >= CACHE_BLOCKS:
            oldest = min(self.blocks, key=lambda b: b.last_access_s)
            self.blocks.remove(oldest)
            if oldest.bitmap:
                self.version += 1
        block.last_access_s = now
        self.blocks.append(block)
        if block.bitmap:
            self.version += 1
        return block

    def height_amsl_m(self, lat_e7: int, lon_e7: int) -> float | None:
        """Terrain height at a point from the data held (None without it); queues its block."""
        if not self.enabled:
            return None
        spacing = self.spacing_m
        info = grid_info(lat_e7, lon_e7, spacing)
        return self._find(info, spacing).height_m(info)

    def stats(self) -> TerrainStats:
        """Tiles held and tiles wanted in memory at the present spacing."""
        spacing = self.spacing_m
        loaded = pending = 0
        for block in self.blocks:
            if block.spacing_m != spacing:
                continue
            held = (block.bitmap & FULL_MASK).bit_count()
            loaded += held
            pending += TILE_ROWS * TILE_COLS - held
        return TerrainStats(loaded=loaded, pending=pending)

    # -- the simulated ground -----------------------------------------------------------------
    def ground_alt_m(self, lat_e7: int, lon_e7: int) -> float:
        """SITL's ground AMSL at a point: start altitude + T(here) - T(start), or flat."""
        memo = self._ground_memo
        version = self.version
        if memo is not None and memo[0] == lat_e7 and memo[1] == lon_e7 and memo[2] == version \
                and memo[3] == self.spacing_m:
            return memo[4]
        ground = self.start_alt_m
        if self.host.params["SIM_TERRAIN"] >= 1 and self.enabled:
            start = self._start_height()
            here = self.height_amsl_m(lat_e7, lon_e7)
            if start is not None and here is not None:
                ground = self.start_alt_m + here - start
        self._ground_memo = (lat_e7, lon_e7, self.version, self.spacing_m, ground)
        return ground

    def _start_height(self) -> float | None:
        memo = self._start_memo
        if memo is not None and memo[0] == self.version and memo[1] == self.spacing_m:
            return memo[2]
        height = self.height_amsl_m(*self.start_e7)
        self._start_memo = (self.version, self.spacing_m, height)
        return height

    # -- protocol -----------------------------------------------------------------------------
    def receive(self, msg: Any) -> bool:
        """TERRAIN_DATA: store one tile if a cached block of the present spacing wants it."""
        if not self.enabled or not 0 <= int(msg.gridbit) < TILE_ROWS * TILE_COLS:
            return False
        spacing = int(msg.grid_spacing)
        if spacing != self.spacing_m:
            return False
        lat_e7, lon_e7 = int(msg.lat), int(msg.lon)
        found = next((b for b in self.blocks if b.matches(lat_e7, lon_e7, spacing)), None)
        if found is None:
            return False
        block = found
        bit = int(msg.gridbit)
        row0, col0 = (bit // TILE_COLS) * TILE_SIDE, (bit % TILE_COLS) * TILE_SIDE
        data = msg.data
        heights = block.heights
        for x in range(TILE_SIDE):
            base = (row0 + x) * BLOCK_COLS + col0
            for y in range(TILE_SIDE):
                heights[base + y] = int(data[TILE_SIDE * x + y])
        block.bitmap |= 1 << bit
        self.version += 1
        self.tiles_received += 1
        return True

    def report(self, lat_e7: int, lon_e7: int, *, position: tuple[int, int, float] | None,
               home_e7: tuple[int, int] | None, extrapolate: bool) -> Any:
        """TERRAIN_REPORT about a point, as ``AP_Terrain::send_terrain_report`` fills it.

        ``position`` is the vehicle's (lat, lon degE7, altitude AMSL), None while it does not
        know it; ``home_e7`` its home.
        """
        spacing = 0
        height = 0.0
        current = 0.0
        here = home = None
        if position is not None and home_e7 is not None:
            home = self.height_amsl_m(*home_e7)
            here = self.height_amsl_m(lat_e7, lon_e7)
        if home is not None and here is not None:
            spacing = self.spacing_m
            height = here
        elif extrapolate and self._last_height is not None:
            height = self._last_height
        if position is not None and (spacing or (extrapolate and self._last_height is not None)):
            current = position[2] - height
        if extrapolate and spacing:
            self._last_height = height
        stats = self.stats()
        return mav.MAVLink_terrain_report_message(lat_e7, lon_e7, spacing, height, current,
                                                  min(stats.pending, 65535),
                                                  min(stats.loaded, 65535))

    def stream(self, *, position: tuple[int, int, float] | None,
               home_e7: tuple[int, int] | None) -> None:
        """What the EXTRA3 stream's terrain slot sends: a report and, when due, one request.

        Before the vehicle knows where it is, the report is about lat = lon = 0 and the request
        is for a cached block still incomplete (SITL's ground look-ups cache the start's block),
        every time; after, at most one request every :data:`REQUEST_PERIOD_S`.
        """
        if not self.enabled:
            return
        host = self.host
        if position is None:  # a report about nowhere, and the blocks the simulation looked up
            stats = self.stats()
            host.send(mav.MAVLink_terrain_report_message(0, 0, 0, 0.0, 0.0,
                                                         min(stats.pending, 65535),
                                                         min(stats.loaded, 65535)))
            spacing = self.spacing_m
            block = next((b for b in self.blocks if b.spacing_m == spacing and not b.complete),
                         None)
            if block is not None:
                host.send(self._request(block))
                self._last_request_s = host.t
            return
        host.send(self.report(position[0], position[1], position=position, home_e7=home_e7,
                              extrapolate=True))
        if host.t - self._last_request_s < REQUEST_PERIOD_S - 1e-9:
            return
        request = self._next_request(position[0], position[1])
        if request is not None:
            host.send(request)
            self._last_request_s = host.t

    def _next_request(self, lat_e7: int, lon_e7: int) -> Any:
        """``AP_Terrain::send_request``'s order: the block below, then the blocks 0.7 of a
        block away around it, then any other cached block (queued by TERRAIN_CHECK)."""
        spacing = self.spacing_m
        info = grid_info(lat_e7, lon_e7, spacing)
        here = self._find(info, spacing)
        if not here.complete:
            return self._request(here)
        north_m = BLOCK_ROWS * _NEIGHBOUR_SHARE * spacing
        east_m = BLOCK_COLS * _NEIGHBOUR_SHARE * spacing
        for x in (-1, 0, 1):
            for y in (-1, 0, 1):
                lat2, lon2 = offset_e7(lat_e7, lon_e7, x * north_m, y * east_m)
                block = self._find(grid_info(lat2, lon2, spacing), spacing)
                if not block.complete:
                    return self._request(block)
        for block in self.blocks:
            if block.spacing_m == spacing and not block.complete:
                return self._request(block)
        self._find(info, spacing)  # the block below stays the most recently used
        return None

    @staticmethod
    def _request(block: Block) -> Any:
        return mav.MAVLink_terrain_request_message(block.lat_e7, block.lon_e7, block.spacing_m,
                                                   FULL_MASK & ~block.bitmap)
