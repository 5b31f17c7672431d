"""Mission, fence and rally storage with ArduPilot's item conversions.

Items are stored the way AP_Mission, AC_PolyFence_loader and AP_Rally store them, so that a
download returns what ArduCopter returns: home as item 0, GLOBAL_RELATIVE_ALT_INT (6) stored as
GLOBAL_RELATIVE_ALT (3), commands without a location at frame 0 and 0/0/0, altitudes in whole
centimetres, parameters truncated to their storage types, NAV_LAND param4 1.0 and fence/rally
items with ``autocontinue`` 0.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

from gcs.mavlink import dialect as mav

MISSION, FENCE, RALLY = 0, 1, 2

#: Largest item counts accepted per type (SITL storage sizes).
MAX_ITEMS = {MISSION: 700, FENCE: 200, RALLY: 100}

#: Commands carrying a location in AP_Mission storage.
_LOCATION_CMDS = frozenset({16, 17, 18, 19, 21, 22, 31, 82, 94, 179, 189, 201})
#: Commands the simulated ArduCopter accepts in a mission.
MISSION_CMDS = frozenset({16, 17, 19, 20, 21, 22, 93, 94, 112, 177, 178, 179, 183, 189, 207, 211,
                          42600})
FENCE_CMDS = frozenset({5001, 5002, 5003, 5004})
RALLY_CMDS = frozenset({5100})
_RELATIVE_FRAMES = frozenset({3, 6})
_TERRAIN_FRAMES = frozenset({10, 11})
_ABSOLUTE_FRAMES = frozenset({0, 2, 5})

_F32 = struct.Struct("<f")

UNSUPPORTED = int(mav.MAV_MISSION_UNSUPPORTED)
UNSUPPORTED_FRAME = int(mav.MAV_MISSION_UNSUPPORTED_FRAME)
INVALID_PARAM1 = int(mav.MAV_MISSION_INVALID_PARAM1)
INVALID_X = int(mav.MAV_MISSION_INVALID_PARAM5_X)
INVALID_Y = int(mav.MAV_MISSION_INVALID_PARAM6_Y)


def f32(x: float) -> float:
    """``x`` rounded to a 32-bit float, as the autopilot stores it."""
    return float(_F32.unpack(_F32.pack(x))[0])


def _trunc(x: float, low: int, high: int) -> int:
    """C float-to-integer conversion (towards zero), clamped to the type's range."""
    return max(low, min(high, int(x)))


@dataclass(frozen=True, slots=True)
class StoredItem:
    """One item as the vehicle stores and returns it (MISSION_ITEM_INT fields)."""

    command: int
    frame: int
    param1: float
    param2: float
    param3: float
    param4: float
    x: int
    y: int
    z: float
    autocontinue: int = 1

    @property
    def lat_deg(self) -> float:
        """Latitude in degrees."""
        return self.x / 1e7

    @property
    def lon_deg(self) -> float:
        """Longitude in degrees."""
        return self.y / 1e7

    @property
    def relative(self) -> bool:
        """Altitude above home."""
        return self.frame == 3

    @property
    def terrain(self) -> bool:
        """Altitude above terrain."""
        return self.frame == 10

    @property
    def has_location(self) -> bool:
        """True when lat/lon are set (0/0 means "here")."""
        return not (self.x == 0 and self.y == 0)


@dataclass(frozen=True, slots=True)
class IncomingItem:
    """The fields of a received MISSION_ITEM or MISSION_ITEM_INT (lat/lon in 1e-7 degrees)."""

    seq: int
    command: int
    frame: int
    param1: float
    param2: float
    param3: float
    param4: float
    x: int
    y: int
    z: float
    autocontinue: int
    mission_type: int

    @classmethod
    def from_message(cls, msg: object) -> IncomingItem:
        """From MISSION_ITEM_INT or MISSION_ITEM (float degrees)."""
        m = msg
        if m.get_type() == "MISSION_ITEM":  # type: ignore[attr-defined]
            x, y = int(m.x * 1e7), int(m.y * 1e7)  # type: ignore[attr-defined]
        else:
            x, y = int(m.x), int(m.y)  # type: ignore[attr-defined]
        return cls(m.seq, m.command, m.frame, m.param1, m.param2,  # type: ignore[attr-defined]
                   m.param3, m.param4, x, y, float(m.z),  # type: ignore[attr-defined]
                   m.autocontinue, getattr(m, "mission_type", 0))  # type: ignore[attr-defined]


