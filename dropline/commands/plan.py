"""``dropline plan`` and ``dropline verify``.

Exit codes (:mod:`dropline.commands.exit_codes`): ``plan`` 0 when a plan was written, 3 when the
verifier rejects it (nothing flyable is written); ``verify`` 0 when the plan passes, 1 when it
breaks any rule; both 2 on bad input.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from dropline.commands.exit_codes import ExitCode
from planner.cost import cost_summary, format_cost, plan_cost
from planner.errors import InputError
from planner.io.costs import load_costs
from planner.io.inputs import load_scenario_with_dem
from planner.io.plan_folder import PlanFolder, read_plan_source, write_plan_folder
from planner.mission_plan import plan_from_mission
from planner.pipeline import make_plan, plan_summary
from planner.plan_model import Plan
from planner.routing import Objective
from planner.scenario import Scenario
from planner.terrain import Dem
from planner.verify.verifier import format_violations, verify_plan

#: ``--objective`` choices and the planner objective each selects.
OBJECTIVES: dict[str, Objective] = {"makespan": "makespan_then_energy", "distance": "distance",
                                    "sorties": "sorties"}
#: Unit shown by the progress bar of each stage (drops by default).
STAGE_UNITS = {"routing": "%"}


def add_plan_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``dropline plan`` that choose what the routing minimises."""
    parser.add_argument("--objective", choices=tuple(OBJECTIVES), default=None,
                        help="makespan: last drop delivered, then energy (default); distance: "
                             "total flight distance; sorties: number of sorties, then distance")
    parser.add_argument("--strict", action="store_true",
                        help="refuse the whole drops list when a parcel is heavier than every "
                             "drone type can carry (default: plan the rest and list it as "
                             "unserved)")


def register(sub: Any) -> None:
    """Add ``plan`` and ``verify`` to the ``dropline`` subparsers ``sub``."""
    plan = sub.add_parser("plan", help="plan verified sorties for a scenario folder")
    plan.add_argument("scenario", metavar="SCENARIO_DIR")
    plan.add_argument("-o", "--out", required=True, metavar="OUT_DIR",
                      help="folder for plan.json, .plan/.waypoints per sortie, "
                           "routes.geojson and summary.json")
    plan.add_argument("--seed", type=int, default=None, help="random seed (default 0)")
    plan.add_argument("--time-limit", type=float, default=None, metavar="S",
                      help="search time limit in seconds")
    plan.add_argument("--frame", choices=("relative", "terrain"), default=None,
                      help="altitude frame of waypoints (default: the scenario's, else relative)")
    plan.add_argument("--no-progress", action="store_true", help="do not show progress bars")
    plan.add_argument("--workers", type=int, default=0, metavar="N",
                      help="worker processes for the independent planning work (default 0: "
                           "none); the plan is the same either way")
    add_plan_arguments(plan)
    plan.set_defaults(func=plan_command)

    verify = sub.add_parser("verify", help="re-check a plan against its scenario")
    verify.add_argument("plan", metavar="PLAN",
                        help="plan folder, plan.json, QGroundControl .plan or .waypoints file")
    verify.add_argument("--scenario", required=True, metavar="SCENARIO_DIR")
    verify.add_argument("--drone-type", default=None,
                        help="drone type flying a single .plan/.waypoints mission (default: "
                             "the type based at its depot)")
    verify.set_defaults(func=verify_command)


def progress_bar(enabled: bool) -> Callable[[str, int, int], None] | None:
    """A tqdm-backed ``progress(stage, done, total)`` callback on stderr."""
    if not enabled:
        return None
    from tqdm import tqdm

    bars: dict[str, Any] = {}

    def progress(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc=stage, unit=STAGE_UNITS.get(stage, "drop"),
                                     leave=False, file=sys.stderr)
        bar.n = done
        bar.refresh()
        if done >= total:
            bar.close()

    return progress


def load_inputs(scenario_dir: str, *, strict: bool = False) -> tuple[Scenario, Dem]:
    """Load a scenario folder and its DEM; check the DEM covers every point and depots are clear.

    With ``strict``, a drop heavier than every drone type can carry is an error.
    """
    loaded = load_scenario_with_dem(scenario_dir, strict=strict)
    report = loaded.dem_report
    if report is not None and report.filled_cells:
        print(f"note: filled {report.filled_cells} void DEM cells by interpolation",
              file=sys.stderr)
    return loaded.scenario, loaded.dem


