"""``plan.json``: a whole :class:`~planner.plan_model.Plan` as JSON, read back exactly.

Layout (``"format": "dropline-plan"``, ``"version": 1``)::

    {"format", "version", "scenario", "altitude_frame", "seed",
     "sorties": [{"id", "depot_id", "drone_type_id", "vehicle", "drop_ids",
                  "pickup_ids" (only when the sortie has pickups), "start_s",
                  "metrics": {"distance_m", ..., "drop_etas_s": {drop id: s}},
                  "mission": [item, ...], "fence": [item, ...], "rally": [item, ...]}],
     "unserved": [{"drop_id", "reason"}],
     "vehicle_starts": [{"vehicle", "ready_s", "battery_pct"}],   (only when the plan has them)
     "extra": {...}}                       (only when given)

Each item is ``{"seq", "command", "command_name", "frame", "params": [p1, p2, p3, p4],
"lat_deg", "lon_deg", "alt_m", "autocontinue"}``; its mission type is the list it is in and
``command_name`` is for people only (ignored on reading). ``pickup_ids`` lists the stops of
``drop_ids`` that collect a parcel (the others deliver one); a sortie without it has none.
Floats are written with ``repr`` precision, so a round trip gives equal values; NaN is written
``null``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from planner.fleet_state import VehicleStart
from planner.io._atomic import write_text_atomic
from planner.io._jsonread import JsonDoc, join
from planner.items import Cmd, MissionItem, MissionType
from planner.plan_model import Plan, Sortie, SortieMetrics, Unserved

__all__ = ["FORMAT", "VERSION", "plan_to_json", "read_plan_json", "write_plan_json"]

FORMAT = "dropline-plan"
VERSION = 1
_LISTS: tuple[tuple[str, int], ...] = (("mission", MissionType.MISSION),
                                       ("fence", MissionType.FENCE),
                                       ("rally", MissionType.RALLY))
_METRICS = ("distance_m", "duration_s", "energy_wh", "energy_pct", "reserve_pct", "min_agl_m",
            "max_agl_m", "payload_kg")


def _num(value: float) -> float | None:
    return None if math.isnan(value) else value


def _command_name(command: int) -> str | None:
    try:
        return Cmd(command).name
    except ValueError:
        return None


def _item_json(item: MissionItem, seq: int) -> dict[str, object]:
    return {"seq": seq, "command": int(item.command), "command_name": _command_name(item.command),
            "frame": int(item.frame), "params": [_num(p) for p in item.params],
            "lat_deg": item.lat_deg, "lon_deg": item.lon_deg, "alt_m": item.alt_m,
            "autocontinue": item.autocontinue}


def _sortie_json(sortie: Sortie) -> dict[str, object]:
    metrics: dict[str, object] = {name: _num(getattr(sortie.metrics, name)) for name in _METRICS}
    metrics["drop_etas_s"] = {k: _num(v) for k, v in sortie.metrics.drop_etas_s.items()}
    out: dict[str, object] = {
        "id": sortie.id, "depot_id": sortie.depot_id, "drone_type_id": sortie.drone_type_id,
        "vehicle": sortie.vehicle, "drop_ids": list(sortie.drop_ids),
    }
    if sortie.pickup_ids:
        out["pickup_ids"] = list(sortie.pickup_ids)
    out["start_s"] = sortie.start_s
    out["metrics"] = metrics
    for name, mission_type in _LISTS:
        items: Sequence[MissionItem] = getattr(sortie, name)
        for seq, item in enumerate(items):
            if item.mission_type != mission_type:
                raise ValueError(f"Expected sortie {sortie.id!r} {name} item {seq} to have "
                                 f"mission_type {mission_type}, got {item.mission_type}")
        out[name] = [_item_json(item, seq) for seq, item in enumerate(items)]
    return out


def plan_to_json(plan: Plan, *, extra: Mapping[str, object] | None = None) -> str:
    """The ``plan.json`` text of ``plan``.

    Parameters
    ----------
    plan
        The plan to serialise.
    extra
        JSON-serialisable data stored under ``"extra"`` (for example the command line or the
        planner version); not read back by :func:`read_plan_json`.

    Returns
    -------
    str
        Indented JSON ending with a newline.
    """
    document: dict[str, object] = {
        "format": FORMAT, "version": VERSION, "scenario": plan.scenario,
        "altitude_frame": plan.altitude_frame, "seed": plan.seed,
        "sorties": [_sortie_json(s) for s in plan.sorties],
        "unserved": [{"drop_id": u.drop_id, "reason": u.reason} for u in plan.unserved],
    }
    if plan.vehicle_starts:
        document["vehicle_starts"] = [{"vehicle": s.vehicle, "ready_s": s.ready_s,
                                       "battery_pct": s.battery_pct}
                                      for s in plan.vehicle_starts]
    if extra is not None:
        document["extra"] = dict(extra)
    return json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_plan_json(path: str | Path, plan: Plan, *,
                    extra: Mapping[str, object] | None = None) -> None:
    """Write ``plan`` to ``path`` atomically; see :func:`plan_to_json`.

    Parameters
    ----------
    path
        The file to create or replace.
    plan
        The plan to write.
    extra
        Optional JSON-serialisable data stored under ``"extra"``.
    """
    write_text_atomic(path, plan_to_json(plan, extra=extra))


def _str(doc: JsonDoc, obj: dict[str, object], name: str, where: str) -> str:
    return doc.string(doc.key(obj, name, where), join(where, name))


def _float(doc: JsonDoc, obj: dict[str, object], name: str, where: str, *,
           nan_ok: bool = False) -> float:
    return doc.number(doc.key(obj, name, where), join(where, name),
                      null=math.nan if nan_ok else None)


def _read_item(doc: JsonDoc, value: object, where: str, seq: int,
               mission_type: int) -> MissionItem:
    obj = doc.obj(value, where)
    got_seq = doc.integer(doc.key(obj, "seq", where), join(where, "seq"))
    if got_seq != seq:
        doc.fail(join(where, "seq"), f"expected seq {seq} (items numbered from 0), got {got_seq}")
    params_where = join(where, "params")
    params = [doc.number(v, join(params_where, k), null=math.nan)
              for k, v in enumerate(doc.array(doc.key(obj, "params", where), params_where, 4))]
    try:
        return MissionItem(
            command=doc.integer(doc.key(obj, "command", where), join(where, "command")),
            frame=doc.integer(doc.key(obj, "frame", where), join(where, "frame")),
            param1=params[0], param2=params[1], param3=params[2], param4=params[3],
            lat_deg=_float(doc, obj, "lat_deg", where), lon_deg=_float(doc, obj, "lon_deg", where),
            alt_m=_float(doc, obj, "alt_m", where),
            autocontinue=doc.boolean(doc.key(obj, "autocontinue", where),
                                     join(where, "autocontinue")),
            mission_type=mission_type)
    except ValueError as exc:
        doc.fail(where, str(exc))


def _read_metrics(doc: JsonDoc, value: object, where: str) -> SortieMetrics:
    obj = doc.obj(value, where)
    etas_where = join(where, "drop_etas_s")
    etas = doc.obj(doc.key(obj, "drop_etas_s", where), etas_where)
    return SortieMetrics(
        **{name: _float(doc, obj, name, where, nan_ok=True) for name in _METRICS},
        drop_etas_s={k: doc.number(v, join(etas_where, k), null=math.nan)
                     for k, v in etas.items()})


def _read_sortie(doc: JsonDoc, value: object, where: str) -> Sortie:
    obj = doc.obj(value, where)
    drops_where = join(where, "drop_ids")
    drop_ids = tuple(doc.string(v, join(drops_where, k)) for k, v in
                     enumerate(doc.array(doc.key(obj, "drop_ids", where), drops_where)))
    pickup_ids: tuple[str, ...] = ()
    if "pickup_ids" in obj:
        pick_where = join(where, "pickup_ids")
        pickup_ids = tuple(doc.string(v, join(pick_where, k)) for k, v in
                           enumerate(doc.array(obj["pickup_ids"], pick_where)))
        for k, drop_id in enumerate(pickup_ids):
            if drop_id not in drop_ids:
                doc.fail(join(pick_where, k), f"pickup '{drop_id}' is not in drop_ids")
    lists: dict[str, tuple[MissionItem, ...]] = {}
    for name, mission_type in _LISTS:
        list_where = join(where, name)
        lists[name] = tuple(
            _read_item(doc, v, join(list_where, k), k, mission_type)
            for k, v in enumerate(doc.array(doc.key(obj, name, where), list_where)))
    return Sortie(id=_str(doc, obj, "id", where), depot_id=_str(doc, obj, "depot_id", where),
                  drone_type_id=_str(doc, obj, "drone_type_id", where),
                  vehicle=_str(doc, obj, "vehicle", where), drop_ids=drop_ids,
                  pickup_ids=pickup_ids, start_s=_float(doc, obj, "start_s", where),
                  mission=lists["mission"], fence=lists["fence"], rally=lists["rally"],
                  metrics=_read_metrics(doc, doc.key(obj, "metrics", where),
                                        join(where, "metrics")))


def read_plan_json(path: str | Path) -> Plan:
    """Read a ``plan.json`` written by :func:`write_plan_json`.

    Parameters
    ----------
    path
        The ``plan.json`` file.

    Returns
    -------
    Plan
        The plan, equal to the one written (``extra`` is not part of it).

    Raises
    ------
    PlanFileError
        If the file is not JSON, not a dropline plan of a supported version, or a key is
        missing or has the wrong type; the error names the JSON path (``sorties[2].mission[5]
        .params``).
    """
    doc = JsonDoc(path)
    top = doc.obj(doc.load(), "")
    if top.get("format") != FORMAT:
        doc.fail("format", f"expected {FORMAT!r}, got {top.get('format')!r}")
    if doc.integer(doc.key(top, "version", ""), "version") != VERSION:
        doc.fail("version", f"expected version {VERSION}, got {top['version']!r}")
    sorties = doc.array(doc.key(top, "sorties", ""), "sorties")
    unserved_values = doc.array(doc.key(top, "unserved", ""), "unserved")
    unserved = []
    for k, value in enumerate(unserved_values):
        where = join("unserved", k)
        obj = doc.obj(value, where)
        unserved.append(Unserved(drop_id=_str(doc, obj, "drop_id", where),
                                 reason=_str(doc, obj, "reason", where)))
    return Plan(scenario=_str(doc, top, "scenario", ""),
                altitude_frame=_str(doc, top, "altitude_frame", ""),
                sorties=tuple(_read_sortie(doc, v, join("sorties", k))
                              for k, v in enumerate(sorties)),
                unserved=tuple(unserved),
                seed=doc.integer(doc.key(top, "seed", ""), "seed"),
                vehicle_starts=_read_starts(doc, top))


def _read_starts(doc: JsonDoc, top: dict[str, object]) -> tuple[VehicleStart, ...]:
    """The plan's ``vehicle_starts`` (none when the key is absent)."""
    if "vehicle_starts" not in top:
        return ()
    out = []
    for k, value in enumerate(doc.array(top["vehicle_starts"], "vehicle_starts")):
        where = join("vehicle_starts", k)
        obj = doc.obj(value, where)
        pct = doc.key(obj, "battery_pct", where)
        try:
            out.append(VehicleStart(
                vehicle=_str(doc, obj, "vehicle", where),
                ready_s=_float(doc, obj, "ready_s", where),
                battery_pct=None if pct is None else doc.number(pct, join(where, "battery_pct"))))
        except ValueError as exc:
            doc.fail(where, str(exc))
    return tuple(out)
