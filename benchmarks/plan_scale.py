"""Planner scale benchmark: 100, 1,000 and 5,000 drops with 50 no-fly zones on the real DEM.

For each size it plans a seeded synthetic scenario end to end and prints and writes (JSON) the
wall time of each stage and the process's peak resident memory at the end of each stage, the
sortie construction that won and the figures of every construction compared (served drops,
sorties, makespan, energy, distance), then checks the exact obstacle-avoiding distance matrix
against a brute-force visibility-graph Dijkstra on sampled pairs, and the terrain profiles for
band violations and added waypoints per km.

    python -m benchmarks.plan_scale [--sizes 100 1000 5000] [--zones 50] [--seed 0]
                                    [--drones N] [--time-limit S] [--objective makespan]
                                    [--pairs 200] [--out benchmarks/results/plan_scale.json]

``--drones`` is the number of drones at each of the two hubs (default: a tenth of the drops,
at least 3); ``--time-limit`` the routing search budget (default: the scenario's, 30 s).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from planner.io.inputs import scenario_with_dem
from planner.legs.catalogue import LegCatalog
from planner.legs.profile import band_violations
from planner.pipeline import build_scene, make_plan
from planner.routing import Objective
from tests.helpers.nofly_reference import ReferenceGraph
from tests.helpers.synth import synthetic_scenario


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


OBJECTIVES: dict[str, Objective] = {"makespan": "makespan_then_energy", "distance": "distance",
                                    "sorties": "sorties"}


def run_size(n_drops: int, n_zones: int, seed: int, pairs: int, *, drones: int | None = None,
             time_limit_s: float | None = None,
             objective: Objective = "makespan_then_energy") -> dict[str, Any]:
    """Plan one synthetic scenario and measure every stage."""
    per_hub = drones if drones is not None else max(3, n_drops // 100)
    scenario = synthetic_scenario(n_drops=n_drops, n_zones=n_zones, seed=seed,
                                  drones_per_hub=per_hub)
    params = dataclasses.replace(scenario.params, seed=seed)
    if time_limit_s is not None:
        params = dataclasses.replace(params, time_limit_s=time_limit_s)
    scenario = dataclasses.replace(scenario, params=params)
    t0 = time.perf_counter()
    dem = scenario_with_dem(scenario).dem
    load_s = time.perf_counter() - t0

    stages: dict[str, float] = {}
    rss_marks: list[float] = []

    def clock() -> float:
        """The pipeline calls this at every stage boundary: note the peak memory there too."""
        rss_marks.append(peak_rss_mib())
        return time.perf_counter()

    t0 = time.perf_counter()
    result = make_plan(scenario, dem, objective=objective, timings=stages, clock=clock)
    total_s = time.perf_counter() - t0
    plan_rss = peak_rss_mib()
    stage_rss = dict(zip(stages, rss_marks[1:], strict=False))

    scene = build_scene(scenario)
    vertices = int(sum(len(p.exterior.coords) - 1 + sum(len(r.coords) - 1 for r in p.interiors)
                       for p in scene.zone_map.merged))
    t0 = time.perf_counter()
    matrix = scene.zone_map.distance_matrix(scene.points_xy_m)
    matrix_s = time.perf_counter() - t0

    rng = np.random.default_rng(seed)
    reference = ReferenceGraph(scene.zone_map.merged)
    n = len(scene.points_xy_m)
    worst = 0.0
    blocked_pairs = 0
    for _ in range(pairs):
        i, j = (int(v) for v in rng.choice(n, 2, replace=False))
        ref = reference.distance(scene.points_xy_m[i], scene.points_xy_m[j])
        got = float(matrix[i, j])
        if np.isinf(ref) or np.isinf(got):
            assert np.isinf(ref) and np.isinf(got), (i, j, ref, got)
            continue
        blocked_pairs += int(ref > np.hypot(*(scene.points_xy_m[i] - scene.points_xy_m[j]))
                             + 1e-6)
        worst = max(worst, abs(got - ref) / max(ref, 1.0))

    violations = 0
    band = scenario.terrain
    checked_legs = 0
    catalog = LegCatalog(scenario=scenario, dem=dem, proj=scene.proj, zones=scene.zone_map,
                         points_xy_m=scene.points_xy_m)
    drone = scenario.drone_types["quad"]
    for _ in range(min(300, n)):
        i, j = (int(v) for v in rng.choice(n, 2, replace=False))
        leg = catalog.leg(drone, i, j)
        if isinstance(leg, str):
            continue
        checked_legs += 1
        violations += len(band_violations(leg.xy_m, leg.alt_amsl_m, dem, scene.proj,
                                          band.clearance_agl_m, band.ceiling_agl_m))
    km = result.leg_length_m / 1000
    sorties = result.plan.sorties
    etas = [t for s in sorties for t in s.metrics.drop_etas_s.values()]
    row = {
        "drops": n_drops, "zones": n_zones, "zone_vertices": vertices, "seed": seed,
        "drones": 2 * per_hub, "time_limit_s": scenario.params.time_limit_s,
        "objective": objective, "construction": result.construction,
        "served": len(result.plan.served_drop_ids), "unserved": len(result.plan.unserved),
        "sorties": len(sorties),
        "makespan_s": round(max(etas, default=0.0), 1),
        "energy_wh": round(sum(s.metrics.energy_wh for s in sorties), 1),
        "distance_km": round(sum(s.metrics.distance_m for s in sorties) / 1000, 3),
        "constructions": [{"method": c.method, "served": c.served, "sorties": c.sorties,
                           "makespan_s": round(c.makespan_s, 1),
                           "energy_wh": round(c.energy_wh, 1),
                           "distance_km": round(c.distance_m / 1000, 3),
                           "notes": {k: round(v, 3) for k, v in c.notes.items()}}
                          for c in result.candidates],
        "dem_load_s": round(load_s, 3),
        "matrix_s": round(matrix_s, 3),
        "matrix_pairs_checked": pairs, "matrix_blocked_pairs": blocked_pairs,
        "matrix_max_rel_error": worst,
        "plan_total_s": round(total_s, 3), "plan_peak_rss_mib": round(plan_rss, 1),
        "stage_s": {k: round(v, 3) for k, v in stages.items()},
        "stage_peak_rss_mib": {k: round(v, 1) for k, v in stage_rss.items()},
        "terrain_waypoints_per_km": round(result.added_waypoints / km, 3) if km else 0.0,
        "profile_legs_checked": checked_legs, "profile_band_violations": violations,
    }
    print(json.dumps(row), flush=True)
    return row


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write its JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 5000])
    ap.add_argument("--zones", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--drones", type=int, default=None,
                    help="drones per hub (two hubs; default: drops / 100, at least 3)")
    ap.add_argument("--time-limit", type=float, default=None, help="routing search budget, s")
    ap.add_argument("--objective", choices=tuple(OBJECTIVES), default="makespan")
    ap.add_argument("--pairs", type=int, default=200)
    ap.add_argument("--out", default="benchmarks/results/plan_scale.json")
    args = ap.parse_args(argv)
    rows = [run_size(n, args.zones, args.seed, args.pairs, drones=args.drones,
                     time_limit_s=args.time_limit, objective=OBJECTIVES[args.objective])
            for n in args.sizes]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": platform.platform(), "python": sys.version.split()[0],
                               "results": rows}, indent=2) + "\n")
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
