"""The vectorised balancing step against a plain loop over every move and swap."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest

from planner.sorties._balance import MIN_GAIN_S, improve


def improve_by_loop(jobs: list[list[int]], work: list[float], save: list[float],
                    offset: Sequence[float]) -> bool:
    """The step as a plain loop: drone k, then its sortie a, then the move or swap with b."""
    def top2(js: list[int]) -> tuple[float, int, float]:
        ranked = sorted(js, key=lambda j: -save[j])[:2]
        first = save[ranked[0]] if ranked else -math.inf
        second = save[ranked[1]] if len(ranked) > 1 else -math.inf
        return first, ranked[0] if ranked else -1, second

    sums = [offset[i] + sum(work[j] for j in js) for i, js in enumerate(jobs)]
    tops = [top2(js) for js in jobs]
    ends = [sums[i] - tops[i][0] if jobs[i] else 0.0 for i in range(len(jobs))]
    w = max(range(len(jobs)), key=lambda i: (ends[i], -i))
    best: tuple[float, int, int, int] | None = None
    for k in range(len(jobs)):
        if k == w:
            continue
        for a in jobs[w]:
            rest_w = tops[w][2] if a == tops[w][1] else tops[w][0]
            for b in (-1, *jobs[k]):
                if b < 0:
                    new_w = sums[w] - work[a] - rest_w if len(jobs[w]) > 1 else 0.0
                    new_k = sums[k] + work[a] - max(tops[k][0], save[a])
                else:
                    rest_k = tops[k][2] if b == tops[k][1] else tops[k][0]
                    new_w = sums[w] - work[a] + work[b] - max(rest_w, save[b])
                    new_k = sums[k] - work[b] + work[a] - max(rest_k, save[a])
                peak = max(new_w, new_k)
                if peak < ends[w] - MIN_GAIN_S and (best is None or peak < best[0]):
                    best = (peak, k, a, b)
    if best is None:
        return False
    _, k, a, b = best
    jobs[w].remove(a)
    jobs[k].append(a)
    if b >= 0:
        jobs[k].remove(b)
        jobs[w].append(b)
    return True


@pytest.mark.parametrize("seed", range(12))
def test_improve_takes_the_loops_step(seed: int) -> None:
    """Every step until none helps is the one the plain loop takes, ties included."""
    rng = np.random.default_rng(seed)
    n_sorties = int(rng.integers(1, 60))
    drones = int(rng.integers(1, 8))
    # coarse values make equal peaks (ties between steps) common
    work = [float(v) for v in rng.integers(1, 12, n_sorties) * 100.0]
    save = [w * float(rng.choice([0.25, 0.5])) for w in work]
    offset = [float(v) for v in rng.choice([0.0, 50.0], drones)]
    jobs: list[list[int]] = [[] for _ in range(drones)]
    for j in range(n_sorties):
        jobs[int(rng.integers(0, drones))].append(j)
    ref = [list(js) for js in jobs]
    steps = 0
    while True:
        moved = improve(jobs, work, save, offset)
        assert moved == improve_by_loop(ref, work, save, offset)
        assert jobs == ref
        if not moved:
            break
        steps += 1
    assert steps < 10 * n_sorties
