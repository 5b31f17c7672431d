"""``dropline sitl``: start, stop and show real ArduPilot SITL instances.

Exit codes (:mod:`dropline.commands.exit_codes`): 0 when stopped by Ctrl-C, SIGTERM or
``dropline sitl stop``; 1 when a SITL instance failed to start or died, or ``sitl status`` finds
the instances gone; 2 bad input (also: ports in use, a launcher already running in the work
folder, none to stop).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from dropline.commands._inputs import positive, sim_inputs
from dropline.commands._running import StopSignals, run_until_stopped
from dropline.commands.exit_codes import ExitCode
from planner.errors import InputError
from sitl.errors import SimulatorError, SitlLaunchError

DEFAULT_SITL_WORKDIR = "dropline-sitl"


# -- argument parsing --------------------------------------------------------------------------
def register(sub: Any) -> None:
    """Add the ``sitl`` subcommand to the ``dropline`` subparsers ``sub``."""
    sitl = sub.add_parser("sitl", help="start and stop real ArduPilot SITL instances")
    sitl_sub = sitl.add_subparsers(dest="sitl_command", required=True, metavar="ACTION")
    start = sitl_sub.add_parser(
        "start", help="start arducopter SITL instances and run until stopped",
        description="Start N real ArduPilot SITL copters ('arducopter' built by ArduPilot; "
                    "never downloaded or built here), each with -I i, --sysid i+1, its own "
                    "folder WORKDIR/instance<i>, ArduPilot's copter.parm and then a defaults "
                    "file with the gripper, battery and fence parameters. SERIAL0 of instance "
                    "i is TCP BASE+10i (SITL listens on every interface). Terrain comes from "
                    "the ground station: fly with 'dropline fly ... --scenario DIR'. Runs until "
                    "Ctrl-C, SIGTERM or 'dropline sitl stop'.")
    start.add_argument("--binary", metavar="PATH",
                       help="the arducopter program (default: $ARDUPILOT_SITL_BIN)")
    start.add_argument("--defaults-file", metavar="FILE",
                       help="ArduPilot's copter.parm, loaded first (default: the one beside "
                            "the program)")
    start.add_argument("--instances", type=int, default=1, metavar="N")
    start.add_argument("--home", metavar="LAT,LON,ALT[,HDG]",
                       help="home of every instance (default: the scenario's first depot)")
    start.add_argument("--speedup", type=float, default=1.0, metavar="X")
    start.add_argument("--workdir", default=DEFAULT_SITL_WORKDIR, metavar="DIR",
                       help=f"instance folders and state file (default ./{DEFAULT_SITL_WORKDIR})")
    start.add_argument("--base-port", type=int, default=5760, metavar="P",
                       help="SERIAL0 TCP port of instance 0 (default 5760)")
    start.add_argument("--model", default="+", help="SITL frame model (default +)")
    start.add_argument("--defaults", action="append", default=[], metavar="FILE",
                       help="extra parameter file loaded after copter.parm and before the "
                            "project's parameters; repeatable")
    start.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                       help="extra parameter for every instance; repeatable")
    start.add_argument("--scenario", metavar="DIR",
                       help="take the drone type's speeds and battery from this scenario, and "
                            "home (altitude from its DEM) from its first depot")
    start.add_argument("--drone-type", metavar="ID")
    start.add_argument("--keep-eeprom", action="store_true",
                       help="keep parameters and missions saved by an earlier run (no --wipe)")
    start.add_argument("--first-instance", type=int, default=0, metavar="I",
                       help="SITL instance number (-I) of the first vehicle; places SITL's "
                            "fixed UDP ports (RC input 5501+10I); default 0")
    start.add_argument("--timeout", type=float, default=60.0, metavar="S",
                       help="seconds each instance has to pass its health check (default 60)")
    start.set_defaults(func=sitl_start_command)
    for name, func, text in (("stop", sitl_stop_command, "stop what 'sitl start' started"),
                             ("status", sitl_status_command, "show the running instances")):
        action = sitl_sub.add_parser(name, help=text)
        action.add_argument("--workdir", default=DEFAULT_SITL_WORKDIR, metavar="DIR")
        action.set_defaults(func=func)


# -- the commands ---------------------------------------------------------------------------------
def _parse_params(pairs: list[str]) -> dict[str, float]:
    params: dict[str, float] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        try:
            params[name.strip().upper()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise InputError(f"expected NAME=VALUE, got {pair!r}", field="--param")
    return params


def sitl_start_command(args: argparse.Namespace) -> int:
    """``dropline sitl start``: start real SITL instances, run until stopped, stop them."""
    from sitl.ardupilot import ArduPilotSitl, read_state
    from sitl.ardupilot.state import launcher_alive
    positive(args.speedup, "--speedup")
    inputs = sim_inputs(args.home, args.scenario, args.drone_type, max_values=4)
    running = read_state(args.workdir)
    if running is not None and launcher_alive(running):
        raise SimulatorError(f"a launcher (pid {running.launcher_pid}) already runs in "
                             f"{args.workdir}; run 'dropline sitl stop --workdir {args.workdir}'")
    try:
        sitl = ArduPilotSitl(
            vehicles=args.instances, home=inputs.home, heading_deg=inputs.heading_deg,
            speedup=args.speedup, binary=args.binary, copter_parm=args.defaults_file,
            workdir=args.workdir, model=args.model, first_instance=args.first_instance,
            base_port=args.base_port, params=_parse_params(args.param),
            drone_type=inputs.drone_type, defaults_files=args.defaults,
            wipe=not args.keep_eeprom, health_timeout_s=args.timeout)
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    failures: list[SitlLaunchError] = []

    def watch() -> bool:
        failures.extend(sitl.poll())
        return not failures

    with StopSignals() as signals:
        sitl.start()  # a SitlLaunchError exits 1, as an instance dying later does
        try:
            signals.running = True
            for url in sitl.connection_strings:
                print(url, flush=True)
            print(f"{args.instances} SITL instances running (launcher pid {os.getpid()}, "
                  f"folder {Path(args.workdir).resolve()}); Ctrl-C or 'dropline sitl stop' "
                  "to stop", file=sys.stderr, flush=True)
            run_until_stopped(signals.stop, None, tick=watch)
        finally:
            sitl.stop()
    for failure in failures:
        print(f"error: {failure}", file=sys.stderr)
    print("stopped", file=sys.stderr)
    return ExitCode.CHECK_FAILED if failures else ExitCode.OK


def sitl_stop_command(args: argparse.Namespace) -> int:
    """``dropline sitl stop``: stop the launcher recorded in the work folder and its instances."""
    from sitl.ardupilot import stop_from_state
    stopped = stop_from_state(args.workdir)
    print(f"stopped processes {', '.join(map(str, stopped))}" if stopped
          else "nothing was running")
    return ExitCode.OK


def sitl_status_command(args: argparse.Namespace) -> int:
    """``dropline sitl status``: the recorded instances and whether they still run."""
    from sitl.ardupilot import port_listening, read_state
    from sitl.ardupilot.state import alive_instances, launcher_alive
    state = read_state(args.workdir)
    if state is None:
        print(f"no SITL launcher recorded in {args.workdir}")
        return ExitCode.CHECK_FAILED
    alive = {r.instance for r in alive_instances(state)}
    print(f"launcher pid {state.launcher_pid}: "
          f"{'running' if launcher_alive(state) else 'gone'}; binary {state.binary}")
    for r, url in zip(state.instances, state.connection_strings, strict=True):
        up = r.instance in alive
        listening = up and port_listening(state.host, r.port)
        print(f"instance {r.instance} sysid {r.sysid} pid {r.pid} {url} "
              f"{'running' if up else 'gone'}{', listening' if listening else ''}")
    return ExitCode.OK if alive and launcher_alive(state) else ExitCode.CHECK_FAILED
