"""Planner scale benchmark: 1,000 to 10,000 drops with 50 no-fly zones on the real DEM.

Each run plans a seeded synthetic scenario end to end in a child process of its own and reports
the wall time and the planner process's CPU time of each stage, the child's peak resident memory
(``ru_maxrss``) by the end of each stage and of the whole plan, and, with ``--workers``, the
largest worker's peak and the workers' CPU time; the median of
``--repeat`` runs per size is written as JSON. The first run of each size also checks the exact
obstacle-avoiding distance matrix against a brute-force visibility-graph Dijkstra on sampled
pairs, and random legs for terrain-band violations.

    python -m benchmarks.plan_scale [--sizes 1000 5000] [--zones 50] [--seed 0]
                                    [--drones N] [--time-limit S] [--objective makespan]
                                    [--workers 2] [--repeat 3] [--pairs 200]
                                    [--out benchmarks/results/plan_scale.json]

``--drones`` is the number of drones at each of the two hubs (default: a hundredth of the
drops, at least 3); ``--time-limit`` the routing search budget (default: the scenario's, 30 s);
``--workers`` the processes of the pool the planner's independent work runs on (0: none).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from planner.io.dem import load_dem
from planner.legs.catalogue import LegCatalog
from planner.legs.profile import band_violations
from planner.pipeline import build_scene, make_plan
from planner.routing import Objective
from planner.scenario import Scenario
from planner.tasks import MapFn
from planner.terrain import Dem
from tests.helpers.nofly_reference import ReferenceGraph
from tests.helpers.synth import synthetic_scenario


def peak_rss_mib(who: int = resource.RUSAGE_SELF) -> float:
    """Peak resident memory of this process (or its largest finished child) so far, in MiB."""
    return resource.getrusage(who).ru_maxrss / 1024


OBJECTIVES: dict[str, Objective] = {"makespan": "makespan_then_energy", "distance": "distance",
                                    "sorties": "sorties"}


def bench_scenario(n_drops: int, n_zones: int, seed: int, drones: int | None,
                   time_limit_s: float | None) -> Scenario:
    """The seeded synthetic scenario of one size (``drones`` per hub)."""
    per_hub = drones if drones is not None else max(3, n_drops // 100)
    scenario = synthetic_scenario(n_drops=n_drops, n_zones=n_zones, seed=seed,
                                  drones_per_hub=per_hub)
    params = dataclasses.replace(scenario.params, seed=seed)
    if time_limit_s is not None:
        params = dataclasses.replace(params, time_limit_s=time_limit_s)
    return dataclasses.replace(scenario, params=params)


def matrix_check(scenario: Scenario, pairs: int, seed: int,
                 map_fn: MapFn | None) -> dict[str, Any]:
    """The pipeline's distance matrix against the brute-force reference on sampled pairs."""
    scene = build_scene(scenario)
    t0 = time.perf_counter()
    matrix = scene.zone_map.distance_matrix(scene.points_xy_m, map_fn=map_fn)
    matrix_s = time.perf_counter() - t0
    rng = np.random.default_rng(seed)
    reference = ReferenceGraph(scene.zone_map.merged)
    n = len(scene.points_xy_m)
    worst = 0.0
    blocked = 0
    for _ in range(pairs):
        i, j = (int(v) for v in rng.choice(n, 2, replace=False))
        ref = reference.distance(scene.points_xy_m[i], scene.points_xy_m[j])
        got = float(matrix[i, j])
        if np.isinf(ref) or np.isinf(got):
            assert np.isinf(ref) and np.isinf(got), (i, j, ref, got)
            continue
        blocked += int(ref > np.hypot(*(scene.points_xy_m[i] - scene.points_xy_m[j])) + 1e-6)
        worst = max(worst, abs(got - ref) / max(ref, 1.0))
    return {"matrix_s": round(matrix_s, 3), "matrix_pairs_checked": pairs,
            "matrix_blocked_pairs": blocked, "matrix_max_rel_error": worst,
            "matrix_exact_1e-9": worst <= 1e-9}


def band_check(scenario: Scenario, dem: Dem, seed: int) -> dict[str, Any]:
    """Random legs re-checked for heights outside the terrain band."""
    scene = build_scene(scenario)
    rng = np.random.default_rng(seed + 1)
    catalog = LegCatalog(scenario=scenario, dem=dem, proj=scene.proj, zones=scene.zone_map,
                         points_xy_m=scene.points_xy_m)
    drone = scenario.drone_types["quad"]
    band = scenario.terrain
    n = len(scene.points_xy_m)
    violations = checked = 0
    for _ in range(min(300, n)):
        i, j = (int(v) for v in rng.choice(n, 2, replace=False))
        leg = catalog.leg(drone, i, j)
        if isinstance(leg, str):
            continue
        checked += 1
        violations += len(band_violations(leg.xy_m, leg.alt_amsl_m, dem, scene.proj,
                                          band.clearance_agl_m, band.ceiling_agl_m))
    return {"profile_legs_checked": checked, "profile_band_violations": violations}


