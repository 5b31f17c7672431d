"""Sweep benchmark instances: our router side by side with OR-Tools routing and plain PyVRP.

    python -m benchmarks.sweep [--set cheng|cmt|all] [--sizes 10 15 20] [--instances NAME ...]
                               [--time-limit S] [--seeds 1 2 3] [--solvers ours ortools pyvrp]
                               [--out benchmarks/results/sweep.json]
    python -m benchmarks.sweep --show benchmarks/results/sweep.json

Every answer of every solver is re-checked by an independent checker before its cost counts
(``benchmarks._check_energy_trips`` for Cheng, ``benchmarks._check_cvrp`` for CMT); an answer it
rejects, or none at all, is reported as infeasible and left out of the mean gap.

Cheng et al. (2020), Set A type 1 (``--set cheng``):

- ``ours``: ``planner.routing.trips.solve`` (exact energy, trip enumeration, CP-SAT selection and
  scheduling);
- ``ortools``: OR-Tools routing (``ortools.constraint_solver``), one vehicle per potential trip,
  ``ceil(n / K) + 1`` of them per drone, chained per drone (a trip starts after the previous one
  of its drone lands); capacity, time windows with waiting, the depot's horizon, and the best
  battery bound an arc-based dimension can express: arc ``i -> j`` costs the power at the most
  payload that can still be on board there (1.5 kg out of the depot, 1.5 kg minus the demand of
  ``i`` after customer ``i``, empty back to the depot) times its flight time. This is
  conservative (it never accepts a trip over the battery) but rejects some feasible trips; the
  load-dependent energy itself cannot be expressed by a routing dimension;
- ``pyvrp``: plain PyVRP through ``planner.routing.solve`` (multi-trip by reloads), capacity,
  time windows, horizon, and a per-trip distance limit: the range at full payload
  (0.27 kWh / P(1.5 kg) at 1 m/s, 1007.7 m), the only safe per-trip energy bound it can
  express; customers beyond half that range are then out of reach and the answer fails;
- ``pyvrp-empty`` (not run by default): the same with the empty range (1851.3 m), optimistic
  like a linearised energy: the checker shows how often its trips break the battery.

CMT (``--set cmt``), when ``benchmarks/vrplib.py`` exists: ``ours`` is ``python -m
benchmarks.vrplib`` (the PyVRP routing core), ``ortools`` OR-Tools routing with capacity and
the route limit (travel plus service time) as a dimension.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks._check_energy_trips import check as check_trips
from benchmarks.cheng2020 import DATA, best_known, solve_file
from planner.routing.trips.cheng import (
    CAPACITY_KG,
    ENERGY_LIMIT_KWH,
    K_W_PER_KG15,
    ChengInstance,
    parse_cheng,
)

REPO = Path(__file__).resolve().parents[1]
VRPLIB = REPO.parent / "shared" / "data" / "vrplib" / "CMT"
CMT_NAMES = ("CMT6", "CMT7", "CMT8", "CMT9", "CMT10", "CMT13", "CMT14")
SCALE = 100  # OR-Tools integers: centimetres, centiseconds, grams, joules / 10


def cheng_power_w(payload_kg: float) -> float:
    """Their hover power with ``payload_kg`` on board."""
    return float(K_W_PER_KG15 * (3.0 + payload_kg) ** 1.5)


# ---------------------------------------------------------------- OR-Tools on Cheng
def _search_params(time_limit_s: float) -> Any:
    """Path-cheapest-arc start (the insertion heuristics find nothing with chained trips),
    then guided local search until the time limit."""
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH)
    params.time_limit.FromMilliseconds(max(1, int(time_limit_s * 1000)))
    return params


def ortools_cheng(inst: ChengInstance, *, time_limit_s: float, seed: int) -> list[dict[str, Any]]:
    """Trips found by OR-Tools routing (``[]`` if none), as ``{"drone", "nodes", "start_s"}``.

    OR-Tools routing has no seed: its search is deterministic, cut by the time limit.
    """
    from ortools.constraint_solver import pywrapcp

    n, k_drones = inst.n_customers, inst.n_drones
    slots = math.ceil(n / k_drones) + 1
    vehicles = k_drones * slots
    manager = pywrapcp.RoutingIndexManager(n + 1, vehicles, 0)
    routing = pywrapcp.RoutingModel(manager)

    def node(index: int) -> int:
        return int(manager.IndexToNode(index))

    def dist_cb(a: int, b: int) -> int:
        return round(inst.distance_m(node(a), node(b)) * SCALE)

    def time_cb(a: int, b: int) -> int:
        return math.ceil(inst.time_s(node(a), node(b)) * SCALE)

    def demand_cb(a: int) -> int:
        return round(inst.demand_kg[node(a)] * 1000)

    def energy_cb(a: int, b: int) -> int:
        i, j = node(a), node(b)
        most = 0.0 if j == 0 else CAPACITY_KG if i == 0 else CAPACITY_KG - inst.demand_kg[i]
        return math.ceil(cheng_power_w(max(0.0, most)) * inst.time_s(i, j) / 10)

    routing.SetArcCostEvaluatorOfAllVehicles(routing.RegisterTransitCallback(dist_cb))
    routing.AddDimensionWithVehicleCapacity(routing.RegisterUnaryTransitCallback(demand_cb), 0,
                                            [round(CAPACITY_KG * 1000)] * vehicles, True, "load")
    limit = math.floor(ENERGY_LIMIT_KWH * 3.6e6 / 10)
    routing.AddDimension(routing.RegisterTransitCallback(energy_cb), 0, limit, True, "energy")
    horizon = math.floor(inst.horizon_s * SCALE)
    routing.AddDimension(routing.RegisterTransitCallback(time_cb), horizon, horizon, False, "time")
    tdim = routing.GetDimensionOrDie("time")
    for c in range(1, n + 1):
        tdim.CumulVar(manager.NodeToIndex(c)).SetRange(math.ceil(inst.ready_s[c] * SCALE),
                                                       math.floor(inst.due_s[c] * SCALE))
    solver = routing.solver()
    for d in range(k_drones):
        for m in range(slots - 1):
            v = d * slots + m
            solver.Add(tdim.CumulVar(routing.End(v)) <= tdim.CumulVar(routing.Start(v + 1)))
    for v in range(vehicles):
        routing.AddVariableMinimizedByFinalizer(tdim.CumulVar(routing.Start(v)))
    sol = routing.SolveWithParameters(_search_params(time_limit_s))
    if sol is None:
        return []
    trips = []
    for v in range(vehicles):
        index = routing.Start(v)
        start = sol.Min(tdim.CumulVar(index)) / SCALE
        nodes = []
        index = sol.Value(routing.NextVar(index))
        while not routing.IsEnd(index):
            nodes.append(node(index))
            index = sol.Value(routing.NextVar(index))
        if nodes:
            trips.append({"drone": v // slots, "nodes": nodes, "start_s": start})
    return trips


# ---------------------------------------------------------------- plain PyVRP on Cheng
def pyvrp_cheng(inst: ChengInstance, *, time_limit_s: float, seed: int,
                payload_kg: float = CAPACITY_KG) -> list[dict[str, Any]]:
    """Trips found by plain PyVRP through the routing core (``[]`` if none).

    Every trip is limited to the range at ``payload_kg`` on board all the way: safe at the full
    1.5 kg, optimistic (like a linearised energy) below it.
    """
    import numpy as np

    from planner.errors import RoutingInfeasibleError
    from planner.routing import Client, DepotNode, RoutingProblem, VehicleType, solve

    n = inst.n_customers
    dist = np.array([[inst.distance_m(i, j) for j in range(n + 1)] for i in range(n + 1)])
    range_m = ENERGY_LIMIT_KWH * 3.6e6 / cheng_power_w(payload_kg)
    problem = RoutingProblem(
        depots=(DepotNode(name="0"),),
        clients=tuple(Client(demand=inst.demand_kg[c], earliest_s=inst.ready_s[c],
                             latest_s=inst.due_s[c], name=str(c)) for c in range(1, n + 1)),
        vehicle_types=(VehicleType(depot=0, count=inst.n_drones, capacity=CAPACITY_KG,
                                   max_trip_distance_m=range_m,
                                   shift_end_s=inst.horizon_s, max_trips=n),),
        distance_m=dist, duration_s=dist, objective="distance")
    try:
        answer = solve(problem, seed=seed, time_limit_s=time_limit_s, clock=time.perf_counter)
    except RoutingInfeasibleError:
        return []
    return [{"drone": r.vehicle, "nodes": [c + 1 for c in trip.clients],
             "start_s": trip.depart_s} for r in answer.routes for trip in r.trips]


def run_cheng(path: Path, solver: str, *, time_limit_s: float, seed: int) -> dict[str, Any]:
    """One solver on one Cheng instance: checked cost, feasibility, seconds."""
    if solver == "ours":
        r = solve_file(path, time_limit_s=time_limit_s, seed=seed)
        return {"cost": r["cost"] if r["feasible"] else None, "feasible": r["feasible"],
                "seconds": r["seconds"], "optimal": r["optimal"], "trips": r["trips"],
                "max_trip_energy_kwh": r["max_trip_energy_kwh"]}
    text = path.read_text()
    inst = parse_cheng(text, name=path.stem)
    t0 = time.perf_counter()
    if solver == "ortools":
        trips = ortools_cheng(inst, time_limit_s=time_limit_s, seed=seed)
    else:
        trips = pyvrp_cheng(inst, time_limit_s=time_limit_s, seed=seed,
                            payload_kg=0.0 if solver == "pyvrp-empty" else CAPACITY_KG)
    seconds = time.perf_counter() - t0
    if not trips:
        return {"cost": None, "feasible": False, "seconds": round(seconds, 3), "trips": []}
    report = check_trips(text, trips)
    return {"cost": round(report["cost"], 4) if report["feasible"] else None,
            "feasible": report["feasible"], "seconds": round(seconds, 3), "trips": trips,
            "violations": report["violations"][:5],
            "max_trip_energy_kwh": round(max(report["trip_energy_kwh"]), 6)}


# ---------------------------------------------------------------- CMT
def ortools_cmt(path: Path, *, time_limit_s: float, seed: int) -> dict[str, Any]:
    """OR-Tools routing on a CVRPLIB instance with its route limit; checked record."""
    from ortools.constraint_solver import pywrapcp

    from benchmarks._check_cvrp import arc, check_cvrp, read_instance

    inst = read_instance(path)
    n = len(inst.coords)
    dep = inst.depot
    total = sum(inst.demand)
    vehicles = inst.vehicles or math.ceil(total / inst.capacity) + 3
    manager = pywrapcp.RoutingIndexManager(n, vehicles, dep)
    routing = pywrapcp.RoutingModel(manager)

    def arc_cb(a: int, b: int) -> int:
        return round(arc(inst, manager.IndexToNode(a), manager.IndexToNode(b), False) * SCALE)

    def limit_cb(a: int, b: int) -> int:
        i, j = manager.IndexToNode(a), manager.IndexToNode(b)
        service = inst.service_time if j != dep else 0.0
        return math.ceil((arc(inst, i, j, False) + service) * SCALE)

    def demand_cb(a: int) -> int:
        return round(inst.demand[manager.IndexToNode(a)])

    routing.SetArcCostEvaluatorOfAllVehicles(routing.RegisterTransitCallback(arc_cb))
    routing.AddDimensionWithVehicleCapacity(routing.RegisterUnaryTransitCallback(demand_cb), 0,
                                            [round(inst.capacity)] * vehicles, True, "load")
    if inst.route_limit is not None:
        routing.AddDimension(routing.RegisterTransitCallback(limit_cb), 0,
                             math.floor(inst.route_limit * SCALE), True, "limit")
    t0 = time.perf_counter()
    sol = routing.SolveWithParameters(_search_params(time_limit_s))
    seconds = time.perf_counter() - t0
    if sol is None:
        return {"cost": None, "feasible": False, "seconds": round(seconds, 3)}
    routes = []
    for v in range(vehicles):
        index = sol.Value(routing.NextVar(routing.Start(v)))
        route = []
        while not routing.IsEnd(index):
            route.append(manager.IndexToNode(index))
            index = sol.Value(routing.NextVar(index))
        if route:
            routes.append(route)
    checked = check_cvrp(inst, routes)
    return {"cost": round(checked.cost, 4) if checked.feasible else None,
            "feasible": checked.feasible, "seconds": round(seconds, 3)}


def ours_cmt(path: Path, *, time_limit_s: float, seed: int) -> dict[str, Any]:
    """``python -m benchmarks.vrplib`` on one instance (its own checker), as a record."""
    cmd = [sys.executable, "-m", "benchmarks.vrplib", str(path), "--time-limit",
           str(time_limit_s), "--seed", str(seed), "--json"]
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)
    try:
        rec = json.loads(out.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return {"cost": None, "feasible": False, "seconds": None, "error": out.stderr[-300:]}
    return {"cost": rec["cost"] if rec.get("feasible") else None,
            "feasible": bool(rec.get("feasible")), "seconds": rec.get("seconds")}


def cmt_bks(name: str) -> float | None:
    """Best known cost from the ``.sol`` file."""
    sol = VRPLIB / f"{name}.sol"
    if not sol.is_file():
        return None
    for line in sol.read_text().splitlines():
        if line.lower().startswith("cost"):
            return float(line.split()[1])
    return None


# ---------------------------------------------------------------- sweep and table
def gap(cost: float | None, bks: float | None) -> float | None:
    """Gap in % to the best known value."""
    return None if cost is None or not bks else 100.0 * (cost - bks) / bks


def summarise(runs: list[dict[str, Any]], bks: float | None) -> dict[str, Any]:
    """Mean over seeds of the checked costs (None if any seed failed), gaps and seconds."""
    costs = [r["cost"] for r in runs]
    ok = all(c is not None for c in costs)
    mean = statistics.fmean(costs) if ok and costs else None
    secs = [r["seconds"] for r in runs if r.get("seconds") is not None]
    return {"mean_cost": None if mean is None else round(mean, 4),
            "best_cost": min((c for c in costs if c is not None), default=None),
            "gap_pct": None if gap(mean, bks) is None else round(gap(mean, bks) or 0.0, 4),
            "feasible_runs": sum(bool(r["feasible"]) for r in runs), "runs": len(runs),
            "optimal_runs": sum(bool(r.get("optimal")) for r in runs),
            "mean_seconds": round(statistics.fmean(secs), 3) if secs else None}


def cheng_paths(sizes: list[int], names: list[str] | None) -> list[Path]:
    """Instance files of the requested sizes (or names), in size order."""
    folder = DATA / "SetA_type1"
    paths = sorted(folder.glob("Set_A1_Cust_*.txt"),
                   key=lambda p: tuple(int(v) for v in p.stem.split("_")[-2:]))
    if names:
        return [p for p in paths if p.stem in names]
    return [p for p in paths if int(p.stem.split("_")[-2]) in sizes]


def fmt(v: float | None, spec: str) -> str:
    """``v`` formatted by ``spec``, or a dash as wide."""
    width = spec.split(".")[0]
    return format("-", f">{width}") if v is None else format(v, spec)


def print_table(rows: list[dict[str, Any]], solvers: list[str]) -> None:
    """One line per instance: BKS, each solver's mean cost, gap and seconds."""
    head = f"{'instance':20s} {'BKS':>10s}"
    for s in solvers:
        head += f" | {s:>10s} {'gap%':>7s} {'s':>6s}"
    print(head)
    for row in rows:
        line = f"{row['instance']:20s} {fmt(row['bks'], '10.1f')}"
        for s in solvers:
            r = row["solvers"][s]
            mark = "*" if r["optimal_runs"] == r["runs"] and r["runs"] else " "
            line += (f" | {fmt(r['mean_cost'], '10.1f')}{mark}{fmt(r['gap_pct'], '6.2f')} "
                     f"{fmt(r['mean_seconds'], '6.1f')}")
            if r["feasible_runs"] < r["runs"]:
                line += f" ({r['runs'] - r['feasible_runs']} infeasible)"
        print(line)
    for s in solvers:
        gaps = [row["solvers"][s]["gap_pct"] for row in rows]
        known = [g for g in gaps if g is not None]
        mean = statistics.fmean(known) if known else None
        print(f"mean gap {s}: {fmt(mean, '.3f')} % over {len(known)} of {len(rows)} instances")
    print("(* proven optimal in every run)")