def convert_item(item: IncomingItem) -> StoredItem | int:
    """Store an incoming item as ArduCopter would, or return a MAV_MISSION_RESULT error."""
    if item.mission_type == FENCE:
        return _convert_fence(item)
    if item.mission_type == RALLY:
        return _convert_rally(item)
    cmd = item.command
    if cmd not in MISSION_CMDS:
        return UNSUPPORTED
    p1, p2, p3, p4 = f32(item.param1), f32(item.param2), f32(item.param3), f32(item.param4)
    out = [0.0, 0.0, 0.0, 0.0]
    if cmd == 16:
        out[0] = _trunc(p1, 0, 65535)
    elif cmd == 17:
        out[2] = float(abs(_trunc(p3, -65535, 65535))) * (-1.0 if p3 < 0 else 1.0)
    elif cmd == 19:
        out[0] = _trunc(p1, 0, 65535)
        out[2] = -1.0 if p3 < 0 else 1.0
        out[3] = 1.0 if p4 > 0 else 0.0
    elif cmd == 21:
        out[0] = _trunc(p1, 0, 65535)
        out[3] = -1.0 if p4 < 0 else 1.0
    elif cmd in (22, 207, 179):
        out[0] = _trunc(p1, 0, 65535)
    elif cmd == 93:
        out = [p1, float(_trunc(p2, -128, 127)), float(_trunc(p3, -128, 127)),
               float(_trunc(p4, -128, 127))]
    elif cmd == 94:
        out[0] = _trunc(p1 * 100.0, 0, 65535) / 100.0
    elif cmd == 112:
        out[0] = p1
    elif cmd == 177:
        out[0] = _trunc(p1, 0, 65535)
        out[1] = _trunc(p2, -32768, 32767)
    elif cmd == 178:
        out = [float(_trunc(p1, 0, 255)), p2, p3, 0.0]
    elif cmd == 183:
        out = [float(_trunc(p1, 0, 255)), float(_trunc(p2, 0, 65535)), 0.0, 0.0]
    elif cmd == 211:
        out = [float(_trunc(p1, 0, 255)), float(_trunc(p2, 0, 255)), 0.0, 0.0]
    elif cmd == 42600:
        out = [float(_trunc(p1, 0, 255)), float(_trunc(p2, 0, 255)), p3, p4]
    if cmd not in _LOCATION_CMDS:
        return StoredItem(cmd, 0, out[0], out[1], out[2], out[3], 0, 0, 0.0)
    if item.frame in _RELATIVE_FRAMES:
        frame = 3
    elif item.frame in _TERRAIN_FRAMES:
        frame = 10
    elif item.frame in _ABSOLUTE_FRAMES:
        frame = 0
    else:
        return UNSUPPORTED_FRAME
    if not -900_000_000 <= item.x <= 900_000_000:
        return INVALID_X
    if not -1_800_000_000 <= item.y <= 1_800_000_000:
        return INVALID_Y
    alt_cm = _trunc(f32(f32(item.z) * 100.0), -(2**31), 2**31 - 1)
    return StoredItem(cmd, frame, out[0], out[1], out[2], out[3], item.x, item.y, alt_cm * 0.01)


def _convert_fence(item: IncomingItem) -> StoredItem | int:
    if item.command not in FENCE_CMDS:
        return UNSUPPORTED
    if item.frame not in (0, 3, 5, 6):
        return UNSUPPORTED_FRAME
    if item.command in (5001, 5002) and _trunc(f32(item.param1), 0, 255) < 3:
        return INVALID_PARAM1
    if item.command in (5003, 5004) and f32(item.param1) <= 0:
        return INVALID_PARAM1
    p1 = float(_trunc(f32(item.param1), 0, 255)) if item.command in (5001, 5002) else f32(
        item.param1)
    return StoredItem(item.command, 0, p1, 0.0, 0.0, 0.0, item.x, item.y, 0.0, 0)


