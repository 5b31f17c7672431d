"""Planning with an executor: the same plan and the same violations as without one."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pytest

from planner._assemble import compile_checked, numbered
from planner.compile import CompileContext
from planner.pipeline import build_scene, make_plan, route_input
from planner.scenario import Scenario
from planner.sorties.route import simple_construction
from planner.tasks import chunks, run_map
from planner.terrain import Dem
from planner.verify.verifier import verify_plan, verify_plan_wide, verify_sorties


def reversed_map(fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
    """A map that runs the pieces last first (results still in order)."""
    pieces = list(items)
    done = [fn(p) for p in reversed(pieces)]
    return iter(done[::-1])


@pytest.mark.slow
def test_same_plan_with_and_without_a_process_pool(district_scenario: Scenario,
                                                   district_dem: Dem) -> None:
    """The district plans to the same sorties, missions and figures on a pool of workers."""
    alone = make_plan(district_scenario, district_dem)
    with ProcessPoolExecutor(2) as pool:
        pooled = make_plan(district_scenario, district_dem, map_fn=pool.map)
    assert pooled.plan == alone.plan
    assert pooled.construction == alone.construction
    assert len(alone.plan.sorties) >= 10


def test_verifier_finds_the_same_violations_in_any_order(district_scenario: Scenario,
                                                         district_dem: Dem) -> None:
    """A smaller battery breaks sorties; every piece order reports the same violations."""
    plan = make_plan(district_scenario, district_dem).plan
    weak = {k: dataclasses.replace(t, battery_wh=t.battery_wh * 0.5)
            for k, t in district_scenario.drone_types.items()}
    scenario = dataclasses.replace(district_scenario, drone_types=weak)
    plain = verify_plan(plan, scenario, district_dem)
    assert any(v.kind == "energy" for v in plain)
    assert verify_plan(plan, scenario, district_dem, map_fn=reversed_map) == plain


def test_groups_checked_as_they_come_find_the_plans_violations(district_scenario: Scenario,
                                                               district_dem: Dem) -> None:
    """Sorties checked group by group, plus the plan-wide checks, give verify_plan's list."""
    plan = make_plan(district_scenario, district_dem).plan
    weak = {k: dataclasses.replace(t, battery_wh=t.battery_wh * 0.5)
            for k, t in district_scenario.drone_types.items()}
    scenario = dataclasses.replace(district_scenario, drone_types=weak)
    dropped = dataclasses.replace(plan, unserved=plan.unserved[1:])
    groups = (list(g) for g in chunks(dropped.sorties, 3))
    got = [v for part in verify_sorties(groups, scenario, district_dem, map_fn=reversed_map)
           for v in part]
    got += verify_plan_wide(dropped, scenario, district_dem)
    expected = verify_plan(dropped, scenario, district_dem)
    assert {v.kind for v in expected} >= {"energy", "drop_missing"}
    assert got == expected


def test_missions_checked_as_they_compile_are_the_plain_ones(district_scenario: Scenario,
                                                             district_dem: Dem) -> None:
    """Missions compiled group by group, checked on an executor, are those compiled at once."""
    inp, _ = route_input(district_scenario, district_dem)
    scene = build_scene(district_scenario)
    weak = {k: dataclasses.replace(t, battery_wh=t.battery_wh * 0.5)
            for k, t in district_scenario.drone_types.items()}
    ctx = CompileContext(scenario=dataclasses.replace(district_scenario, drone_types=weak),
                         catalog=inp.catalog, proj=scene.proj, point_ids=scene.point_ids,
                         zones_xy=scene.zones_xy, depot_points=tuple(range(scene.n_depots)))
    sorties = numbered(simple_construction(inp).scheduled)
    missions, found = compile_checked(ctx, district_dem, sorties, reversed_map)
    assert found is not None and any(v.kind == "energy" for v in found)
    assert [m.id for m in missions] == [f"S{n:03d}" for n in range(1, len(missions) + 1)]
    alone, none = compile_checked(ctx, district_dem, sorties, None)
    assert alone == missions and none is None
    assert [v for part in verify_sorties([alone], ctx.scenario, district_dem)
            for v in part] == found


@pytest.mark.parametrize(("n", "pieces", "sizes"), [(7, 3, [3, 2, 2]), (2, 5, [1, 1]),
                                                     (0, 4, []), (8, 1, [8])])
def test_chunks_are_consecutive_and_complete(n: int, pieces: int, sizes: list[int]) -> None:
    """Items are cut into consecutive, non-empty runs of near-equal length, none lost."""
    got = chunks(list(range(n)), pieces)
    assert [len(c) for c in got] == sizes
    assert [x for c in got for x in c] == list(range(n))
    assert run_map(reversed_map, len, got) == sizes