def run_once(n_drops: int, n_zones: int, seed: int, *, drones: int | None = None,
             time_limit_s: float | None = None, objective: Objective = "makespan_then_energy",
             workers: int = 0, pairs: int = 0) -> dict[str, Any]:
    """Plan one synthetic scenario in this process and measure every stage."""
    scenario = bench_scenario(n_drops, n_zones, seed, drones, time_limit_s)
    dem = load_dem(scenario.terrain.dem_paths)
    stages = _StageMarks()
    pool = ProcessPoolExecutor(max_workers=workers) if workers > 0 else None
    map_fn = pool.map if pool is not None else None
    try:
        t0 = time.perf_counter()
        stages.start()
        result = make_plan(scenario, dem, objective=objective, timings=stages,
                           clock=time.perf_counter, map_fn=map_fn)
        total_s = time.perf_counter() - t0
        plan_rss = peak_rss_mib()
        checks: dict[str, Any] = {}
        if pairs > 0:
            checks = {**matrix_check(scenario, pairs, seed, map_fn),
                      **band_check(scenario, dem, seed)}
    finally:
        if pool is not None:
            pool.shutdown()
    worker_rss = peak_rss_mib(resource.RUSAGE_CHILDREN) if workers > 0 else 0.0
    km = result.leg_length_m / 1000
    sorties = result.plan.sorties
    etas = [t for s in sorties for t in s.metrics.drop_etas_s.values()]
    return {
        "drops": n_drops, "zones": n_zones, "seed": seed,
        "drones": sum(sum(d.drones.values()) for d in scenario.depots),
        "time_limit_s": scenario.params.time_limit_s, "objective": objective,
        "workers": workers, "construction": result.construction,
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
        "plan_total_s": round(total_s, 3), "plan_peak_rss_mib": round(plan_rss, 1),
        "worker_peak_rss_mib": round(worker_rss, 1),
        "stage_s": {k: round(v, 3) for k, v in stages.items()},
        "stage_peak_rss_mib": {k: round(v, 1) for k, v in stages.rss_mib.items()},
        "stage_cpu_s": {k: round(v, 3) for k, v in stages.cpu_s.items()},
        "worker_cpu_s": round(_children_cpu_s(), 3),
        "terrain_waypoints_per_km": round(result.added_waypoints / km, 3) if km else 0.0,
        **checks,
    }


class _StageMarks(dict[str, float]):
    """Stage seconds (filled by the pipeline) that also note, as each stage ends, the peak
    memory so far and the CPU seconds this process spent in the stage."""

    def __init__(self) -> None:
        super().__init__()
        self.rss_mib: dict[str, float] = {}
        self.cpu_s: dict[str, float] = {}
        self._cpu = time.process_time()

    def start(self) -> None:
        """The first stage starts now."""
        self._cpu = time.process_time()

    def __setitem__(self, stage: str, seconds: float) -> None:
        super().__setitem__(stage, seconds)
        now = time.process_time()
        self.rss_mib[stage] = peak_rss_mib()
        self.cpu_s[stage] = now - self._cpu
        self._cpu = now


def _children_cpu_s() -> float:
    """CPU seconds of this process's finished children (the pool's workers)."""
    use = resource.getrusage(resource.RUSAGE_CHILDREN)
    return use.ru_utime + use.ru_stime


def run_child(args: dict[str, Any]) -> dict[str, Any]:
    """One run in a fresh child process (its own peak memory); its JSON row."""
    proc = subprocess.run([sys.executable, "-m", "benchmarks.plan_scale", "--child",
                           json.dumps(args)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark run {args} failed:\n{proc.stderr[-4000:]}")
    row: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return row


def median_row(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The first run's row with times and memory replaced by the medians over ``runs``."""
    row = dict(runs[0])
    row["runs"] = len(runs)
    for key in ("plan_total_s", "plan_peak_rss_mib", "worker_peak_rss_mib"):
        row[key] = round(statistics.median(r[key] for r in runs), 3)
        row[key + "_all"] = [r[key] for r in runs]
    for key in ("stage_s", "stage_peak_rss_mib", "stage_cpu_s"):
        row[key] = {k: round(statistics.median(r[key][k] for r in runs), 3) for k in row[key]}
    row["same_plan_every_run"] = len({(r["served"], r["sorties"], r["makespan_s"],
                                       r["energy_wh"]) for r in runs}) == 1
    return row


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write its JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000])
    ap.add_argument("--zones", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--drones", type=int, default=None,
                    help="drones per hub (two hubs; default: drops / 100, at least 3)")
    ap.add_argument("--time-limit", type=float, default=None, help="routing search budget, s")
    ap.add_argument("--objective", choices=tuple(OBJECTIVES), default="makespan")
    ap.add_argument("--workers", type=int, default=2, help="worker processes (0: none)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per size (median reported)")
    ap.add_argument("--pairs", type=int, default=200, help="matrix pairs checked (first run)")
    ap.add_argument("--out", default="benchmarks/results/plan_scale.json")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child is not None:
        print(json.dumps(run_once(**json.loads(args.child))), flush=True)
        return 0
    rows = []
    for n in args.sizes:
        runs = []
        for k in range(max(1, args.repeat)):
            runs.append(run_child({
                "n_drops": n, "n_zones": args.zones, "seed": args.seed, "drones": args.drones,
                "time_limit_s": args.time_limit, "objective": OBJECTIVES[args.objective],
                "workers": args.workers, "pairs": args.pairs if k == 0 else 0}))
            print(json.dumps({k2: runs[-1][k2] for k2 in (
                "drops", "served", "sorties", "plan_total_s", "plan_peak_rss_mib",
                "worker_peak_rss_mib", "stage_s", "stage_cpu_s", "worker_cpu_s")}), flush=True)
        rows.append(median_row(runs))
        print(json.dumps(rows[-1]), flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": platform.platform(), "python": sys.version.split()[0],
                               "results": rows}, indent=2) + "\n")
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
