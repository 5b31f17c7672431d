"""``dropline replan``: plan again what a flown plan has not done yet.

``dropline replan PLAN_DIR --scenario SCENARIO_DIR --flights fly.db -o OUT_DIR`` reads which
parcels runs of the plan delivered (and, for a plan that was itself a re-plan, what its own
predecessors delivered) and which sorties are in the air in a run not ended, and plans every
other drop of the scenario folder as it is now: rows added to its drops CSV are planned, drops
named with ``--cancel`` are not, and vehicles named with ``--ground`` (``depot/type/n``) do not
fly (the vehicles after a grounded one move up a number). The new plan lists every drop it leaves
out as unserved with the reason (delivered, in the air, cancelled), so it verifies against the
whole scenario; it is verified before anything is written. ``summary.json`` records what was
left out under ``replan``.

The vehicles start from the fleet's state in the flight log
(:mod:`dropline.commands._replan_fleet`): one still in the air is ready when its sortie is over
and a turnaround later; a landed one is ready now with its last measured battery, on which its
first sortie flies only if the battery covers it (else it swaps first, a turnaround); later
sorties start on a full battery. ``--battery VEHICLE=PCT`` says what a vehicle's battery holds
instead. ``--wind SPEED_M_S@FROM_DEG`` plans (and verifies) under the wind blowing now. The plan
records the starts, ``summary.json`` the starts and the wind under ``replan``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from dropline.commands._replan_fleet import (
    battery_overrides,
    fleet_starts,
    starts_json,
)
from dropline.commands.exit_codes import ExitCode
from dropline.commands.plan import (
    OBJECTIVES,
    load_inputs,
    print_report,
    progress_bar,
)
from gcs.fleet.logs import FlightLog
from gcs.fleet.manager import plan_key
from planner.cost import cost_summary, plan_cost
from planner.errors import InputError, VerificationError
from planner.fleet_state import (
    SourcedStart,
    ground_vehicles,
    parse_wind,
    renumbered,
    starts_for,
)
from planner.io.costs import load_costs
from planner.io.plan_folder import SUMMARY_JSON, read_plan_folder, write_plan_folder
from planner.pipeline import make_plan, plan_summary
from planner.plan_model import Plan, Unserved
from planner.scenario import Scenario
from planner.verify.verifier import verify_plan


def register(sub: Any) -> None:
    """Add ``replan`` to the ``dropline`` subparsers ``sub``."""
    replan = sub.add_parser(
        "replan", help="plan again what a flown plan has not delivered yet",
        description="Plan every drop of the scenario folder (as it is now) that runs of PLAN_DIR "
                    "(and the plans it re-planned) have not delivered and that is not in the "
                    "air, without the --cancel drops and the --ground vehicles; verified, "
                    "written to OUT_DIR. Vehicles start from the flight log: one in the air "
                    "when its sortie is over plus a turnaround, a landed one now on its last "
                    "measured battery (or --battery), which flies its first sortie only if it "
                    "covers it, else it is swapped first (a turnaround).")
    replan.add_argument("plan", metavar="PLAN_DIR", help="the plan folder flown so far")
    replan.add_argument("--scenario", required=True, metavar="SCENARIO_DIR",
                        help="the scenario folder (with any drops added to its drops CSV)")
    replan.add_argument("--flights", required=True, metavar="DB",
                        help="the flight log the plan was flown with (dropline fly --db)")
    replan.add_argument("-o", "--out", required=True, metavar="OUT_DIR")
    replan.add_argument("--cancel", action="append", default=[], metavar="DROP_ID",
                        help="a drop not to plan any more (repeatable)")
    replan.add_argument("--ground", action="append", default=[], metavar="VEHICLE",
                        help="a vehicle that does not fly, as named in the plan "
                             "(depot/type/n; repeatable)")
    replan.add_argument("--battery", action="append", default=[], metavar="VEHICLE=PCT",
                        help="the battery a vehicle (depot/type/n) has when it is next ready, "
                             "in percent of its capacity, instead of its last reading in the "
                             "flight log (repeatable)")
    replan.add_argument("--wind", default=None, metavar="SPEED_M_S@FROM_DEG",
                        help="plan under this wind instead of the scenario's (for example "
                             "8@270: 8 m/s from the west)")
    replan.add_argument("--time-limit", type=float, default=None, metavar="S",
                        help="search time limit in seconds")
    replan.add_argument("--no-progress", action="store_true", help="do not show progress bars")
    replan.set_defaults(func=replan_command)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LeftOut:
    """What a re-plan does not plan again, and why (drop id -> where)."""

    delivered: dict[str, str]
    in_air: dict[str, str]
    cancelled: tuple[str, ...]

    def unserved(self) -> tuple[Unserved, ...]:
        """The left-out drops as the new plan lists them."""
        return (*(Unserved(drop_id=d, reason=f"delivered already ({where})")
                  for d, where in self.delivered.items()),
                *(Unserved(drop_id=d, reason=f"in the air ({where}): its sortie finishes it")
                  for d, where in self.in_air.items()),
                *(Unserved(drop_id=d, reason="cancelled by the operator")
                  for d in self.cancelled))

    def as_json(self, of: Path, key: str, grounded: list[str]) -> dict[str, Any]:
        """What ``summary.json`` records under ``replan`` (the caller adds the fleet's state)."""
        return {"of": str(of), "plan_key": key, "delivered": self.delivered,
                "in_air": self.in_air, "cancelled": list(self.cancelled),
                "grounded": grounded}


def _earlier(plan_dir: Path) -> dict[str, str]:
    """Drops the plans a re-plan came from delivered (from its ``summary.json``)."""
    path = plan_dir / SUMMARY_JSON
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    found = doc.get("replan", {}).get("delivered", {}) if isinstance(doc, dict) else {}
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def _flight_log(path: str) -> FlightLog:
    if not Path(path).is_file():
        raise InputError("flight log not found (the --db of dropline fly)", path=path,
                         field="--flights")
    try:
        con = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
        try:
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
        finally:
            con.close()
    except sqlite3.Error:
        tables = set()
    if not {"runs", "flights"} <= tables:  # never create a flight log's tables in another file
        raise InputError("not a dropline flight log", path=path, field="--flights")
    try:
        log = FlightLog(path)
        log.flights()
    except sa.exc.SQLAlchemyError:
        raise InputError("not a dropline flight log", path=path, field="--flights") from None
    return log


def left_out(plan: Plan, plan_dir: Path, scenario: Scenario, log: FlightLog,
             cancel: list[str]) -> LeftOut:
    """The drops a re-plan of ``plan`` does not plan again.

    Raises
    ------
    InputError
        A cancelled drop is not a drop of the scenario.
    """
    known = {d.id for d in scenario.drops}
    for drop_id in cancel:
        if drop_id not in known:
            raise InputError(f"drop {drop_id!r} is not a drop of the scenario", field="--cancel")
    key = plan_key(plan)
    delivered = {**_earlier(plan_dir),
                 **{d: f"run {run}" for d, run in log.delivered_drops(key).items()}}
    in_air: dict[str, str] = {}
    flying = log.flying_sorties(key)
    for sortie in plan.sorties:
        if sortie.id in flying:
            for drop_id in sortie.drop_ids:
                if drop_id not in delivered:
                    in_air[drop_id] = f"sortie {sortie.id} of run {flying[sortie.id]}"
    cancelled = tuple(d for d in dict.fromkeys(cancel) if d not in delivered and d not in in_air)
    return LeftOut(delivered={d: w for d, w in delivered.items() if d in known},
                   in_air=in_air, cancelled=cancelled)


def replan_command(args: argparse.Namespace) -> int:
    """``dropline replan PLAN_DIR --scenario SCENARIO_DIR --flights DB -o OUT_DIR``."""
    scenario, dem = load_inputs(args.scenario)
    if args.wind is not None:
        scenario = dataclasses.replace(scenario, wind=parse_wind(args.wind))
    overrides = battery_overrides(args.battery, scenario)
    previous = read_plan_folder(args.plan)
    key = plan_key(previous.plan)
    log = _flight_log(args.flights)
    try:
        out_of = left_out(previous.plan, previous.folder, scenario, log, list(args.cancel))
        found = fleet_starts(previous.plan, key, log, scenario, overrides, time.time())
    finally:
        log.close()
    params = scenario.params
    if args.time_limit is not None:
        try:
            params = dataclasses.replace(params, time_limit_s=args.time_limit)
        except ValueError as exc:
            raise InputError(str(exc), field="--time-limit") from None
    skipped = {u.drop_id for u in out_of.unserved()}
    remaining = tuple(d for d in scenario.drops if d.id not in skipped)
    if not remaining:
        raise InputError("nothing is left to plan: every drop is delivered, in the air or "
                         "cancelled")
    reduced = dataclasses.replace(scenario, drops=remaining, params=params,
                                  depots=ground_vehicles(scenario.depots, args.ground,
                                                         field="--ground"))
    starts = starts_for(scenario.depots, args.ground,
                        {v: f.start for v, f in found.items()}, field="--battery")
    result = make_plan(reduced, dem, objective=OBJECTIVES["makespan"],
                       progress=progress_bar(not args.no_progress and sys.stderr.isatty()),
                       starts=starts)
    plan = dataclasses.replace(result.plan, unserved=result.plan.unserved + out_of.unserved())
    violations = verify_plan(plan, scenario, dem)
    if violations:
        raise VerificationError([str(v) for v in violations])
    summary = plan_summary(dataclasses.replace(result, plan=plan), scenario, {})
    summary["cost"] = cost_summary(plan_cost(plan, scenario, load_costs(args.scenario)))
    summary["replan"] = {
        **out_of.as_json(previous.folder, key, list(dict.fromkeys(args.ground))),
        "vehicle_starts": starts_json(found, renumbered(scenario.depots, args.ground)),
        **({"wind": {"speed_m_s": scenario.wind.speed_m_s, "from_deg": scenario.wind.from_deg}}
           if args.wind is not None else {})}
    write_plan_folder(Path(args.out), plan, scenario, summary=summary)
    print(f"re-plan of {previous.folder}: {len(out_of.delivered)} delivered, "
          f"{len(out_of.in_air)} in the air, {len(out_of.cancelled)} cancelled left out; "
          f"{len(args.ground)} vehicles grounded")
    _print_starts(found, args.wind is not None, scenario)
    print_report(plan, summary, Path(args.out))
    return ExitCode.OK


def _print_starts(found: dict[str, SourcedStart], wind: bool, scenario: Scenario) -> None:
    """One line per vehicle start taken from the fleet's state, and the wind if it changed."""
    for vehicle, f in sorted(found.items()):
        battery = "a full battery" if f.start.battery_pct is None else \
            f"{f.start.battery_pct:g} % battery"
        print(f"  {vehicle}: ready at {f.start.ready_s:.0f} s with {battery} ({f.source})")
    if wind:
        print(f"  wind {scenario.wind.speed_m_s:g} m/s from {scenario.wind.from_deg:g} deg")
