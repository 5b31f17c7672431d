"""Makespan benchmark: the routing core against the simple construction and two lower bounds.

For seeded synthetic multi-hub days (the scenarios of :mod:`benchmarks.plan_scale`) and for
``missions/district``, under the default objective (last release, then energy), reports for the
simple construction, the routing core alone (the PyVRP path, exact trip selection switched off)
and the construction the planner picks: makespan, energy and sorties, with lower bounds on the
makespan:

``lb_far_s``
    The latest earliest possible release: for each servable drop, its release time in its
    solo sortie (take-off, climb, cruise, descent to drop height, as the planner's legs give
    them) from its fastest depot and drone type, or its window's opening if later; the maximum.
``lb_work_s``
    Work per drone. A sortie carrying drops ``S`` lasts at least as long as the longest solo
    sortie of its drops (it flies out to each and home, climbing and descending as the solo
    sortie does; without wind this holds exactly). For a set of groups (one depot and drone
    type; every group, every depot's groups, all groups), take the drops that only these
    groups can serve, each with its shortest solo sortie among them; with at most ``c``
    parcels per sortie, sorted longest first, sorties together last at least the sum of every
    ``c``-th of them (the first, the ``c+1``-th, ...); without pickups, with at most ``Q`` kg
    on board, also at least the total of sorties filled longest first with parcels allowed to
    split, each costing the solo sortie of the first parcel (part) it takes; the larger, plus a
    turnaround after each of at least ``max(ceil(n / c), ceil(total weight / Q))`` sorties.
    Some drone is busy at least that total over the drones, and its last release comes at
    most one way home (the longest of the groups' solo sorties after its
    release) and one turnaround before its busy time ends. The maximum over the sets.

``gap`` is makespan / max(lb_far_s, lb_work_s) - 1. With ``--before`` the routing core is also
run as it scheduled before whole sorties were moved between drones and groups.

    python -m benchmarks.makespan [--sizes 100 1000] [--no-district] [--time-limit S]
                                  [--seed 0] [--before] [--wall-clock] [--json OUT]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import planner.sorties._groups as groups
import planner.sorties.route as route
from benchmarks.plan_scale import bench_scenario
from planner.io import load_scenario_with_dem
from planner.io.dem import load_dem
from planner.pipeline import route_input
from planner.routing import Objective
from planner.scenario import Scenario
from planner.sorties._problem import RouteInput
from planner.sorties._trips import is_small
from planner.sorties.route import Construction, best_construction, simple_construction
from planner.terrain import Dem

OBJECTIVE: Objective = "makespan_then_energy"
RESULTS = Path("benchmarks/results")


def lower_bounds(inp: RouteInput) -> dict[str, float]:
    """``lb_far_s`` and ``lb_work_s`` of the servable drops of ``inp`` (see the module)."""
    far = 0.0
    for p, opts in inp.options.items():
        if opts:
            release = min(o.solo.release_offsets_s[0] for o in opts)
            far = max(far, release, inp.drops[p].earliest_s or 0.0)
    keys = [g.key for g in inp.groups]
    depots = sorted({g.depot for g in inp.groups})
    sets = ([frozenset([k]) for k in keys]
            + [frozenset(k for k in keys if k[0] == dep) for dep in depots] + [frozenset(keys)])
    return {"lb_far_s": far, "lb_work_s": max(_work_bound(inp, s) for s in sets)}


def _work_bound(inp: RouteInput, keys: frozenset[tuple[int, str]]) -> float:
    """The work bound of the drones of the groups ``keys`` (see the module)."""
    groups = [g for g in inp.groups if g.key in keys]
    solo: list[tuple[float, float]] = []  # (shortest solo sortie, parcel weight)
    home = 0.0
    for p, opts in inp.options.items():
        mine = [o for o in opts if (o.depot, o.drone.id) in keys]
        if mine:
            home = max(home, max(o.solo.duration_s - o.solo.release_offsets_s[-1] for o in mine))
        if opts and len(mine) == len(opts):
            solo.append((min(o.solo.duration_s for o in mine), inp.drops[p].weight_kg))
    if not solo:
        return 0.0
    solo.sort(reverse=True)
    parcels = max(g.drone.max_parcels for g in groups)
    by_count = sum(d for d, _ in solo[::parcels])
    sorties = math.ceil(len(solo) / parcels)
    if not inp.pickups:  # a sortie's deliveries all start on board: their weight fits at once
        payload_kg = max(g.drone.max_payload_kg for g in groups)
        by_weight = _weight_bound(solo, payload_kg)
        by_count = max(by_count, by_weight)
        sorties = max(sorties, math.ceil(sum(w for _, w in solo) / payload_kg - 1e-9))
    total = by_count + sorties * min(g.drone.turnaround_s for g in groups)
    drones = sum(g.count for g in groups)
    return total / drones - home - max(g.drone.turnaround_s for g in groups)


def _weight_bound(solo: list[tuple[float, float]], payload_kg: float) -> float:
    """Least total duration of sorties carrying at most ``payload_kg`` each, parcels split.

    ``solo`` is sorted longest first. A sortie lasts at least its longest solo sortie, so with
    parcels allowed to split between sorties the least total fills sorties longest first, each
    costing the solo duration of the first parcel (part) it takes.
    """
    total = 0.0
    room_kg = 0.0
    for duration_s, weight_kg in solo:
        left_kg = weight_kg
        while left_kg > 1e-12:
            if room_kg <= 1e-12:
                total += duration_s
                room_kg = payload_kg
            take_kg = min(left_kg, room_kg)
            left_kg -= take_kg
            room_kg -= take_kg
    return total


def figures(c: Construction, lb_s: float, wall_s: float) -> dict[str, Any]:
    """A construction's figures and its gap to the lower bound."""
    f = c.figures()
    return {"method": c.method, "served": int(f["served"]), "sorties": int(f["sorties"]),
            "makespan_s": round(f["makespan_s"], 1), "energy_wh": round(f["energy_wh"], 1),
            "distance_km": round(f["distance_m"] / 1000, 2),
            "gap": round(f["makespan_s"] / lb_s - 1, 4) if lb_s > 0 else None,
            "wall_s": round(wall_s, 1), "notes": dict(c.notes)}


