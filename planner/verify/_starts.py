"""Vehicle starts a plan records (a re-plan from the fleet's state), checked against its sorties.

For each recorded start, the vehicle's first sortie (the earliest take-off of its sorties) must
not take off before the vehicle is ready. A first sortie taking off less than a turnaround after
that flies on the measured battery (there is no time to swap it), so the energy the verifier
integrates for it must fit in the charge above the reserve; later ones may have had a swap.
"""

from __future__ import annotations

from collections.abc import Callable

from planner.plan_model import Plan, Sortie
from planner.scenario import Scenario
from planner.verify._base import ENERGY_REL_TOL, Violation, violation

#: Take-off times closer than this (s) to a limit count as at it: plans give them to 0.1 s.
TIME_TOL_S = 0.05 + 1e-6


def check_starts(plan: Plan, scenario: Scenario,
                 energy_wh: Callable[[Sortie], float]) -> list[Violation]:
    """Violations of the plan's vehicle starts.

    Parameters
    ----------
    plan
        The plan with its ``vehicle_starts``.
    scenario
        Its scenario (drone types: capacity, reserve, turnaround).
    energy_wh
        The verifier's own energy of a sortie, from take-off to touchdown.

    Returns
    -------
    list of Violation
        ``structure`` for a start naming a vehicle twice or a first take-off before the
        vehicle is ready, ``energy`` for a first sortie on a measured battery that does not
        cover it.
    """
    out: list[Violation] = []
    seen: set[str] = set()
    for start in plan.vehicle_starts:
        if start.vehicle in seen:
            out.append(Violation(sortie_id=None, item_index=None, kind="structure",
                                 message=f"vehicle {start.vehicle} has two recorded starts"))
        seen.add(start.vehicle)
        mine = [s for s in plan.sorties if s.vehicle == start.vehicle]
        if not mine:
            continue
        first = min(mine, key=lambda s: (s.start_s, s.id))
        drone = scenario.drone_types.get(first.drone_type_id)
        if drone is None:
            continue  # the sortie's own checks report the unknown drone type
        if first.start_s < start.ready_s - TIME_TOL_S:
            out.append(violation(first, None, "structure", (
                f"vehicle {start.vehicle} takes off at {first.start_s:.1f} s, before it is "
                f"ready at {start.ready_s:.1f} s")))
            continue
        if (start.battery_pct is None
                or first.start_s >= start.ready_s + drone.turnaround_s - TIME_TOL_S):
            continue
        usable = drone.battery_wh * (start.battery_pct / 100.0 - drone.reserve_fraction)
        needed = energy_wh(first)
        if not needed <= usable + abs(usable) * ENERGY_REL_TOL:
            out.append(violation(first, None, "energy", (
                f"vehicle {start.vehicle} takes off at {first.start_s:.1f} s on its measured "
                f"battery ({start.battery_pct:g} %, ready at {start.ready_s:.1f} s, no "
                f"{drone.turnaround_s:.0f} s turnaround to swap it), but the flight needs "
                f"{needed:.1f} Wh, more than the {max(usable, 0.0):.1f} Wh above the "
                f"{100 * drone.reserve_fraction:.0f} % reserve")))
    return out
