"""Linear relaxation of the trip selection and reduced-cost fixing.

The relaxation keeps the set partitioning (every customer on exactly one trip) and the clique
cuts of the drone classes (at most ``count`` trips of a class whose compulsory parts share an
instant), with ``0 <= x <= 1``. From its duals ``y`` (customers) and ``mu <= 0`` (cliques), for
every integer answer ``x``:

    cost(x) >= bound + max(0, rc_t)   for every trip t that x flies,

with ``rc = c - A'y - B'mu`` and ``bound = sum(y) + sum(mu * count) + sum(min(0, rc))``. A trip
with ``bound + rc_t`` above the cost of a known answer cannot be in a better one and is dropped.
Weak duality makes this hold for any duals, so solver tolerances cannot make it wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import csr_matrix


@dataclass(frozen=True, slots=True)
class Relaxation:
    """Lower bound of the relaxation and the reduced cost of every trip."""

    bound: float
    reduced_cost: np.ndarray


def relax(costs: Sequence[float], covers: Sequence[Sequence[int]], n_customers: int,
          cliques: Sequence[tuple[Sequence[int], int]]) -> Relaxation | None:
    """Solve the relaxation; None when the LP solver gives no usable answer.

    Parameters
    ----------
    costs
        Cost of every trip.
    covers
        Customer indexes of every trip.
    n_customers
        Number of customers (rows of the partitioning).
    cliques
        ``(trips, count)``: at most ``count`` of ``trips`` may be flown.
    """
    n_cols = len(costs)
    if n_cols == 0:
        return None
    rows = [c for cover in covers for c in cover]
    cols = [k for k, cover in enumerate(covers) for _ in cover]
    a_eq = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_customers, n_cols))
    c = np.asarray(costs, dtype=np.float64)
    a_ub = b_ub = None
    if cliques:
        r2 = [i for i, (members, _) in enumerate(cliques) for _ in members]
        c2 = [k for members, _ in cliques for k in members]
        a_ub = csr_matrix((np.ones(len(r2)), (r2, c2)), shape=(len(cliques), n_cols))
        b_ub = np.array([float(count) for _, count in cliques])
    res = linprog(c, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=np.ones(n_customers),
                  bounds=(0.0, 1.0), method="highs")
    if res.status != 0:
        return None
    y = np.asarray(res.eqlin.marginals, dtype=np.float64)
    rc = c - a_eq.T @ y
    bound = float(y.sum())
    if a_ub is not None and b_ub is not None:
        mu = np.minimum(np.asarray(res.ineqlin.marginals, dtype=np.float64), 0.0)
        rc = rc - a_ub.T @ mu
        bound += float(mu @ b_ub)
    bound += float(np.minimum(rc, 0.0).sum())
    return Relaxation(bound=bound, reduced_cost=np.asarray(rc))
