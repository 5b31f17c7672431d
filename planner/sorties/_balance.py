"""One improving step of the balanced schedule: a move or swap off the drone finishing last.

Used by :func:`planner.sorties.schedule.schedule_balanced`. Drone ``i`` flies the sorties
``jobs[i]``; a sortie ``j`` takes ``work[j]`` seconds with its turnaround and ``save[j]`` of
them come after its last release, so a drone releases its last parcel at ``offset[i]`` plus its
work less the largest ``save`` among its sorties (flown last). Every candidate step - sortie
``a`` of the drone ``w`` finishing last moved to drone ``k``, or swapped with sortie ``b`` of
``k`` - is scored at once with numpy, with the same floating-point operations, in the same
order, as a plain loop over ``k``, then ``a``, then ``b`` would (moves before swaps), and the
first best step of that loop is taken.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

#: A step must bring the drone finishing last forward by more than this many seconds.
MIN_GAIN_S = 1e-6


def _top2(js: list[int], save: Sequence[float]) -> tuple[float, int, float]:
    """The largest ``save`` of a drone's sorties, which sortie has it, and the second largest."""
    ranked = sorted(js, key=lambda j: -save[j])[:2]
    first = save[ranked[0]] if ranked else -math.inf
    second = save[ranked[1]] if len(ranked) > 1 else -math.inf
    return first, ranked[0] if ranked else -1, second


def improve(jobs: list[list[int]], work: Sequence[float], save: Sequence[float],
            offset: Sequence[float]) -> bool:
    """Make the best move or swap off the drone that finishes last; False if none helps.

    ``jobs`` is changed in place (the moved sortie is appended to its new drone).
    """
    n = len(jobs)
    sums = [offset[i] + sum(work[j] for j in js) for i, js in enumerate(jobs)]
    tops = [_top2(js, save) for js in jobs]
    ends = [sums[i] - tops[i][0] if jobs[i] else 0.0 for i in range(n)]
    w = max(range(n), key=lambda i: (ends[i], -i))
    if not jobs[w] or n < 2:
        return False
    # Candidates in loop order: for each other drone k, the move (b = -1), then each b of k.
    ks: list[int] = []
    bs: list[int] = []
    for k in range(n):
        if k != w:
            ks += [k] * (len(jobs[k]) + 1)
            bs += [-1, *jobs[k]]
    k_c = np.array(ks, dtype=np.intp)
    b_c = np.array(bs, dtype=np.intp)
    move = b_c < 0
    b_safe = np.where(move, 0, b_c)
    work_a = np.asarray(work, dtype=np.float64)
    save_a = np.asarray(save, dtype=np.float64)
    sums_k = np.asarray(sums, dtype=np.float64)[k_c]
    top_k = np.array([t[0] for t in tops])[k_c]
    top_j = np.array([t[1] for t in tops])[k_c]
    second_k = np.array([t[2] for t in tops])[k_c]
    work_b = work_a[b_safe]
    save_b = save_a[b_safe]
    rest_k = np.where(b_c == top_j, second_k, top_k)
    a_w = np.array(jobs[w], dtype=np.intp)
    wa = work_a[a_w][:, None]
    sa = save_a[a_w][:, None]
    rest_w = np.where(a_w == tops[w][1], tops[w][2], tops[w][0])[:, None]
    lone = len(jobs[w]) <= 1
    move_w = np.zeros_like(wa) if lone else sums[w] - wa - rest_w
    new_w = np.where(move, move_w, sums[w] - wa + work_b - np.maximum(rest_w, save_b))
    new_k = np.where(move, sums_k + wa - np.maximum(top_k, sa),
                     sums_k - work_b + wa - np.maximum(rest_k, sa))
    peak = np.maximum(new_w, new_k)
    ok = peak < ends[w] - MIN_GAIN_S
    if not ok.any():
        return False
    best = np.min(peak[ok])
    rows, cols = np.nonzero(ok & (peak == best))
    # the loop's first: smallest drone k, then the sortie a's place, then the candidate's place
    pick = int(np.lexsort((cols, rows, k_c[cols]))[0])
    a = int(a_w[rows[pick]])
    k = int(k_c[cols[pick]])
    b = int(b_c[cols[pick]])
    jobs[w].remove(a)
    jobs[k].append(a)
    if b >= 0:
        jobs[k].remove(b)
        jobs[w].append(b)
    return True
