"""The routing problem's arc times and proxy energies, computed as asked instead of stored."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from planner.pipeline import route_input
from planner.routing import Objective
from planner.scenario import Wind
from planner.sorties import _timing
from planner.sorties._problem import RouteInput, build_problem, proxy_limits, timing
from tests.planner.helpers import drone_type, hills_dem
from tests.planner.sorties.test_route import CASES


def _inp(objective: Objective, pickups: bool) -> RouteInput:
    base = CASES["two_depots"]
    drops = tuple(dataclasses.replace(d, kind="pickup") if pickups and k % 2 else d
                  for k, d in enumerate(base.drops))
    sc = dataclasses.replace(base, drops=drops, wind=Wind(speed_m_s=6.0, from_deg=230.0),
                             drone_types={"quad": drone_type(max_parcels=3,
                                                             max_payload_kg=2.6)})
    inp, _ = route_input(sc, hills_dem(5, 300.0), objective=objective)
    return inp


@pytest.mark.parametrize("pickups", [False, True])
def test_blocks_arcs_and_single_arcs_agree_bit_for_bit(pickups: bool) -> None:
    """Times and energies of a whole block equal those of each arc asked alone, exactly; the
    diagonal is zero and a depot's take-off and landing times are on its arcs to drops only."""
    tm = timing(_inp("distance", pickups))
    n = tm.n_nodes
    n_dep = len(tm.depot_points)
    nodes = np.arange(n)
    block = tm.duration_s(nodes[:, None], nodes[None, :])
    energy = tm.energy_wh(nodes[:, None], nodes[None, :])
    for a in range(n):
        for b in range(n):
            assert tm.duration_s(a, b) == block[a, b]
            assert tm.energy_wh(a, b) == energy[a, b]
    assert np.all(np.diag(block) == 0.0)
    assert bool(tm.pickup_power_w) is pickups
    chord_s = np.hypot(*(tm.xy_m[:, None, :] - tm.xy_m[None, :, :]).transpose(2, 0, 1))
    assert np.all(block[:n_dep, n_dep:] > chord_s[:n_dep, n_dep:] / (tm.speed_m_s + 6.0))


@pytest.mark.parametrize("objective", ["distance", "sorties", "makespan_then_energy"])
def test_problem_matrices_do_not_depend_on_the_block_size(objective: Objective,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    """The routing problem built a row at a time is the problem built in one block, and its
    matrices are kept read-only without a copy."""
    inp = _inp(objective, pickups=True)
    tm = timing(inp)
    limits = proxy_limits(inp, tm).calibrated
    whole = build_problem(inp, tm, limits).problem
    monkeypatch.setattr(_timing, "ROW_CHUNK", 1)
    rows = build_problem(inp, tm, limits).problem
    assert np.array_equal(whole.distance_m, rows.distance_m)
    assert np.array_equal(whole.duration_s, rows.duration_s)
    assert not whole.distance_m.flags.writeable and not whole.duration_s.flags.writeable
