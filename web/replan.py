"""Re-planning a plan from the console: a new version of what is not done yet.

The new version plans the drops of the newest version (and ``add``: more drops of its drops
file) without those a run of any version delivered, those on their way in the run in progress
(their sortie finishes them) and the ``cancel`` ones, with the ``ground`` vehicles taken out
(``depot/type/n``; the vehicles after one move up a number). The vehicles start from the live
fleet's state (:mod:`web.replan_fleet`: in the air, ready after their sortie and a turnaround;
landed, ready now on their measured battery, which flies a first sortie only if it covers it),
with the request's ``battery`` percentages instead of a reading, and ``wind``
(``{"speed_m_s", "from_deg"}``) is the wind the version is planned under. It is an ordinary
version: planned and verified by the planner job, and uploaded only after that, when the
operator chooses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from planner.errors import InputError
from planner.fleet_state import (
    ground_vehicles,
    renumbered,
    starts_for,
    starts_to_json,
    wind_of,
)
from planner.scenario import Wind
from web import scenario_edit
from web.deliveries import DeliveryService
from web.errors import Conflict
from web.planning import PlanRecord, PlanService
from web.replan_fleet import battery_body, live_starts


@dataclass(frozen=True, slots=True, kw_only=True)
class Replan:
    """The version made, what it plans and what it leaves out (drop id -> why)."""

    record: PlanRecord
    drop_ids: tuple[str, ...]
    delivered: dict[str, str]
    in_air: dict[str, str]
    cancelled: tuple[str, ...]
    grounded: tuple[str, ...]
    vehicle_starts: tuple[dict[str, Any], ...] = ()
    wind: Wind | None = None


def _ids(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value) \
            or len(value) > 10_000:
        raise InputError("Expected a list of strings", field=name)
    return list(dict.fromkeys(value))


def replan(plans: PlanService, deliveries: DeliveryService, plan_id: str,
           body: dict[str, Any], *, username: str) -> Replan:
    """Make (and start planning) the re-plan version of ``plan_id``.

    Parameters
    ----------
    plans, deliveries
        The console's plan versions and drop states.
    plan_id
        The plan (any version of it).
    body
        ``{"cancel": [...], "ground": [...], "add": [...], "battery": {vehicle: percent},
        "wind": {"speed_m_s": ..., "from_deg": ...}}``, each optional.
    username
        Who asks (the version's author).

    Raises
    ------
    InputError
        An unknown key, drop or vehicle (named).
    Conflict
        Nothing is left to plan, or the plan was never planned.
    """
    unknown = set(body) - {"cancel", "ground", "add", "battery", "wind"}
    if unknown:
        raise InputError(f"unknown field {sorted(unknown)[0][:40]!r}; expected cancel, ground, "
                         "add, battery or wind", field=sorted(unknown)[0][:40])
    wind = _wind(body.get("wind"))
    cancel, ground, add = _ids(body, "cancel"), _ids(body, "ground"), _ids(body, "add")
    record = plans.get(plan_id)
    base = {k: v for k, v in record.edits.items() if k != "drop_ids"}
    every, _dem = scenario_edit.load(record.folder, base)
    known = {d.id for d in every.drops}
    chosen_ids = record.edits.get("drop_ids")
    chosen = set(chosen_ids) if isinstance(chosen_ids, list) else known
    for name, ids in (("cancel", cancel), ("add", add)):
        missing = [d for d in ids if d not in known]
        if missing:
            raise InputError(f"no drop {missing[0][:64]!r} in the scenario", field=name)
    depots = ground_vehicles(every.depots, ground)
    found = live_starts(deliveries, plan_id, every, battery_body(body.get("battery", {}), every))
    starts = starts_for(every.depots, ground, {v: f.start for v, f in found.items()},
                        field="battery")
    names = renumbered(every.depots, ground)
    delivered = deliveries.delivered_before(record.id)
    in_air = {d: w for d, w in deliveries.in_the_air(record.id).items() if d not in delivered}
    wanted = (chosen & known) | set(add)
    left_out = set(delivered) | set(in_air) | set(cancel)
    drop_ids = tuple(d.id for d in every.drops if d.id in wanted and d.id not in left_out)
    if not drop_ids:
        raise Conflict("nothing is left to plan: every drop is delivered, on its way or "
                       "cancelled")
    edits = {**{k: v for k, v in record.edits.items() if k != "vehicle_starts"},
             "drop_ids": list(drop_ids),
             "depots": [{"id": d.id, "lat_deg": d.lat_deg, "lon_deg": d.lon_deg,
                         "drones": dict(d.drones)} for d in depots]}
    if starts:
        edits["vehicle_starts"] = starts_to_json(starts)
    if wind is not None:
        edits["wind"] = {"speed_m_s": wind.speed_m_s, "from_deg": wind.from_deg}
    plans.edit(record.id, edits, username=username)
    started = plans.run(record.id, username=username)
    return Replan(record=started, drop_ids=drop_ids, delivered=delivered, in_air=in_air,
                  cancelled=tuple(d for d in cancel if d not in delivered and d not in in_air),
                  grounded=tuple(ground),
                  vehicle_starts=tuple(f.as_json(names[v]) for v, f in sorted(found.items())
                                       if v in names),
                  wind=wind)


def _wind(value: object) -> Wind | None:
    """The request's ``wind`` (None when not given)."""
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"speed_m_s", "from_deg"}:
        raise InputError('Expected {"speed_m_s": 0-60, "from_deg": 0-360}', field="wind")
    return wind_of(value["speed_m_s"], value["from_deg"], field="wind")


def replan_json(found: Replan, record_json: Any) -> dict[str, Any]:
    """What the API answers: the new version and what it plans and leaves out, and the vehicle
    starts and wind it is planned from (when there are)."""
    out: dict[str, Any] = {
        "drop_ids": list(found.drop_ids), "delivered": found.delivered,
        "in_air": found.in_air, "cancelled": list(found.cancelled),
        "grounded": list(found.grounded)}
    if found.vehicle_starts:
        out["vehicle_starts"] = list(found.vehicle_starts)
    if found.wind is not None:
        out["wind"] = {"speed_m_s": found.wind.speed_m_s, "from_deg": found.wind.from_deg}
    return {**record_json(found.record), "replan": out}


def names(values: Sequence[str]) -> str:
    """A short list of names for the audit log."""
    shown = ", ".join(values[:10])
    return shown + (f" and {len(values) - 10} more" if len(values) > 10 else "")


def fleet_note(found: Replan) -> str:
    """The vehicle starts and wind of a re-plan for the audit log (empty without them)."""
    parts = [f"{s['vehicle']} "
             f"{'full' if s['battery_pct'] is None else format(s['battery_pct'], 'g') + ' %'}"
             f" ready at {s['ready_s']:g} s" for s in found.vehicle_starts[:10]]
    out = f"; starts [{', '.join(parts)}]" if parts else ""
    if found.wind is not None:
        out += f"; wind {found.wind.speed_m_s:g} m/s from {found.wind.from_deg:g} deg"
    return out
