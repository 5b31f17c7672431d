"""One group's sorties put on its drones, as every routed construction schedules them."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from planner.sorties._problem import Group, RouteInput
from planner.sorties._rebalance import MAX_STEPS, rebalance
from planner.sorties.build import budget_wh
from planner.sorties.evaluate import SortieEval, evaluate_sortie
from planner.sorties.schedule import (
    Scheduled,
    last_release_s,
    schedule,
    schedule_assigned,
    schedule_balanced,
)


def reevaluator(inp: RouteInput, g: Group) -> Callable[[SortieEval, tuple[int, ...]],
                                                        SortieEval | str]:
    """Exact re-evaluation of a sortie shortened by the scheduler."""
    weights = inp.weights_kg
    pickups = inp.pickups
    budget = budget_wh(g.drone, inp.margin_fraction)

    def again(ev: SortieEval, keep: tuple[int, ...]) -> SortieEval | str:
        return evaluate_sortie(inp.catalog, g.drone, ev.depot, keep, weights, budget,
                               pickups=pickups)
    return again


def schedule_group(inp: RouteInput, g: Group, per_drone: Sequence[Sequence[SortieEval]], *,
                   max_steps: int = MAX_STEPS) -> tuple[list[Scheduled], dict[int, str]]:
    """Schedule one group's sorties exactly on its drones.

    The router's order (``per_drone[n]`` for drone ``n + 1``), LPT or - without windows -
    balanced LPT, whichever serves the most, then releases the last parcel first; with windows
    and under the makespan objective whole sorties are then moved between the drones and
    re-ordered while that releases the last parcel earlier (without windows only a drone's last
    sortie matters, which the balanced LPT already chooses, unless the drones start from the
    fleet's state, ``g.starts``) (at most ``max_steps`` placements,
    :func:`planner.sorties._rebalance.rebalance`). Returns the scheduled sorties and the reason
    for each drop a window made the scheduler drop.
    """
    again = reevaluator(inp, g)
    evs = [e for seq in per_drone for e in seq]
    starts = g.starts or None
    options = [schedule_assigned(per_drone, g.drone, inp.drops, again, starts=starts),
               schedule(evs, g.drone, g.count, inp.drops, again, starts=starts)]
    windows = any(inp.drops[p].earliest_s is not None or inp.drops[p].latest_s is not None
                  for e in evs for p in e.drops)
    if not windows:
        options.append((schedule_balanced(evs, g.drone, g.count, starts=starts), {}))
    best = min(options, key=lambda r: (len(r[1]), last_release_s(r[0]),
                                       sum(s.start_s for s in r[0])))
    if (windows or starts) and inp.objective == "makespan_then_energy":
        return rebalance(best[0], g.drone, g.count, inp.drops, max_steps=max_steps,
                         starts=starts), best[1]
    return best[0], best[1]
