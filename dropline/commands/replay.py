"""``dropline replay`` (fly missions in SITL and report plan versus flown) and ``dropline
replay-log`` (play a ``.tlog`` as a live vehicle, or measure it against its mission).

Exit codes (:mod:`dropline.commands.exit_codes`): 0 every mission within its tolerances
(``replay``; also when the ArduPilot backend is asked for but not installed: the run is skipped
with a message; ``replay-log`` also when Ctrl-C stops the playing); 1 a mission broke a
tolerance or could not be flown; 2 bad input (file, line and field named).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import IO, Any

from dropline.commands._inputs import at_least, positive, scenario_option
from dropline.commands.exit_codes import ExitCode
from gcs.forward import OutputSpec
from gcs.tlog.reader import TlogFlight, read_flight
from planner.errors import InputError
from sitl.backend import BACKENDS, unavailable_reason
from sitl.replay.html import write_html
from sitl.replay.logplay import CLOCKS, play_log
from sitl.replay.missions import Mission, bare_plan, load_missions
from sitl.replay.report import write_json, write_junit
from sitl.replay.runner import MissionResult, ReplayOptions, fly_missions, measure
from sitl.replay.tolerances import check, load_tolerances

DEFAULT_OUT = "udp:127.0.0.1:14550"
DEFAULT_REPORT = "replay-report"


def register(sub: Any) -> None:
    """Add ``replay`` and ``replay-log`` to the ``dropline`` subparsers ``sub``."""
    replay = sub.add_parser(
        "replay", help="fly missions in SITL and report plan versus flown",
        description="Fly each mission from start to landing on its own simulated vehicle, "
                    "record its .tlog, measure it against the plan (cross-track, AGL, "
                    "incursions, drop errors, duration, energy, items reached, final state), "
                    "check the tolerances and write report.json, junit.xml and report.html. "
                    "A plan folder flies each of its sorties as one mission. Exits 1 when a "
                    "mission breaks a tolerance.")
    replay.add_argument("missions", nargs="+", metavar="MISSION",
                        help="plan folder (every sortie), plan.json, QGroundControl .plan or "
                             "Mission Planner .waypoints")
    replay.add_argument("--scenario", metavar="DIR",
                        help="the missions' scenario: terrain, no-fly zones, wind, drone types "
                             "and parcel weights (without it: the simulator's default quad "
                             "over flat ground, heights above home, nothing predicted)")
    replay.add_argument("--backend", choices=BACKENDS, default="builtin",
                        help="built-in simulator (default) or real ArduPilot SITL "
                             "(ARDUPILOT_SITL_BIN)")
    replay.add_argument("--speedup", type=float, default=50.0, metavar="X",
                        help="simulated seconds per wall second (default 50)")
    replay.add_argument("--parallel", type=int, default=1, metavar="N",
                        help="missions flown at once, each on its own vehicle (default 1)")
    replay.add_argument("--report", default=DEFAULT_REPORT, metavar="DIR",
                        help=f"folder for the reports and logs (default ./{DEFAULT_REPORT})")
    replay.add_argument("--tolerances", metavar="FILE",
                        help="TOML tolerances (default: built-in; see "
                             "missions/regression/tolerances.toml)")
    replay.add_argument("--drone-type", metavar="ID",
                        help="drone type flying .plan/.waypoints missions (default: the one "
                             "at their depot)")
    replay.add_argument("--timeout", type=float, default=None, metavar="S",
                        help="wall seconds each mission may take (default: from its plan)")
    replay.add_argument("--seed", type=int, default=0, help="simulator seed (default 0)")
    replay.set_defaults(func=replay_command)

    log = sub.add_parser(
        "replay-log", help="play a .tlog as a live vehicle, or measure it against its mission",
        description="Send every vehicle message of a .tlog to the --out connections with its "
                    "recorded timing divided by --speed, so that QGroundControl, MAVProxy or "
                    "'dropline status' see the vehicle fly again. With --figures, measure the "
                    "flight against its mission (--mission, else the mission in the log) "
                    "instead.")
    log.add_argument("tlog", metavar="FLIGHT.tlog")
    log.add_argument("--speed", type=float, default=1.0, metavar="X",
                     help="log seconds per wall second (default 1)")
    log.add_argument("--out", action="append", default=[], metavar="CONN",
                     help=f"where to send (default {DEFAULT_OUT}); udp:, udpout:, udpin:, "
                          "tcpin:, tcp:; repeatable")
    log.add_argument("--clock", choices=CLOCKS, default="log",
                     help="time by the recording's timestamps (log, default) or by the "
                          "vehicle's own clock (vehicle: flights recorded from a simulator at "
                          "a speedup play as flown)")
    log.add_argument("--include-gcs", action="store_true",
                     help="also send what the ground station (system 255) sent")
    log.add_argument("--figures", action="store_true",
                     help="print plan-versus-flown figures instead of playing")
    log.add_argument("--mission", metavar="PLAN",
                     help="with --figures: plan folder, plan.json, .plan or .waypoints")
    log.add_argument("--sortie", metavar="ID", help="with --figures: the plan's sortie flown")
    log.add_argument("--scenario", metavar="DIR",
                     help="with --figures: terrain and no-fly zones to measure against")
    log.add_argument("--drone-type", metavar="ID")
    log.add_argument("--tolerances", metavar="FILE",
                     help="with --figures: check these tolerances (exit 1 when broken)")
    log.set_defaults(func=replay_log_command)


def _describe(result: MissionResult) -> str:
    if result.error is not None:
        return f"ERROR: {result.error}"
    f = result.figures
    assert f is not None
    verdict = "PASS" if result.passed else "FAIL"
    agl = "?" if f.agl_min_m is None or f.agl_max_m is None else \
        f"{f.agl_min_m:.0f}-{f.agl_max_m:.0f} m"
    energy = "?" if f.energy_used_wh is None else f"{f.energy_used_wh:.0f}"
    planned = "?" if f.energy_planned_wh is None else f"{f.energy_planned_wh:.0f}"
    cross = "?" if f.cross_track_max_m is None else f"{f.cross_track_max_m:.1f} m"
    text = (f"{verdict} in {result.wall_s:.1f} s: cross-track {cross}, AGL {agl}, "
            f"{len(f.drop_errors_m)} drops, "
            + (f"{len(f.grab_errors_m)} pickups, " if f.grab_errors_m else "")
            + f"{len(f.incursions)} incursions, energy "
            f"{energy}/{planned} Wh, {f.items_reached}/{f.items_total} items, {f.final_state}")
    return text + "".join(f"\n    {b.message}" for b in result.breaches)


# -- replay ------------------------------------------------------------------------------------
def replay_command(args: argparse.Namespace, out: IO[str] | None = None) -> int:
    """``dropline replay MISSIONS... [--scenario DIR] [--backend B] ...``."""
    out = out or sys.stdout
    speedup = positive(args.speedup, "--speedup")
    at_least(args.parallel, 1, "--parallel")
    if args.timeout is not None:
        positive(args.timeout, "--timeout")
    tolerances = load_tolerances(args.tolerances)
    scenario, dem = scenario_option(args.scenario)
    missions = load_missions(args.missions, scenario=scenario, dem=dem,
                             drone_type=args.drone_type)
    why = unavailable_reason(args.backend)
    if why is not None:
        print(f"replay skipped: the {args.backend} backend cannot run here: {why}", file=out)
        return ExitCode.OK
    options = ReplayOptions(backend=args.backend, speedup=speedup, parallel=args.parallel,
                            timeout_s=args.timeout, seed=args.seed)
    report = Path(args.report)
    report.mkdir(parents=True, exist_ok=True)
    total = len(missions)

    def progress(index: int, what: MissionResult | Mission) -> None:
        head = f"[{index + 1}/{total}] {missions[index].name}:"
        if isinstance(what, Mission):
            print(f"{head} flying ({args.backend}, {speedup:g}x)", file=out, flush=True)
        else:
            print(f"{head} {_describe(what)}", file=out, flush=True)

    results = fly_missions(missions, options=options, report_dir=report, tolerances=tolerances,
                           scenario=scenario, dem=dem, progress=progress)
    write_json(report / "report.json", results, options=options, tolerances=tolerances)
    write_junit(report / "junit.xml", results)
    write_html(report / "report.html", results, options=options, tolerances=tolerances,
               dem=dem, zones=() if scenario is None else scenario.nofly)
    failed = [r for r in results if not r.passed]
    print(f"{total - len(failed)} of {total} missions passed; report in {report}/ "
          f"(report.html, report.json, junit.xml)", file=out, flush=True)
    for r in failed:
        figures = sorted({b.figure for b in r.breaches}) or [f"not flown ({r.error})"]
        print(f"FAILED {r.mission.name}: {', '.join(figures)}", file=sys.stderr)
    return ExitCode.CHECK_FAILED if failed else ExitCode.OK


# -- replay-log --------------------------------------------------------------------------------
def _pick(missions: list[Mission], flight: TlogFlight, sortie: str | None,
          source: str) -> Mission:
    if sortie is not None:
        found = [m for m in missions if m.sortie.id == sortie]
        if not found:
            ids = ", ".join(m.sortie.id for m in missions)
            raise InputError(f"no sortie {sortie!r} in the plan (it has {ids})", path=source,
                             field="--sortie")
        return found[0]
    if len(missions) == 1:
        return missions[0]
    logged = [(m.command, round(m.lat_deg, 5), round(m.lon_deg, 5)) for m in flight.mission[1:]]
    same = [m for m in missions if logged and logged == [
        (i.command, round(i.lat_deg, 5), round(i.lon_deg, 5)) for i in m.sortie.mission[1:]]]
    if len(same) == 1:
        return same[0]
    ids = ", ".join(m.sortie.id for m in missions)
    raise InputError(f"the plan has {len(missions)} sorties ({ids}) and the log does not say "
                     "which was flown; name it with --sortie", path=source, field="--sortie")


def _log_mission(flight: TlogFlight) -> Mission:
    if not flight.mission:
        raise InputError("this log holds no mission transfer; give the mission flown with "
                         "--mission PLAN", path=flight.path, field="--mission")
    plan = bare_plan(flight.path.stem, flight.mission, flight.fence, flight.rally)
    return Mission(name=flight.path.stem, source=flight.path, plan=plan)


def _print_figures(mission: Mission, flight: TlogFlight, result: MissionResult,
                   out: IO[str]) -> None:
    f = result.figures
    assert f is not None
    print(f"{flight.path}: vehicle {flight.sysid}, {len(flight.samples)} samples, "
          f"mission {mission.name} ({f.items_total} items)", file=out)
    for name, value in f.as_dict().items():
        if isinstance(value, float):
            value = f"{value:.2f}"
        print(f"  {name}: {value}", file=out)


def replay_log_command(args: argparse.Namespace, out: IO[str] | None = None) -> int:
    """``dropline replay-log FLIGHT.tlog [--speed X] [--out CONN ...] [--figures ...]``."""
    out = out or sys.stdout
    speed = positive(args.speed, "--speed")
    if not args.figures:
        outputs = [OutputSpec.parse(t) for t in (args.out or [DEFAULT_OUT])]

        def progress(done_s: float, span_s: float) -> None:
            print(f"\rplayed {done_s:7.1f} of {span_s:.1f} s", end="", file=out, flush=True)

        print(f"playing {args.tlog} to {', '.join(o.url for o in outputs)} at {speed:g}x "
              f"({args.clock} clock); Ctrl-C stops", file=out, flush=True)
        try:
            stats = play_log(args.tlog, outputs, speed=speed, clock=args.clock,
                             include_gcs=args.include_gcs, progress=progress)
        except KeyboardInterrupt:
            print("\nstopped", file=out)
            return ExitCode.OK
        print(f"\nplayed {stats.messages} messages, {stats.span_s:.1f} s of log in "
              f"{stats.wall_s:.1f} s", file=out)
        return ExitCode.OK
    tolerances = load_tolerances(args.tolerances)
    scenario, dem = scenario_option(args.scenario)
    flight = read_flight(args.tlog)
    if args.mission is not None:
        mission = _pick(load_missions([args.mission], scenario=scenario, dem=dem,
                                      drone_type=args.drone_type), flight, args.sortie,
                        args.mission)
    else:
        mission = _log_mission(flight)
    figures = measure(mission, flight, dem=dem, scenario=scenario)
    breaches = check(mission.name, figures, tolerances.for_mission(mission.name)) \
        if args.tolerances else []
    result = MissionResult(mission=mission, folder=Path(args.tlog).parent, flight=flight,
                           figures=figures, breaches=tuple(breaches))
    _print_figures(mission, flight, result, out)
    for breach in breaches:
        print(f"FAILED {breach.message}", file=sys.stderr)
    return ExitCode.CHECK_FAILED if breaches else ExitCode.OK
