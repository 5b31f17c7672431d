"""Solve a Cheng, Adulyasak & Rousseau (2020) drone routing instance and check the answer.

    python -m benchmarks.cheng2020 INSTANCE.txt [--time-limit S] [--seed N] [--json]
                                   [--objective distance|energy|sorties|makespan_then_energy]

The answer is re-checked by ``benchmarks._check_energy_trips`` (its own parser and arithmetic)
before its cost is printed. Printed fields: ``instance``, ``cost`` (total distance for the
default objective, recomputed by the checker), ``routes`` (customer node numbers of every trip),
``trips`` (``{"drone", "nodes", "start_s"}``, each drone's trips in flying order), ``feasible``,
``seconds`` (wall time of parsing and solving), ``optimal`` (proven by the solver), ``bks`` and
``gap_pct`` against the paper's best known R_e upper bound from ``tableC1_SetA_type1.csv`` when
it lists the instance, plus the solver's lower bound, the trip counts and every trip's energy.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks._check_energy_trips import check
from planner.errors import RoutingInfeasibleError
from planner.routing.trips.cheng import parse_cheng
from planner.routing.trips.solve import TRIP_OBJECTIVES, TripParams, TripProgress, solve_trips

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "cheng2020"
TABLE = "tableC1_SetA_type1.csv"


def table_for(path: Path) -> Path:
    """The best-known table beside an instance file (in its folder or the one above), else the
    one in the shared data beside the repository."""
    for folder in (path.parent, path.parent.parent):
        if (folder / TABLE).is_file():
            return folder / TABLE
    return DATA / TABLE


def best_known(instance: str, table: Path | None = None) -> float | None:
    """The paper's R_e upper bound for ``instance`` (file stem), if the table lists it."""
    path = table if table is not None else DATA / TABLE
    if not path.is_file():
        return None
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            if row["instance"] == instance:
                return float(row["R_e_UB"])
    return None


def solve_file(path: Path, *, time_limit_s: float, seed: int, objective: str = "distance",
               table: Path | None = None, verbose: bool = False) -> dict[str, Any]:
    """Solve one instance file and return the result record (checked)."""
    t0 = time.perf_counter()
    table = table if table is not None else table_for(path)
    text = path.read_text()
    inst = parse_cheng(text, name=path.stem, path=str(path))
    problem = inst.problem(objective)  # type: ignore[arg-type]

    def progress(p: TripProgress) -> None:
        if verbose:
            best = "-" if p.objective is None else f"{p.objective:.3f}"
            bound = "-" if p.bound is None else f"{p.bound:.3f}"
            print(f"[{time.perf_counter() - t0:6.2f} s] {p.stage:9s} trips {p.candidates} "
                  f"best {best} bound {bound}", file=sys.stderr, flush=True)

    try:
        plan = solve_trips(problem, TripParams(time_limit_s=time_limit_s, seed=seed),
                           progress=progress, clock=time.perf_counter)
    except RoutingInfeasibleError as exc:
        return {"instance": path.stem, "objective": objective, "cost": None, "routes": [],
                "trips": [], "feasible": False, "violations": [], "error": str(exc),
                "seconds": round(time.perf_counter() - t0, 3), "optimal": False,
                "bks": best_known(path.stem, table), "gap_pct": None,
                "max_trip_energy_kwh": None, "time_limit_s": time_limit_s, "seed": seed}
    seconds = time.perf_counter() - t0
    trips = [{"drone": t.drone, "nodes": [c + 1 for c in t.customers],
              "start_s": round(t.depart_s, 6)} for t in plan.trips]
    report = check(text, trips)
    cost = report["cost"] if objective == "distance" else plan.cost
    bks = best_known(path.stem, table) if objective == "distance" else None
    return {
        "instance": path.stem,
        "objective": objective,
        "cost": round(cost, 4),
        "routes": [t["nodes"] for t in trips],
        "trips": trips,
        "feasible": report["feasible"],
        "violations": report["violations"],
        "seconds": round(seconds, 3),
        "optimal": plan.optimal,
        "lower_bound": round(plan.lower_bound, 4),
        "bks": bks,
        "gap_pct": None if bks is None else round(100.0 * (cost - bks) / bks, 4),
        "distance_m": round(report["cost"], 4),
        "energy_kwh": round(sum(report["trip_energy_kwh"]), 6),
        "max_trip_energy_kwh": round(max(report["trip_energy_kwh"], default=0.0), 6),
        "trip_energy_kwh": [round(e, 6) for e in report["trip_energy_kwh"]],
        "num_trips": len(trips),
        "drones_used": report["drones_used"],
        "drones": inst.n_drones,
        "candidates": plan.candidates,
        "columns": plan.columns,
        "restricted": plan.restricted,
        "status": plan.status,
        "time_limit_s": time_limit_s,
        "seed": seed,
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; exit 0 when the answer is feasible, 1 otherwise."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("instance", type=Path)
    ap.add_argument("--time-limit", type=float, default=10.0, help="seconds (default 10)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--objective", choices=TRIP_OBJECTIVES, default="distance")
    ap.add_argument("--table", type=Path, default=None,
                    help=f"best-known table (default: {TABLE} beside the instance, else "
                         f"{DATA / TABLE})")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = ap.parse_args(argv)
    result = solve_file(args.instance, time_limit_s=args.time_limit, seed=args.seed,
                        objective=args.objective, table=args.table, verbose=not args.quiet)
    if args.json:
        print(json.dumps(result))
    elif result["cost"] is None:
        print(f"{result['instance']}: no answer ({result['error']})")
    else:
        gap = "" if result["gap_pct"] is None else (f"  bks {result['bks']}  "
                                                    f"gap {result['gap_pct']:+.3f} %")
        print(f"{result['instance']}: cost {result['cost']:.1f}{gap}  trips "
              f"{result['num_trips']} on {result['drones_used']}/{result['drones']} drones  "
              f"optimal {result['optimal']}  feasible {result['feasible']}  "
              f"max trip energy {result['max_trip_energy_kwh']:.4f} kWh  "
              f"{result['seconds']:.2f} s")
        for t in result["trips"]:
            print(f"  drone {t['drone']} at {t['start_s']:9.2f} s: {t['nodes']}")
        for v in result["violations"]:
            print(f"  VIOLATION {v}")
    return 0 if result["feasible"] else 1


if __name__ == "__main__":
    sys.exit(main())
