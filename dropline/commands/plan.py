"""The work behind ``dropline plan`` and ``dropline verify``."""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from planner.errors import InputError
from planner.io.dem import load_dem_report
from planner.io.geojson_out import write_routes_geojson
from planner.io.planfile import read_plan_json, write_plan_json
from planner.io.qgc import read_qgc_plan, write_qgc_plan
from planner.io.scenario import load_scenario
from planner.io.wpl import read_wpl, write_wpl
from planner.mission_plan import plan_from_mission
from planner.pipeline import CandidateSummary, PlanResult, make_plan
from planner.plan_model import Plan
from planner.routing import Objective
from planner.scenario import Scenario
from planner.terrain import Dem
from planner.validate import check_scenario
from planner.verify.verifier import format_violations, verify_plan

OUTPUT_NAMES = ("plan.json", "summary.json", "routes.geojson", "sorties")

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


def _progress_bar(enabled: bool) -> Callable[[str, int, int], None] | None:
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
    scenario = load_scenario(scenario_dir, strict=strict)
    dem, report = load_dem_report(scenario.terrain.dem_paths)
    if report.filled_cells:
        print(f"note: filled {report.filled_cells} void DEM cells by interpolation",
              file=sys.stderr)
    check_scenario(scenario, dem)
    return scenario, dem


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
    result = make_plan(scenario, dem, objective=objective, progress=_progress_bar(show),
                       timings=timings, clock=time.perf_counter)
    out = Path(args.out)
    summary = summarise(result, scenario, timings)
    write_outputs(out, result.plan, scenario, summary)
    print_report(result.plan, summary, out)
    return 0


def summarise(result: PlanResult, scenario: Scenario,
              timings: dict[str, float]) -> dict[str, Any]:
    """The figures ``summary.json`` holds."""
    plan = result.plan
    sorties = plan.sorties
    etas = [t for s in sorties for t in s.metrics.drop_etas_s.values()]
    km = result.leg_length_m / 1000
    return {
        "scenario": plan.scenario,
        "drops": len(scenario.drops),
        "served": len(plan.served_drop_ids),
        "unserved": len(plan.unserved),
        "sorties": len(sorties),
        "vehicles": len({s.vehicle for s in sorties}),
        "distance_km": round(sum(s.metrics.distance_m for s in sorties) / 1000, 3),
        "energy_wh": round(sum(s.metrics.energy_wh for s in sorties), 1),
        "makespan_s": round(max(etas), 1) if etas else 0.0,
        "min_reserve_pct": min((s.metrics.reserve_pct for s in sorties), default=None),
        "min_agl_m": min((s.metrics.min_agl_m for s in sorties), default=None),
        "max_agl_m": max((s.metrics.max_agl_m for s in sorties), default=None),
        "terrain_waypoints_added": result.added_waypoints,
        "terrain_waypoints_per_km": round(result.added_waypoints / km, 3) if km else 0.0,
        "altitude_frame": plan.altitude_frame,
        "seed": plan.seed,
        "objective": result.objective,
        "time_limit_s": scenario.params.time_limit_s,
        "construction": result.construction,
        "constructions": [_candidate(c) for c in result.candidates],
        "stage_seconds": {k: round(v, 3) for k, v in timings.items()},
    }


def _candidate(c: CandidateSummary) -> dict[str, Any]:
    """One compared sortie construction, as summary.json lists it."""
    return {"method": c.method, "served": c.served, "sorties": c.sorties,
            "makespan_s": round(c.makespan_s, 1), "energy_wh": round(c.energy_wh, 1),
            "distance_km": round(c.distance_m / 1000, 3),
            "notes": {k: round(v, 3) for k, v in c.notes.items()}}


def write_outputs(out: Path, plan: Plan, scenario: Scenario, summary: dict[str, Any]) -> None:
    """Write every output into a fresh folder, then swap it in so no half plan is left."""
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".dropline-", dir=out.parent))
    try:
        write_plan_json(stage / "plan.json", plan)
        write_routes_geojson(stage / "routes.geojson", plan, scenario)
        (stage / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        sorties_dir = stage / "sorties"
        sorties_dir.mkdir()
        for s in plan.sorties:
            drone = scenario.drone_types[s.drone_type_id]
            write_qgc_plan(sorties_dir / f"{s.id}.plan", mission=s.mission, fence=s.fence,
                           rally=s.rally, cruise_speed_m_s=drone.cruise_speed_m_s,
                           hover_speed_m_s=min(drone.cruise_speed_m_s, 5.0))
            write_wpl(sorties_dir / f"{s.id}.waypoints", s.mission)
        out.mkdir(exist_ok=True)
        for name in OUTPUT_NAMES:
            target = out / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
            (stage / name).replace(target)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def print_report(plan: Plan, summary: dict[str, Any], out: Path) -> None:
    """What ``dropline plan`` prints when it is done."""
    print(f"{summary['served']} of {summary['drops']} drops in {summary['sorties']} sorties "
          f"on {summary['vehicles']} drones; makespan {summary['makespan_s'] / 60:.1f} min, "
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
    print(f"written to {out}/ (plan.json, summary.json, routes.geojson, sorties/*.plan, "
          f"sorties/*.waypoints)")


def read_any_plan(path: str, scenario: Scenario, drone_type: str | None) -> Plan:
    """A plan from a plan folder, plan.json, QGroundControl .plan or .waypoints file."""
    p = Path(path)
    if p.is_dir():
        p = p / "plan.json"
    if not p.exists():
        raise InputError("no such file or folder", path=p)
    suffix = p.suffix.lower()
    if suffix == ".json":
        return read_plan_json(p)
    if suffix == ".plan":
        contents = read_qgc_plan(p)
        return plan_from_mission(scenario, contents.mission, contents.fence, contents.rally,
                                 name=p.stem, drone_type=drone_type, path=p)
    if suffix == ".waypoints":
        return plan_from_mission(scenario, read_wpl(p), (), (), name=p.stem,
                                 drone_type=drone_type, path=p)
    raise InputError(f"unknown plan file type '{suffix}'; expected a plan folder, plan.json, "
                     ".plan or .waypoints", path=p)


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
        return 1
    print(f"OK: {len(plan.sorties)} sorties, {len(plan.served_drop_ids)} drops verified")
    return 0
