"""Drop checks: releases (grabs at pickups) at their drops, and every drop served once or listed
as unserved."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from planner.geo import geodesic_distance_m
from planner.plan_model import Plan, Sortie
from planner.scenario import Drop, Scenario
from planner.verify._base import DROP_TOL_M, Violation, violation, where
from planner.verify._track import Track


def check_release_positions(sortie: Sortie, drops: Mapping[str, Drop],
                            track: Track) -> list[Violation]:
    """The k-th release or grab happens within ``DROP_TOL_M`` of the k-th drop of ``drop_ids``,
    a grab where the scenario has a pickup and a release where it has a delivery.

    Drop ids the scenario lacks are skipped here (the load check reports them).
    """
    out = _check_pickup_ids(sortie, drops)
    releases = track.stops
    for k, rel in enumerate(releases):
        at = where(rel.lat_deg, rel.lon_deg)
        if k >= len(sortie.drop_ids):
            out.append(violation(sortie, rel.item_index, "drop_unknown",
                                 f"release {k + 1} at {at} has no drop left in drop_ids "
                                 f"{list(sortie.drop_ids)}"))
            continue
        drop = drops.get(sortie.drop_ids[k])
        if drop is None:
            continue
        if rel.grab != drop.is_pickup:
            did, wanted, never = (
                ("grabs", "a delivery: expected a release", "released") if rel.grab else
                ("releases", "a pickup: expected DO_GRIPPER grab (param2 = 1)", "collected"))
            out.append(violation(sortie, rel.item_index, "structure",
                                 f"stop {k + 1} at {at} {did} a parcel but drop {drop.id} is "
                                 f"{wanted}"))
            out.append(violation(sortie, None, "drop_missing",
                                 f"drop {drop.id} is never {never}: its stop {did} a parcel"))
        d = geodesic_distance_m(rel.lat_deg, rel.lon_deg, drop.lat_deg, drop.lon_deg)
        if d > DROP_TOL_M:
            out.append(violation(sortie, rel.item_index, "drop_missing",
                                 f"release {k + 1} at {at} is {d:.1f} m from drop {drop.id} "
                                 f"{where(drop.lat_deg, drop.lon_deg)}; expected within "
                                 f"{DROP_TOL_M:.0f} m"))
    for drop_id in sortie.drop_ids[len(releases):]:
        out.append(violation(sortie, None, "drop_missing",
                             f"drop {drop_id} is in drop_ids but no item releases it "
                             f"({len(releases)} releases for {len(sortie.drop_ids)} drops)"))
    return out


def _check_pickup_ids(sortie: Sortie, drops: Mapping[str, Drop]) -> list[Violation]:
    """``pickup_ids`` are exactly the stops of ``drop_ids`` the scenario has as pickups."""
    out = []
    for drop_id in sortie.pickup_ids:
        if drop_id not in sortie.drop_ids:
            out.append(violation(sortie, None, "structure",
                                 f"pickup {drop_id} is not a stop of drop_ids "
                                 f"{list(sortie.drop_ids)}"))
    for drop_id in sortie.drop_ids:
        drop = drops.get(drop_id)
        if drop is not None and drop.is_pickup != sortie.is_pickup(drop_id):
            says = "a pickup" if sortie.is_pickup(drop_id) else "a delivery"
            out.append(violation(sortie, None, "structure",
                                 f"the plan says drop {drop_id} is {says} but the scenario has "
                                 f"it as a {drop.kind}"))
    return out


def _plan(kind: str, text: str, sortie_id: str | None = None) -> Violation:
    return Violation(sortie_id=sortie_id, item_index=None, kind=kind, message=text)


def check_accounting(plan: Plan, scenario: Scenario) -> list[Violation]:
    """Every scenario drop served exactly once or listed as unserved (once), never both.

    Served drop ids the scenario lacks are reported per sortie by the load check.
    """
    known = {d.id for d in scenario.drops}
    out = []
    served: dict[str, str] = {}
    for sortie in plan.sorties:
        for drop_id in sortie.drop_ids:
            if drop_id in served:
                out.append(_plan("drop_duplicate", f"drop {drop_id} is served by sortie "
                                                   f"{served[drop_id]} and again by sortie "
                                                   f"{sortie.id}", sortie.id))
            else:
                served[drop_id] = sortie.id
    listed = Counter(u.drop_id for u in plan.unserved)
    for drop_id, count in listed.items():
        if drop_id not in known:
            out.append(_plan("drop_unknown", f"unserved drop {drop_id} is not a drop of the "
                                             f"scenario"))
        if count > 1:
            out.append(_plan("drop_duplicate", f"drop {drop_id} is listed {count} times as "
                                               f"unserved"))
        if drop_id in served:
            out.append(_plan("drop_duplicate", f"drop {drop_id} is listed as unserved but "
                                               f"sortie {served[drop_id]} serves it"))
    for drop in scenario.drops:
        if drop.id not in served and drop.id not in listed:
            line = "" if drop.line is None else f" (drops file line {drop.line})"
            out.append(_plan("drop_missing", f"drop {drop.id}{line} is neither served by a "
                                             f"sortie nor listed as unserved"))
    return out