@contextmanager
def _patched(obj: Any, name: str, value: Any) -> Iterator[None]:
    old = getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, old)


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def run_case(name: str, scenario: Scenario, dem: Dem, *, before: bool,
             wall_clock: bool = False) -> dict[str, Any]:
    """Every construction of one scenario under the makespan objective, with the bounds.

    Without ``wall_clock`` the exact local search is bounded by its evaluation budget alone
    (PyVRP keeps its own time cap), so a loaded machine gives the same figures; with it, the
    time limit also cuts the search short as in ``dropline plan``.
    """
    (inp, _), prep_s = _timed(lambda: route_input(scenario, dem, objective=OBJECTIVE))
    bounds = lower_bounds(inp)
    lb = max(bounds.values())
    seed, limit = scenario.params.seed, scenario.params.time_limit_s
    clock = time.perf_counter if wall_clock else None

    def routed() -> list[Construction]:
        return route.route_sorties(inp, seed=seed, time_limit_s=limit, clock=clock)

    simple, simple_s = _timed(lambda: simple_construction(inp))
    with _patched(route, "is_small", lambda *_: False):
        forced, forced_s = _timed(routed)
        if before:
            with (_patched(groups, "rebalance", lambda done, *_a, **_k: list(done)),
                  _patched(route, "shift", lambda _inp, fleet, _chk: (fleet, 0))):
                old, old_s = _timed(routed)
    normal, normal_s = (forced, forced_s) if not is_small(
        inp, tuple(p for p, o in inp.options.items() if o)) else _timed(routed)
    rows = {"simple": figures(simple, lb, simple_s)}
    if before and old:
        rows["routing_before"] = figures(best_construction(old, OBJECTIVE), lb, old_s)
    if forced:
        rows["routing"] = figures(best_construction(forced, OBJECTIVE), lb, forced_s)
    rows["final"] = figures(best_construction([*normal, simple], OBJECTIVE), lb,
                            simple_s + normal_s)
    drones = sum(g.count for g in inp.groups)
    return {"case": name, "servable": sum(1 for o in inp.options.values() if o),
            "drones": drones, "depots": len({g.depot for g in inp.groups}),
            "time_limit_s": limit, "seed": seed, "prepare_s": round(prep_s, 1),
            **{k: round(v, 1) for k, v in bounds.items()}, "rows": rows}


def _table(results: list[dict[str, Any]]) -> str:
    lines = ["| case | drones | LB_far | LB_work | construction | sorties | makespan | energy | "
             "gap | wall |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        first = True
        for label, f in r["rows"].items():
            head = (f"| {r['case']} ({r['servable']} servable) | {r['drones']} | "
                    f"{r['lb_far_s'] / 60:.1f} min | {r['lb_work_s'] / 60:.1f} min"
                    if first else "| | | |")
            first = False
            gap = f"{100 * f['gap']:.1f} %" if f["gap"] is not None else "-"
            lines.append(f"{head} | {label} ({f['method']}) | {f['sorties']} | "
                         f"{f['makespan_s'] / 60:.1f} min | {f['energy_wh']:,.0f} Wh | {gap} | "
                         f"{f['wall_s']:.1f} s |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print one JSON line per case and a table, write the JSON file."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=[100, 1000])
    ap.add_argument("--zones", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--time-limit", type=float, default=None)
    ap.add_argument("--no-district", action="store_true")
    ap.add_argument("--before", action="store_true",
                    help="also run the routing core without moving sorties between drones")
    ap.add_argument("--wall-clock", action="store_true",
                    help="cap the local search by the time limit too, as dropline plan does")
    ap.add_argument("--json", type=Path, default=RESULTS / "makespan.json")
    args = ap.parse_args(argv)
    results = []
    if not args.no_district:
        loaded = load_scenario_with_dem("missions/district")
        sc = loaded.scenario
        if args.time_limit is not None:
            sc = dataclasses.replace(sc, params=dataclasses.replace(
                sc.params, time_limit_s=args.time_limit))
        results.append(run_case("district", sc, loaded.dem, before=args.before,
                                wall_clock=args.wall_clock))
        print(json.dumps(results[-1]), flush=True)
    for n in args.sizes:
        sc = bench_scenario(n, args.zones, args.seed, None, args.time_limit)
        results.append(run_case(f"synthetic {n}", sc, load_dem(sc.terrain.dem_paths),
                                before=args.before, wall_clock=args.wall_clock))
        print(json.dumps(results[-1]), flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1))
    print(_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
