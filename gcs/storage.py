"""How ArduPilot stores mission, fence and rally items, and how a read-back may differ.

AP_Mission keeps mission altitudes as whole centimetres (``int32(float32(z) * 100)``, truncated
towards zero) and AP_Rally rally altitudes as whole metres; positionless commands come back
with frame 0 and frames 6/5/11 as 3/0/10; NAV_LAND's param4 is not kept; every parameter is a
float32. :func:`as_stored` puts items on the vehicle's grid before an upload, so that the
read-back compares exactly, and :func:`differences` lists what a read-back changed beyond these
normalisations.
"""

from __future__ import annotations

import dataclasses
import math
import struct
from collections.abc import Sequence

import numpy as np

from planner.items import Cmd, MissionItem, MissionType

#: Commands whose position fields mean nothing: ArduPilot returns them with frame 0.
POSITIONLESS: frozenset[int] = frozenset({
    Cmd.NAV_RETURN_TO_LAUNCH, Cmd.NAV_DELAY, Cmd.DO_GRIPPER, Cmd.DO_WINCH, Cmd.DO_JUMP,
    Cmd.DO_CHANGE_SPEED})
#: Frames ArduPilot returns in place of the ones sent.
_FRAME_BACK = {6: 3, 5: 0, 11: 10}
_F32 = struct.Struct("<f")


def _f32(x: float) -> float:
    return float(_F32.unpack(_F32.pack(x))[0])


def storable_alt_m(alt_m: float) -> float:
    """``alt_m`` on ArduPilot's whole-centimetre grid, as a float32 that survives its storage.

    AP_Mission stores ``int32(float32(z) * 100)``, truncating towards zero, so 71.77 comes back
    as 71.76. The nearest centimetre is sent as the float32 closest to it that truncates to it.
    """
    cm = round(alt_m * 100.0)
    z = _f32(cm / 100.0)
    away = math.inf if cm >= 0 else -math.inf
    for _ in range(8):
        if math.trunc(_f32(z * 100.0)) == cm:
            return z
        z = float(np.nextafter(np.float32(z), np.float32(away)))
    return z


def as_stored(items: tuple[MissionItem, ...], mission_type: int) -> tuple[MissionItem, ...]:
    """Items as the vehicle will store them, so that the read-back compares exactly.

    Mission altitudes go on the whole-centimetre grid (:func:`storable_alt_m`); rally altitudes
    are raised to whole metres (AP_Rally stores int16 metres). Changes are below 1 cm and 1 m.
    """
    if mission_type == MissionType.RALLY:
        return tuple(dataclasses.replace(r, alt_m=float(math.ceil(r.alt_m - 1e-6)))
                     for r in items)
    if mission_type == MissionType.MISSION:
        return tuple(items[:1]) + tuple(dataclasses.replace(m, alt_m=storable_alt_m(m.alt_m))
                                        for m in items[1:])
    return items


def differences(sent: Sequence[MissionItem], got: Sequence[MissionItem],
                mission_type: int) -> list[str]:
    """How a read-back list differs from what was sent, after ArduPilot's normalisations."""
    out: list[str] = []
    if len(sent) != len(got):
        out.append(f"{len(got)} items read back, {len(sent)} sent")
    for i, (a, b) in enumerate(zip(sent, got, strict=False)):
        if mission_type == MissionType.MISSION and i == 0:
            continue  # home: the vehicle returns its real home
        out += [f"item {i}: {what}" for what in _item_differences(a, b)]
    return out


def _item_differences(a: MissionItem, b: MissionItem) -> list[str]:
    out = []
    if a.command != b.command:
        out.append(f"command {b.command}, sent {a.command}")
        return out
    positionless = a.command in POSITIONLESS
    frame_a = 0 if positionless else _FRAME_BACK.get(a.frame, a.frame)
    frame_b = 0 if positionless else _FRAME_BACK.get(b.frame, b.frame)
    if frame_a != frame_b and a.mission_type == MissionType.MISSION:
        out.append(f"frame {b.frame}, sent {a.frame}")
    params = ("param1", "param2", "param3", "param4")
    for name in params:
        if a.command == Cmd.NAV_LAND and name == "param4":
            continue
        if not _close32(getattr(a, name), getattr(b, name)):
            out.append(f"{name} {getattr(b, name)!r}, sent {getattr(a, name)!r}")
    if not positionless:
        if round(a.lat_deg * 1e7) != round(b.lat_deg * 1e7) or \
                round(a.lon_deg * 1e7) != round(b.lon_deg * 1e7):
            out.append(f"position ({b.lat_deg:.7f}, {b.lon_deg:.7f}), sent "
                       f"({a.lat_deg:.7f}, {a.lon_deg:.7f})")
        # ArduPilot stores mission altitudes in whole centimetres (truncated) and rally
        # altitudes in whole metres
        alt_tol_m = 1.0 if a.mission_type == MissionType.RALLY else 0.0101
        if abs(a.alt_m - b.alt_m) > alt_tol_m:
            out.append(f"alt {b.alt_m!r}, sent {a.alt_m!r}")
    return out


def _close32(x: float, y: float) -> bool:
    """Equal as float32 values (NaN equals NaN)."""
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    return abs(x - y) <= 1e-6 * max(1.0, abs(x))