def plan_command(args: argparse.Namespace) -> int:
    """``dropline plan SCENARIO_DIR -o OUT_DIR``."""
    t0 = time.perf_counter()
    scenario, dem = load_inputs(args.scenario, strict=getattr(args, "strict", False))
    params = scenario.params
    try:
        if args.seed is not None:
            params = dataclasses.replace(params, seed=args.seed)
        if args.time_limit is not None:
            params = dataclasses.replace(params, time_limit_s=args.time_limit)
    except ValueError as exc:
        option = "--seed" if "seed" in str(exc) else "--time-limit"
        raise InputError(str(exc), field=option) from None
    if args.frame is not None:
        params = dataclasses.replace(params, altitude_frame=args.frame)
    scenario = dataclasses.replace(scenario, params=params)
    objective = OBJECTIVES[getattr(args, "objective", None) or "makespan"]
    timings: dict[str, float] = {"load": time.perf_counter() - t0}
    show = not args.no_progress and sys.stderr.isatty()
    workers = getattr(args, "workers", 0) or 0
    if workers < 0:
        raise InputError(f"Expected --workers >= 0, got {workers}", field="--workers")
    with ProcessPoolExecutor(workers) if workers else contextlib.nullcontext() as pool:
        result = make_plan(scenario, dem, objective=objective, progress=progress_bar(show),
                           timings=timings, clock=time.perf_counter,
                           map_fn=pool.map if pool is not None else None)
    out = Path(args.out)
    summary = plan_summary(result, scenario, timings)
    summary["cost"] = cost_summary(plan_cost(result.plan, scenario, load_costs(args.scenario)))
    try:
        write_plan_folder(out, result.plan, scenario, summary=summary)
    except OSError as exc:
        what = exc.strerror or type(exc).__name__
        inside = exc.filename and str(exc.filename).startswith(str(out))
        where = f" ({exc.filename})" if inside else ""
        raise InputError(f"cannot write the plan folder: {what}{where}", path=out,
                         field="--out") from None
    print_report(result.plan, summary, out)
    return ExitCode.OK


def print_report(plan: Plan, summary: dict[str, Any], out: Path) -> None:
    """What ``dropline plan`` prints when it is done."""
    print(f"{summary['served']} of {summary['drops']} drops in {summary['sorties']} sorties "
          f"on {summary['vehicles']} drone{'' if summary['vehicles'] == 1 else 's'}; "
          f"makespan {summary['makespan_s'] / 60:.1f} min, "
          f"{summary['distance_km']:.1f} km, {summary['energy_wh']:.0f} Wh")
    if "construction" in summary:
        others = [c for c in summary.get("constructions", [])
                  if c["method"] != summary["construction"]]
        floor = next((c for c in others if c["method"] == "simple"), None)
        versus = (f" (simple construction: {floor['served']} drops, {floor['sorties']} sorties, "
                  f"makespan {floor['makespan_s'] / 60:.1f} min, {floor['distance_km']:.1f} km)"
                  if floor is not None else "")
        print(f"sorties by {summary['construction']} for objective {summary['objective']}"
              f"{versus}")
    for s in plan.sorties:
        m = s.metrics
        print(f"  {s.id} {s.vehicle:<24} {','.join(s.drop_ids):<28} {m.distance_m / 1000:6.1f} km "
              f"{m.duration_s / 60:5.1f} min {m.energy_wh:6.0f} Wh reserve {m.reserve_pct:5.1f} % "
              f"AGL {m.min_agl_m:.0f}-{m.max_agl_m:.0f} m")
    if plan.unserved:
        print(f"{len(plan.unserved)} unserved drops:")
        for u in plan.unserved:
            print(f"  {u.drop_id}: {u.reason}")
    for line in format_cost(summary["cost"]) if "cost" in summary else ():
        print(line)
    print(f"written to {out}/ (plan.json, summary.json, routes.geojson, sorties/*.plan, "
          f"sorties/*.waypoints)")


def read_any_plan(path: str, scenario: Scenario, drone_type: str | None) -> Plan:
    """A plan from a plan folder, plan.json, QGroundControl .plan or .waypoints file."""
    source = read_plan_source(path)
    if isinstance(source, PlanFolder):
        return source.plan
    contents = source.contents
    return plan_from_mission(scenario, contents.mission, contents.fence, contents.rally,
                             name=source.name, drone_type=drone_type, path=source.path)


def verify_command(args: argparse.Namespace) -> int:
    """``dropline verify PLAN --scenario SCENARIO_DIR``."""
    scenario, dem = load_inputs(args.scenario)
    plan = read_any_plan(args.plan, scenario, args.drone_type)
    mission_only = Path(args.plan).suffix.lower() == ".waypoints"
    if mission_only:
        print("note: a .waypoints file holds no geofence or rally points; those are not checked")
    violations = verify_plan(plan, scenario, dem, check_geofence=not mission_only)
    if violations:
        print(format_violations(violations))
        print(f"{len(violations)} violations in {len(plan.sorties)} sorties")
        return ExitCode.CHECK_FAILED
    print(f"OK: {len(plan.sorties)} sorties, {len(plan.served_drop_ids)} drops verified")
    return ExitCode.OK
