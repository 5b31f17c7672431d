"""Solve a CVRPLIB instance with the planner's routing core and re-check the answer.

    python -m benchmarks.vrplib INSTANCE.vrp [--time-limit S] [--seed N] [--json]
                                [--solution FILE.sol] [--iterations N]
                                [--rounding auto|round|exact]

Reads the instance with the ``vrplib`` package: capacity, and for CMT/Golden the ``DISTANCE``
route limit with ``SERVICE_TIME`` (the limit bounds travel plus service time per route). Arc
costs: CMT and Golden are unrounded Euclidean; Augerat A/B/P and Christofides-Eilon E round each
arc to the nearest integer (``--rounding auto`` decides from ``EDGE_WEIGHT_TYPE`` and the
family). The vehicle count is unlimited unless the instance has a ``VEHICLES`` field.

Prints ``{"instance", "cost", "routes", "feasible", "seconds"}`` (``routes`` as customer ids in
the ``.sol`` convention, the depot left out; ``feasible`` from the independent checker
``benchmarks/_check_cvrp.py``), and with ``--solution`` the best known cost and the gap in %.
Exits 0 if the answer is feasible, 1 if not.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import vrplib

from benchmarks._check_cvrp import check_cvrp, read_instance
from planner.errors import RoutingInfeasibleError
from planner.routing import Client, DepotNode, RoutingProblem, VehicleType, solve


def rounding_for(data: dict[str, Any], name: str) -> bool:
    """Whether arcs are rounded to the nearest integer under the instance family's convention."""
    if str(data.get("edge_weight_type", "")).upper() != "EUC_2D":
        return False
    if name.upper().startswith(("CMT", "GOLDEN")):
        return False
    return "distance" not in data and "service_time" not in data


def problem_from_vrplib(path: str | Path, rounding: str = "auto") -> tuple[RoutingProblem,
                                                                           list[int], str]:
    """The routing problem of a CVRPLIB file, the node id of each client, and its name."""
    data = vrplib.read_instance(str(path))
    name = str(data.get("name", Path(path).stem))
    rounded = rounding_for(data, name) if rounding == "auto" else rounding == "round"
    weights = np.asarray(data["edge_weight"], dtype=np.float64)
    if rounded:
        weights = np.floor(weights + 0.5)
    depot = int(np.asarray(data["depot"]).ravel()[0])
    n = weights.shape[0]
    order = [depot] + [i for i in range(n) if i != depot]
    matrix = weights[np.ix_(order, order)]
    demand = np.asarray(data["demand"], dtype=np.float64)
    service = float(data.get("service_time", 0.0))
    clients = tuple(Client(demand=float(demand[i]), service_s=service, name=str(i))
                    for i in order[1:])
    limit = float(data["distance"]) if "distance" in data else math.inf
    count = int(data["vehicles"]) if "vehicles" in data else len(clients)
    vt = VehicleType(depot=0, count=count, capacity=float(data["capacity"]),
                     max_trip_duration_s=limit)
    problem = RoutingProblem(depots=(DepotNode(name=str(depot)),), clients=clients,
                             vehicle_types=(vt,), distance_m=matrix, duration_s=matrix,
                             objective="distance")
    return problem, order[1:], name


def run(path: str | Path, *, time_limit_s: float, seed: int, iterations: int | None = None,
        solution: str | Path | None = None, rounding: str = "auto",
        show_progress: bool = False) -> dict[str, Any]:
    """Solve one instance and return the JSON record."""
    problem, node_of, name = problem_from_vrplib(path, rounding)

    def progress(done_s: float, total_s: float, best: float) -> None:
        print(f"\r[{done_s:6.1f}/{total_s:.0f} s] best {best:.4f}", end="", file=sys.stderr)

    t0 = time.perf_counter()
    try:
        answer = solve(problem, seed=seed, time_limit_s=time_limit_s, max_iterations=iterations,
                       clock=time.perf_counter, progress=progress if show_progress else None)
    except RoutingInfeasibleError as exc:
        seconds = time.perf_counter() - t0
        return {"instance": name, "cost": None, "routes": [], "feasible": False,
                "seconds": round(seconds, 3), "error": str(exc)}
    seconds = time.perf_counter() - t0
    if show_progress:
        print(file=sys.stderr)
    routes = [[node_of[c] for c in trip.clients] for r in answer.routes for trip in r.trips]
    rounded = rounding_for(vrplib.read_instance(str(path)), name) if rounding == "auto" \
        else rounding == "round"
    checked = check_cvrp(read_instance(path), routes, rounded=rounded,
                         claimed_cost=answer.distance_m)
    record: dict[str, Any] = {"instance": name, "cost": answer.distance_m, "routes": routes,
                              "feasible": checked.feasible, "seconds": round(seconds, 3),
                              "seed": seed, "time_limit_s": time_limit_s}
    if checked.violations:
        record["violations"] = checked.violations
    if solution is not None:
        bks = float(vrplib.read_solution(str(solution))["cost"])
        record["bks"] = bks
        record["gap_pct"] = 100.0 * (answer.distance_m - bks) / bks
    return record


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(prog="python -m benchmarks.vrplib", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("instance", type=Path)
    ap.add_argument("--time-limit", type=float, default=10.0, help="seconds (default 10)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--iterations", type=int, default=None,
                    help="iteration budget: the answer then depends on the seed alone")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--solution", type=Path, default=None, help="best known .sol for the gap")
    ap.add_argument("--rounding", choices=("auto", "round", "exact"), default="auto")
    args = ap.parse_args(argv)
    record = run(args.instance, time_limit_s=args.time_limit, seed=args.seed,
                 iterations=args.iterations, solution=args.solution, rounding=args.rounding,
                 show_progress=not args.json and sys.stderr.isatty())
    if args.json:
        print(json.dumps(record))
    else:
        cost = "-" if record["cost"] is None else f"{record['cost']:.4f}"
        gap = f"  gap {record['gap_pct']:+.3f} %" if "gap_pct" in record else ""
        print(f"{record['instance']}: cost {cost}  routes {len(record['routes'])}  "
              f"feasible {record['feasible']}  {record['seconds']:.1f} s{gap}")
        for v in record.get("violations", []):
            print(f"  violation: {v}")
    return 0 if record["feasible"] else 1


if __name__ == "__main__":
    sys.exit(main())