def main(argv: list[str] | None = None) -> int:
    """Run the sweep, print the table and write the JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", choices=("cheng", "cmt", "all"), default="cheng")
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 15, 20])
    ap.add_argument("--instances", nargs="+", default=None, help="instance names (file stems)")
    ap.add_argument("--time-limit", type=float, default=10.0)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--solvers", nargs="+", default=["ours", "ortools", "pyvrp"],
                    choices=("ours", "ortools", "pyvrp", "pyvrp-empty"))
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "sweep.json")
    ap.add_argument("--show", type=Path, default=None,
                    help="print the table of an earlier result file and exit")
    args = ap.parse_args(argv)
    if args.show is not None:
        saved = json.loads(args.show.read_text())
        print(f"time limit {saved['time_limit_s']} s, seeds {saved['seeds']}")
        print_table(saved["rows"], saved["solvers"])
        return 0
    rows: list[dict[str, Any]] = []
    if args.set in ("cheng", "all"):
        for path in cheng_paths(args.sizes, args.instances):
            bks = best_known(path.stem)
            row: dict[str, Any] = {"set": "cheng", "instance": path.stem, "bks": bks,
                                   "solvers": {}, "runs": {}}
            for solver in args.solvers:
                runs = []
                for seed in args.seeds:
                    rec = run_cheng(path, solver, time_limit_s=args.time_limit, seed=seed)
                    rec["seed"] = seed
                    runs.append(rec)
                    print(f"{path.stem} {solver} seed {seed}: cost {rec['cost']} "
                          f"feasible {rec['feasible']} {rec['seconds']} s", file=sys.stderr,
                          flush=True)
                row["runs"][solver] = runs
                row["solvers"][solver] = summarise(runs, bks)
            rows.append(row)
    if args.set in ("cmt", "all") and (REPO / "benchmarks" / "vrplib.py").is_file():
        cmt_solvers = [s for s in args.solvers if s in ("ours", "ortools")]
        for name in (args.instances or CMT_NAMES):
            path = VRPLIB / f"{name}.vrp"
            if not path.is_file():
                continue
            bks = cmt_bks(name)
            row = {"set": "cmt", "instance": name, "bks": bks, "solvers": {}, "runs": {}}
            for solver in cmt_solvers:
                fn = ours_cmt if solver == "ours" else ortools_cmt
                runs = []
                for seed in args.seeds:
                    rec = fn(path, time_limit_s=args.time_limit, seed=seed)
                    rec["seed"] = seed
                    runs.append(rec)
                    print(f"{name} {solver} seed {seed}: cost {rec['cost']}", file=sys.stderr,
                          flush=True)
                row["runs"][solver] = runs
                row["solvers"][solver] = summarise(runs, bks)
            for solver in args.solvers:
                row["solvers"].setdefault(solver, summarise([], bks))
            rows.append(row)
    print_table(rows, args.solvers)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"time_limit_s": args.time_limit, "seeds": args.seeds,
                                    "solvers": args.solvers, "rows": rows}, indent=1))
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