def _convert_rally(item: IncomingItem) -> StoredItem | int:
    if item.command not in RALLY_CMDS:
        return UNSUPPORTED
    if item.frame in _RELATIVE_FRAMES:
        frame = 3
    elif item.frame in _TERRAIN_FRAMES:
        frame = 10
    elif item.frame in _ABSOLUTE_FRAMES:
        frame = 0
    else:
        return UNSUPPORTED_FRAME
    return StoredItem(5100, frame, 0.0, 0.0, 0.0, 0.0, item.x, item.y,
                      float(_trunc(f32(item.z), -32768, 32767)), 0)


def validate_fence(items: list[StoredItem]) -> bool:
    """Polygon vertices come in complete groups of ``param1`` items of one kind."""
    i = 0
    while i < len(items):
        item = items[i]
        if item.command in (5003, 5004):
            i += 1
            continue
        count = int(item.param1)
        group = items[i:i + count]
        if len(group) != count or any(g.command != item.command or int(g.param1) != count
                                      for g in group):
            return False
        i += count
    return True


def fence_storage_total(items: list[StoredItem]) -> int:
    """FENCE_TOTAL as ArduPilot's fence storage counts it (not the vertex count)."""
    return len(items) + 2 if items else 0


def home_item(lat_deg: float, lon_deg: float, alt_amsl_m: float) -> StoredItem:
    """Item 0 of a mission: home, absolute altitude."""
    return StoredItem(16, 0, 0.0, 0.0, 0.0, 0.0, round(lat_deg * 1e7), round(lon_deg * 1e7),
                      f32(alt_amsl_m))


def with_home(items: list[StoredItem], home: StoredItem) -> list[StoredItem]:
    """``items`` with item 0 replaced by ``home``."""
    return [home, *items[1:]] if items else [home]


def rally_return_point(here_ne: tuple[float, float], home_ne: tuple[float, float],
                       rally_ne: list[tuple[float, float]], *, limit_km: float,
                       include_home: bool) -> tuple[float, float]:
    """Where RTL returns to: the nearest rally point, unless home is nearer, as AC_Rally picks it.

    Parameters
    ----------
    here_ne, home_ne
        The vehicle and home, north and east metres in the local frame.
    rally_ne
        The rally points, north and east metres in the local frame.
    limit_km
        ``RALLY_LIMIT_KM``: a nearest rally point further than this loses to a nearer home
        (0 = no limit).
    include_home
        ``RALLY_INCL_HOME``: home counts as a rally point.

    Returns
    -------
    tuple[float, float]
        North and east metres of the return point.

    Examples
    --------
    >>> rally_return_point((0.0, 0.0), (500.0, 0.0), [(100.0, 0.0)], limit_km=0.3,
    ...                    include_home=False)
    (100.0, 0.0)
    """
    best: tuple[float, float] | None = None
    best_d = math.inf
    for n, e in rally_ne:
        d = math.hypot(n - here_ne[0], e - here_ne[1])
        if d < best_d:
            best, best_d = (n, e), d
    if best is None:
        return home_ne
    home_d = math.hypot(home_ne[0] - here_ne[0], home_ne[1] - here_ne[1])
    if limit_km > 0 and best_d > limit_km * 1000.0 and home_d < best_d:
        return home_ne
    if include_home and home_d <= best_d:
        return home_ne
    return best


def fence_polygons(items: list[StoredItem]) -> list[tuple[int, list[tuple[float, float]]]]:
    """(command, vertices in degrees) of every polygon in a fence list."""
    out: list[tuple[int, list[tuple[float, float]]]] = []
    i = 0
    while i < len(items):
        item = items[i]
        if item.command in (5001, 5002):
            count = max(1, int(item.param1))
            out.append((item.command, [(g.lat_deg, g.lon_deg) for g in items[i:i + count]]))
            i += count
        else:
            i += 1
    return out


def fence_circles(items: list[StoredItem]) -> list[tuple[int, float, float, float]]:
    """(command, lat, lon, radius_m) of every circle in a fence list."""
    return [(i.command, i.lat_deg, i.lon_deg, i.param1) for i in items
            if i.command in (5003, 5004)]
