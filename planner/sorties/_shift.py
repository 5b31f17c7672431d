"""Whole sorties moved from the group that releases its last parcel latest to another group.

The routing core shares the drops between depots and drone types for the least total work; the
makespan is set by the group (one depot, one drone type) whose drones finish last. Here a sortie
of that group whose every drop another group can also serve is flown by that group instead
(evaluated exactly from its depot with its drone type, in the best order), when scheduling both
groups again exactly makes the later of the two finish before the first did. Candidates are
ranked by an estimate (each group's last release moved by the sortie's busy time shared over
its drones) and at most ``MAX_ATTEMPTS`` are scheduled, so the result depends on the inputs
alone. Nothing moves when a group has more than ``MAX_GROUP_SORTIES`` sorties.
"""

from __future__ import annotations

from collections.abc import Sequence

from planner.sorties._exact import Checker, Fleet
from planner.sorties._groups import schedule_group
from planner.sorties._problem import RouteInput
from planner.sorties.evaluate import SortieEval
from planner.sorties.schedule import last_release_s

#: Candidate moves scheduled exactly, over the whole search.
MAX_ATTEMPTS = 40
#: Candidates tried for one move before the search stops.
TRIES = 4
#: Placements the windowed rebalancing may make while moves are compared.
STEPS = 20_000
#: With a group of more sorties than this nothing moves: scheduling it again exactly for each
#: attempt costs seconds there (balanced LPT grows faster than the number of sorties).
MAX_GROUP_SORTIES = 400
#: A last release must fall by more than this to count.
TOLERANCE_S = 1e-6


def _finish(inp: RouteInput, k: int, per_drone: Sequence[Sequence[SortieEval]]
            ) -> tuple[float, int]:
    """Group ``k``'s last release and the number of drops its schedule drops."""
    if not any(per_drone):
        return 0.0, 0
    done, dropped = schedule_group(inp, inp.groups[k], per_drone, max_steps=STEPS)
    return last_release_s(done), len(dropped)


def shift(inp: RouteInput, fleet: Fleet, checkers: Sequence[Checker]) -> tuple[Fleet, int]:
    """Move whole sorties between groups while the latest group's last release falls.

    Parameters
    ----------
    inp
        The routing input (groups, solo options, drops).
    fleet
        Exactly feasible sorties by (group, drone).
    checkers
        Each group's exact evaluator (by group index).

    Returns
    -------
    tuple
        The fleet after the moves and the number of sorties moved.
    """
    groups = inp.groups
    per: list[list[list[SortieEval]]] = [[list(fleet.get((k, n), [])) for n in range(g.count)]
                                         for k, g in enumerate(groups)]
    if any(sum(len(seq) for seq in drones) > MAX_GROUP_SORTIES for drones in per):
        return fleet, 0
    state = [_finish(inp, k, per[k]) for k in range(len(groups))]
    attempts = moves = 0
    while attempts < MAX_ATTEMPTS and len(groups) > 1:
        w = max(range(len(groups)), key=lambda k: (state[k][0], -k))
        end_w = state[w][0]
        gw = groups[w]
        cands: list[tuple[float, int, int, int]] = []
        for n, seq in enumerate(per[w]):
            for i, ev in enumerate(seq):
                busy = ev.duration_s + gw.drone.turnaround_s
                for k, g in enumerate(groups):
                    if (k == w or sum(len(seq) for seq in per[k]) >= MAX_GROUP_SORTIES
                            or any(inp.option(p, g) is None for p in ev.drops)):
                        continue
                    est = max(end_w - busy / gw.count,
                              state[k][0] + (busy - gw.drone.turnaround_s
                                             + g.drone.turnaround_s) / g.count)
                    if est < end_w - TOLERANCE_S:
                        cands.append((est, k, n, i))
        cands.sort()
        moved = False
        for _, k, n, i in cands[:TRIES]:
            if attempts >= MAX_ATTEMPTS:
                break
            ev = per[w][n][i]
            new = checkers[k].best(ev.drops, every_order=True)
            if new is None:
                continue
            attempts += 1
            new_w = [list(s) for s in per[w]]
            del new_w[n][i]
            new_k = [list(s) for s in per[k]]
            least = min(range(len(new_k)), key=lambda m: (sum(e.duration_s for e in new_k[m]), m))
            new_k[least].append(new)
            fw, fk = _finish(inp, w, new_w), _finish(inp, k, new_k)
            if (fw[1] <= state[w][1] and fk[1] <= state[k][1]
                    and max(fw[0], fk[0]) < end_w - TOLERANCE_S):
                per[w], per[k] = new_w, new_k
                state[w], state[k] = fw, fk
                moves += 1
                moved = True
                break
        if not moved:
            break
    out: Fleet = {}
    for k, drones in enumerate(per):
        for n, seq in enumerate(drones):
            if seq:
                out[(k, n)] = seq
    return out, moves
