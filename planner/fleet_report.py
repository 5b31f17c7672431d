"""How a plan's vehicles start: the fleet state it was made from, as ``summary.json`` shows it."""

from __future__ import annotations

from typing import Any

from planner.plan_model import Plan
from planner.scenario import Scenario


def starts_summary(plan: Plan, scenario: Scenario, margin_fraction: float) -> list[dict[str, Any]]:
    """Each recorded vehicle start with its first take-off and whether a swap comes first.

    Parameters
    ----------
    plan
        The plan, with its :attr:`~planner.plan_model.Plan.vehicle_starts`.
    scenario
        Its scenario (drone types: capacity and reserve).
    margin_fraction
        The planning margin of the capacity kept back on top of the reserve.

    Returns
    -------
    list of dict
        ``vehicle``, ``ready_s``, ``battery_pct`` (None: a full battery), ``first_takeoff_s``
        (None when it flies nothing) and ``swap_first`` (its first sortie needs more than the
        measured battery holds above the reserve and margin, so the battery is swapped first).
    """
    out = []
    for start in plan.vehicle_starts:
        mine = [s for s in plan.sorties if s.vehicle == start.vehicle]
        first = min(mine, key=lambda s: s.start_s) if mine else None
        swap = None
        if first is not None:
            drone = scenario.drone_types[first.drone_type_id]
            wh = start.battery_wh(drone, margin_fraction)
            swap = wh is not None and first.metrics.energy_wh > wh
        out.append({"vehicle": start.vehicle, "ready_s": round(start.ready_s, 1),
                    "battery_pct": start.battery_pct,
                    "first_takeoff_s": None if first is None else round(first.start_s, 1),
                    "swap_first": swap})
    return out
