"""QGroundControl ``.plan`` files: mission, geofence and rally points in one JSON document.

The writer produces what QGroundControl itself saves for an ArduPilot multirotor (keys, versions,
layout and number format of ``PlanMasterController``, ``MissionController``,
``SimpleMissionItem``, ``GeoFenceController`` and ``RallyPointController``): mission item 0
(home) becomes ``plannedHomePosition``, the other items ``SimpleItem`` objects numbered from 1
in ``doJumpId``; inclusion/exclusion polygons and circles go to ``geoFence``; rally points to
``rallyPoints``. NaN parameters are written as ``null``.

The reader accepts the files QGroundControl writes: ``null`` param1-4 become NaN and ``null``
latitude, longitude or altitude 0.0 (commands without a position); the old item layout with a
separate ``coordinate`` is converted; a geofence or rally list of version 1, which
QGroundControl ignores, reads as empty; ``ComplexItem`` objects (survey, corridor scan...) are
not expanded and raise :class:`~planner.errors.PlanFileError`.

What a ``.plan`` cannot hold is rebuilt on reading: the home item is NAV_WAYPOINT, frame GLOBAL,
zero params; fence items come back with frame GLOBAL, altitude 0 and polygons before circles;
rally points with frame GLOBAL_RELATIVE_ALT.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from planner.io._atomic import write_text_atomic
from planner.io._contents import PlanFileContents
from planner.io._jsonread import JsonDoc, join
from planner.io._qtjson import dumps_qt
from planner.items import Cmd, Frame, MissionItem, MissionType

__all__ = ["PlanFileContents", "format_qgc_plan", "read_qgc_plan", "write_qgc_plan"]

FIRMWARE_ARDUPILOT = 3  # MAV_AUTOPILOT_ARDUPILOTMEGA
VEHICLE_MULTIROTOR = 2  # MAV_TYPE_QUADROTOR

#: QGroundControl's AltitudeMode/AltitudeFrame enum for the altitude frame of an item.
_ALT_MODE_MIXED, _ALT_MODE_RELATIVE, _ALT_MODE_ABSOLUTE, _ALT_MODE_TERRAIN = 0, 1, 2, 4
_ALT_MODE_BY_FRAME: dict[int, int] = {
    Frame.GLOBAL: _ALT_MODE_ABSOLUTE, Frame.GLOBAL_INT: _ALT_MODE_ABSOLUTE,
    Frame.GLOBAL_RELATIVE_ALT: _ALT_MODE_RELATIVE,
    Frame.GLOBAL_RELATIVE_ALT_INT: _ALT_MODE_RELATIVE,
    Frame.GLOBAL_TERRAIN_ALT: _ALT_MODE_TERRAIN, Frame.GLOBAL_TERRAIN_ALT_INT: _ALT_MODE_TERRAIN,
}
#: Commands for which QGroundControl edits a position or an altitude (MavCmdInfo
#: ``specifiesCoordinate``/``specifiesAltitudeOnly``), so it saves the altitude keys.
_ALTITUDE_COMMANDS = frozenset({16, 17, 18, 19, 21, 22, 31, 82, 84, 85, 94})
#: Fence commands and whether they include (True) or exclude.
_POLYGON_COMMANDS: dict[int, bool] = {Cmd.NAV_FENCE_POLYGON_VERTEX_INCLUSION: True,
                                      Cmd.NAV_FENCE_POLYGON_VERTEX_EXCLUSION: False}
_CIRCLE_COMMANDS: dict[int, bool] = {Cmd.NAV_FENCE_CIRCLE_INCLUSION: True,
                                     Cmd.NAV_FENCE_CIRCLE_EXCLUSION: False}


def _simple_item(item: MissionItem, jump_id: int) -> dict[str, object]:
    obj: dict[str, object] = {
        "autoContinue": item.autocontinue, "command": int(item.command), "doJumpId": jump_id,
        "frame": int(item.frame), "type": "SimpleItem",
        "params": [item.param1, item.param2, item.param3, item.param4,
                   item.lat_deg, item.lon_deg, item.alt_m],
    }
    mode = _ALT_MODE_BY_FRAME.get(item.frame)
    if item.command in _ALTITUDE_COMMANDS and mode is not None:
        obj.update({"AMSLAltAboveTerrain": None, "Altitude": item.alt_m, "AltitudeMode": mode})
    return obj


def _fence_json(fence: Sequence[MissionItem]) -> dict[str, object]:
    polygons: list[object] = []
    circles: list[object] = []
    i = 0
    while i < len(fence):
        item = fence[i]
        if item.command in _CIRCLE_COMMANDS:
            circles.append({"circle": {"center": [item.lat_deg, item.lon_deg],
                                       "radius": item.param1},
                            "inclusion": _CIRCLE_COMMANDS[item.command], "version": 1})
            i += 1
            continue
        if item.command not in _POLYGON_COMMANDS:
            raise ValueError(f"Expected fence item {i} to be a polygon vertex (5001/5002) or a "
                             f"circle (5003/5004), got command {item.command}")
        count = int(item.param1)
        group = fence[i:i + count]
        if count < 3 or len(group) != count or any(
                v.command != item.command or int(v.param1) != count for v in group):
            raise ValueError(f"Expected fence items {i}..{i + count - 1} to be {count} vertices "
                             f"of command {item.command} with param1 = {count}")
        polygons.append({"inclusion": _POLYGON_COMMANDS[item.command],
                         "polygon": [[v.lat_deg, v.lon_deg] for v in group], "version": 1})
        i += count
    return {"circles": circles, "polygons": polygons, "version": 2}


def format_qgc_plan(*, mission: Sequence[MissionItem], fence: Sequence[MissionItem] = (),
                    rally: Sequence[MissionItem] = (), cruise_speed_m_s: float,
                    hover_speed_m_s: float) -> str:
    """The text of a QGroundControl ``.plan`` file holding the given items.

    Parameters
    ----------
    mission
        Mission items; item 0 is home (NAV_WAYPOINT, frame GLOBAL, altitude AMSL).
    fence
        Fence items: polygons as runs of vertices with param1 = vertex count, circles with
        param1 = radius in metres.
    rally
        NAV_RALLY_POINT items, altitude relative to home.
    cruise_speed_m_s, hover_speed_m_s
        The plan's default speeds, shown by QGroundControl.

    Returns
    -------
    str
        The JSON text, laid out as QGroundControl writes it.
    """
    if not mission or mission[0].command != Cmd.NAV_WAYPOINT or mission[0].frame != Frame.GLOBAL:
        raise ValueError("Expected mission item 0 to be the home item (NAV_WAYPOINT, frame GLOBAL)")
    for i, point in enumerate(rally):
        if point.command != Cmd.NAV_RALLY_POINT:
            raise ValueError(f"Expected rally item {i} to be NAV_RALLY_POINT, got {point.command}")
    home = mission[0]
    items = [_simple_item(item, n) for n, item in enumerate(mission[1:], start=1)]
    modes = {obj["AltitudeMode"] for obj in items if "AltitudeMode" in obj}
    document = {
        "fileType": "Plan", "groundStation": "QGroundControl", "version": 1,
        "geoFence": _fence_json(fence),
        "mission": {
            "cruiseSpeed": float(cruise_speed_m_s), "firmwareType": FIRMWARE_ARDUPILOT,
            "globalPlanAltitudeMode": (modes.pop() if len(modes) == 1
                                       else _ALT_MODE_RELATIVE if not modes else _ALT_MODE_MIXED),
            "hoverSpeed": float(hover_speed_m_s), "items": items,
            "plannedHomePosition": [home.lat_deg, home.lon_deg, home.alt_m],
            "vehicleType": VEHICLE_MULTIROTOR, "version": 2,
        },
        "rallyPoints": {"points": [[p.lat_deg, p.lon_deg, p.alt_m] for p in rally], "version": 2},
    }
    return dumps_qt(document)


def write_qgc_plan(path: str | Path, *, mission: Sequence[MissionItem],
                   fence: Sequence[MissionItem] = (), rally: Sequence[MissionItem] = (),
                   cruise_speed_m_s: float, hover_speed_m_s: float) -> None:
    """Write a QGroundControl ``.plan`` file atomically; see :func:`format_qgc_plan`.

    Parameters
    ----------
    path
        The file to create or replace.
    mission, fence, rally, cruise_speed_m_s, hover_speed_m_s
        As for :func:`format_qgc_plan`.
    """
    write_text_atomic(path, format_qgc_plan(mission=mission, fence=fence, rally=rally,
                                            cruise_speed_m_s=cruise_speed_m_s,
                                            hover_speed_m_s=hover_speed_m_s))


def _make_item(doc: JsonDoc, where: str, **fields: object) -> MissionItem:
    try:
        return MissionItem(**fields)  # type: ignore[arg-type]
    except ValueError as exc:
        doc.fail(where, str(exc))


def _read_item(doc: JsonDoc, value: object, where: str) -> MissionItem:
    obj = doc.obj(value, where)
    kind = doc.key(obj, "type", where)
    if kind == "ComplexItem":
        complex_type = obj.get("complexItemType", "unknown")
        doc.fail(where, f"a ComplexItem (complexItemType {complex_type!r}) cannot be converted "
                        "to mission items; expected a SimpleItem (save the plan from "
                        "QGroundControl after converting the pattern to waypoints)")
    if kind != "SimpleItem":
        doc.fail(join(where, "type"), f"expected 'SimpleItem' or 'ComplexItem', got {kind!r}")
    params_where = join(where, "params")
    params = doc.array(doc.key(obj, "params", where), params_where)
    if "coordinate" in obj and len(params) == 4:
        params = params + doc.array(obj["coordinate"], join(where, "coordinate"), 3)
    if len(params) != 7:
        doc.fail(params_where, f"expected an array of 7 numbers or nulls, got {len(params)} values")
    p = [doc.number(v, join(params_where, k), null=math.nan if k < 4 else 0.0)
         for k, v in enumerate(params)]
    return _make_item(
        doc, params_where,
        command=doc.integer(doc.key(obj, "command", where), join(where, "command")),
        frame=doc.integer(doc.key(obj, "frame", where), join(where, "frame")),
        autocontinue=doc.boolean(doc.key(obj, "autoContinue", where), join(where, "autoContinue")),
        param1=p[0], param2=p[1], param3=p[2], param4=p[3], lat_deg=p[4], lon_deg=p[5], alt_m=p[6])


def _lat_lon(doc: JsonDoc, value: object, where: str) -> tuple[float, float]:
    coords = doc.array(value, where)
    if len(coords) not in (2, 3):
        doc.fail(where, f"expected [lat, lon], got {len(coords)} values")
    return doc.number(coords[0], join(where, 0)), doc.number(coords[1], join(where, 1))


def _fence_item(doc: JsonDoc, where: str, command: int, param1: float,
                lat_lon: tuple[float, float]) -> MissionItem:
    return _make_item(doc, where, command=command, frame=Frame.GLOBAL, param1=param1,
                      lat_deg=lat_lon[0], lon_deg=lat_lon[1], mission_type=MissionType.FENCE)


def _read_fence(doc: JsonDoc, value: object, where: str) -> tuple[MissionItem, ...]:
    fence = doc.obj(value, where)
    if fence.get("version", 1) == 1:
        return ()
    if doc.integer(fence["version"], join(where, "version")) != 2:
        doc.fail(join(where, "version"), f"expected version 2, got {fence['version']!r}")
    items: list[MissionItem] = []
    polygons_where = join(where, "polygons")
    for i, poly_value in enumerate(doc.array(doc.key(fence, "polygons", where), polygons_where)):
        pw = join(polygons_where, i)
        poly = doc.obj(poly_value, pw)
        inclusion = doc.boolean(doc.key(poly, "inclusion", pw), join(pw, "inclusion"))
        vertices = doc.array(doc.key(poly, "polygon", pw), join(pw, "polygon"))
        if len(vertices) < 3:
            doc.fail(join(pw, "polygon"), f"expected at least 3 vertices, got {len(vertices)}")
        command = (Cmd.NAV_FENCE_POLYGON_VERTEX_INCLUSION if inclusion
                   else Cmd.NAV_FENCE_POLYGON_VERTEX_EXCLUSION)
        for k, vertex in enumerate(vertices):
            vw = join(join(pw, "polygon"), k)
            items.append(_fence_item(doc, vw, command, len(vertices), _lat_lon(doc, vertex, vw)))
    circles_where = join(where, "circles")
    for i, circle_value in enumerate(doc.array(doc.key(fence, "circles", where), circles_where)):
        cw = join(circles_where, i)
        outer = doc.obj(circle_value, cw)
        inclusion = doc.boolean(doc.key(outer, "inclusion", cw), join(cw, "inclusion"))
        circle = doc.obj(doc.key(outer, "circle", cw), join(cw, "circle"))
        radius_where = join(join(cw, "circle"), "radius")
        radius = doc.number(doc.key(circle, "radius", join(cw, "circle")), radius_where)
        if radius <= 0:
            doc.fail(radius_where, f"expected a radius > 0 m, got {radius}")
        center_where = join(join(cw, "circle"), "center")
        center = _lat_lon(doc, doc.key(circle, "center", join(cw, "circle")), center_where)
        command = Cmd.NAV_FENCE_CIRCLE_INCLUSION if inclusion else Cmd.NAV_FENCE_CIRCLE_EXCLUSION
        items.append(_fence_item(doc, center_where, command, radius, center))
    return tuple(items)


def _read_rally(doc: JsonDoc, value: object, where: str) -> tuple[MissionItem, ...]:
    rally = doc.obj(value, where)
    if rally.get("version", 1) == 1:
        return ()
    if doc.integer(rally["version"], join(where, "version")) != 2:
        doc.fail(join(where, "version"), f"expected version 2, got {rally['version']!r}")
    points_where = join(where, "points")
    points: list[MissionItem] = []
    for i, point in enumerate(doc.array(doc.key(rally, "points", where), points_where)):
        pw = join(points_where, i)
        lat, lon, alt = (doc.number(v, join(pw, k)) for k, v in enumerate(doc.array(point, pw, 3)))
        points.append(_make_item(doc, pw, command=Cmd.NAV_RALLY_POINT,
                                 frame=Frame.GLOBAL_RELATIVE_ALT, lat_deg=lat, lon_deg=lon,
                                 alt_m=alt, mission_type=MissionType.RALLY))
    return tuple(points)


def read_qgc_plan(path: str | Path) -> PlanFileContents:
    """Read a QGroundControl ``.plan`` file.

    Parameters
    ----------
    path
        The ``.plan`` file.

    Returns
    -------
    PlanFileContents
        The mission (home rebuilt from ``plannedHomePosition`` as item 0), fence and rally
        items.

    Raises
    ------
    PlanFileError
        If the file is not JSON, a key is missing or has the wrong type (the error names the
        JSON path, e.g. ``mission.items[3].params``), or an item is a ComplexItem.
    """
    doc = JsonDoc(path)
    top = doc.obj(doc.load(), "")
    if doc.key(top, "fileType", "") != "Plan":
        doc.fail("fileType", f"expected 'Plan', got {top['fileType']!r}")
    if doc.integer(doc.key(top, "version", ""), "version") != 1:
        doc.fail("version", f"expected version 1, got {top['version']!r}")
    mission = doc.obj(doc.key(top, "mission", ""), "mission")
    if doc.integer(doc.key(mission, "version", "mission"), "mission.version") != 2:
        doc.fail("mission.version", f"expected version 2, got {mission['version']!r}")
    home_where = "mission.plannedHomePosition"
    home_values = doc.array(doc.key(mission, "plannedHomePosition", "mission"), home_where, 3)
    lat, lon, alt = (doc.number(v, join(home_where, k), null=0.0 if k == 2 else None)
                     for k, v in enumerate(home_values))
    home = _make_item(doc, home_where, command=Cmd.NAV_WAYPOINT, frame=Frame.GLOBAL,
                      lat_deg=lat, lon_deg=lon, alt_m=alt)
    items_where = "mission.items"
    items = doc.array(doc.key(mission, "items", "mission"), items_where)
    mission_items = (home, *(_read_item(doc, v, join(items_where, i)) for i, v in enumerate(items)))
    fence = _read_fence(doc, top["geoFence"], "geoFence") if "geoFence" in top else ()
    rally = _read_rally(doc, top["rallyPoints"], "rallyPoints") if "rallyPoints" in top else ()
    return PlanFileContents(mission=mission_items, fence=fence, rally=rally)
