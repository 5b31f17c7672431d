"""``dropline sim`` (the built-in simulated fleet) and ``dropline sitl`` (real ArduPilot SITL).

Exit codes (:mod:`dropline.commands.exit_codes`): 0 when stopped by Ctrl-C, SIGTERM, ``quit`` or
``dropline sitl stop``; 1 when a simulated vehicle or SITL instance failed to start or died, or
``sitl status`` finds the instances gone; 2 bad input (also: ports in use, a launcher already
running in the work folder, none to stop).
"""

from __future__ import annotations

import argparse
import dataclasses
import enum
import math
import os
import queue
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from dropline.commands._inputs import fleet_ports, positive
from dropline.commands.exit_codes import ExitCode
from dropline.commands.sim_control import FAULTS, NO_VALUE, FleetFaults, fault_value, parse_number
from planner.errors import InputError
from planner.scenario import DroneType, Scenario, Wind
from planner.terrain import Dem
from sitl.errors import SimulatorError, SitlLaunchError

DEFAULT_SITL_WORKDIR = "dropline-sitl"

SIM_CONSOLE_HELP = """\
commands on standard input (vehicles are numbered from 1, like their system ids):
  fault V loss P        drop a share P (0..1) of the link's packets
  fault V latency S     delay every packet by S seconds
  fault V duplicate P   send a share P of packets twice
  fault V reorder P     swap a share P of packets with the next one
  fault V link ok       clear every link fault of vehicle V
  fault V cut S         cut the link for S seconds
  fault V battery F     drop the remaining battery capacity by a share F (0..1)
  fault V gps off|on    lose or regain GPS
  fault V motor         motor failure: the vehicle is forced to land
  status                one line of state per vehicle
  help                  this list
  quit                  stop every vehicle and exit (as Ctrl-C or SIGTERM do)
"""


# -- argument parsing --------------------------------------------------------------------------
def register(sub: Any) -> None:
    """Add the ``sim`` and ``sitl`` subcommands to the ``dropline`` subparsers ``sub``."""
    sim = sub.add_parser(
        "sim", help="run a built-in simulated ArduCopter fleet on loopback",
        description="Start N simulated ArduCopter-compatible copters in this process, each a "
                    "MAVLink 2 endpoint (TCP base-port + 10*i, system id i+1). Prints one "
                    "connection string per vehicle, then runs until Ctrl-C, SIGTERM or 'quit'.",
        epilog=SIM_CONSOLE_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    sim.add_argument("--vehicles", type=int, default=1, metavar="N", help="number of copters")
    sim.add_argument("--home", metavar="LAT,LON[,ALT]",
                     help="home of vehicle 1 (the others 10 m apart eastwards); ALT AMSL "
                          "defaults to the DEM height there, else 0 (default: the scenario's "
                          "first depot)")
    sim.add_argument("--speedup", type=float, default=1.0, metavar="X",
                     help="simulated seconds per wall second (default 1)")
    sim.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    sim.add_argument("--base-port", type=int, default=5760, metavar="P",
                     help="TCP port of vehicle 1 (default 5760)")
    sim.add_argument("--udp", action="store_true", help="also serve MAVLink over UDP")
    sim.add_argument("--scenario", metavar="DIR",
                     help="fly over this scenario's DEM, in its wind, as its drone type")
    sim.add_argument("--drone-type", metavar="ID",
                     help="scenario drone type to simulate (default: the first depot's)")
    sim.set_defaults(func=sim_command)

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


def parse_home(text: str, *, min_values: int, max_values: int) -> tuple[float, ...]:
    """``LAT,LON[,ALT[,HDG]]`` as floats, checked.

    Examples
    --------
    >>> parse_home("44.06,-71.13,150", min_values=2, max_values=3)
    (44.06, -71.13, 150.0)
    """
    parts = [p.strip() for p in text.split(",")]
    if not min_values <= len(parts) <= max_values:
        names = ["LAT", "LON", "ALT", "HDG"]
        raise InputError(f"expected {','.join(names[:max_values])} with at least {min_values} "
                         f"values, got {text!r}", field="--home")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError as exc:
        raise InputError(f"expected numbers, got {text!r}", field="--home") from exc
    if not all(math.isfinite(v) for v in values) or not (
            -90 <= values[0] <= 90 and -180 <= values[1] <= 180):
        raise InputError(f"expected a latitude in [-90, 90] and a longitude in [-180, 180], "
                         f"got {text!r}", field="--home")
    return values


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SimInputs:
    """Where and as what the simulated vehicles fly."""

    home: tuple[float, float, float]
    heading_deg: float = 0.0
    dem: Dem | None = None
    drone_type: DroneType | None = None
    wind: Wind | None = None


def _pick_drone_type(scenario: Scenario, wanted: str | None) -> DroneType:
    if wanted is not None:
        if wanted not in scenario.drone_types:
            raise InputError(f"no drone type {wanted!r} in the scenario (has "
                             f"{', '.join(scenario.drone_types)})", field="--drone-type")
        return scenario.drone_types[wanted]
    for depot in scenario.depots:
        for type_id, count in depot.drones.items():
            if count > 0 and type_id in scenario.drone_types:
                return scenario.drone_types[type_id]
    return next(iter(scenario.drone_types.values()))


def sim_inputs(home_text: str | None, scenario_dir: str | None, drone_type: str | None, *,
               max_values: int = 3) -> SimInputs:
    """Home, DEM, drone type and wind from ``--home``, ``--scenario`` and ``--drone-type``."""
    scenario = dem = None
    if scenario_dir is not None:
        from planner.io.inputs import load_scenario_with_dem
        loaded = load_scenario_with_dem(scenario_dir)
        scenario, dem = loaded.scenario, loaded.dem
    elif drone_type is not None:
        raise InputError("--drone-type needs --scenario", field="--drone-type")
    if home_text is not None:
        values = parse_home(home_text, min_values=2, max_values=max_values)
    elif scenario is not None:
        values = (scenario.depots[0].lat_deg, scenario.depots[0].lon_deg)
    else:
        raise InputError("give --home LAT,LON[,ALT] or --scenario DIR", field="--home")
    lat, lon = values[0], values[1]
    if len(values) >= 3:
        alt = values[2]
    elif dem is not None and bool(dem.covers(lon, lat)):
        alt = float(dem.elevation_amsl_m(lon, lat))
    else:
        alt = 0.0
    return SimInputs(home=(lat, lon, alt), heading_deg=values[3] if len(values) > 3 else 0.0,
                     dem=dem, wind=None if scenario is None else scenario.wind,
                     drone_type=None if scenario is None else _pick_drone_type(scenario,
                                                                               drone_type))


# -- the fault console -------------------------------------------------------------------------
class Verb(enum.Enum):
    """What a console line asks for."""

    FAULT = "fault"
    STATUS = "status"
    HELP = "help"
    QUIT = "quit"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ConsoleCommand:
    """One parsed console line; ``vehicle`` is 1-based, ``value`` the fault's number if any."""

    verb: Verb
    vehicle: int = 0
    fault: str = ""
    value: float = 0.0


def parse_console_line(line: str, vehicles: int) -> ConsoleCommand | None:
    """Parse one line of the ``dropline sim`` console; None for a blank line.

    Raises
    ------
    ValueError
        With what was expected, for a malformed line.

    Examples
    --------
    >>> parse_console_line("fault 2 loss 0.3", vehicles=3)
    ConsoleCommand(verb=<Verb.FAULT: 'fault'>, vehicle=2, fault='loss', value=0.3)
    """
    words = line.split()
    if not words:
        return None
    head = words[0].lower()
    if head in ("status", "help", "quit", "exit") and len(words) == 1:
        return ConsoleCommand(verb=Verb.QUIT if head == "exit" else Verb(head))
    if head != "fault" or len(words) < 3:
        raise ValueError(f"unknown command {line.strip()!r}; type 'help'")
    vehicle = int(parse_number(words[1], f"a vehicle number 1..{vehicles}", 1, vehicles))
    if words[1] != str(vehicle):
        raise ValueError(f"expected a vehicle number 1..{vehicles}, got {words[1]!r}")
    kind, args = words[2].lower(), words[3:]
    if kind == "link" and [a.lower() for a in args] == ["ok"]:
        kind, args = "link_ok", []
    if kind not in FAULTS or len(args) != (0 if kind in NO_VALUE else 1):
        raise ValueError(f"cannot parse {line.strip()!r}; type 'help'")
    value = fault_value(kind, args[0] if args else "")
    return ConsoleCommand(verb=Verb.FAULT, vehicle=vehicle, fault=kind, value=value)


def describe_state(state: object) -> str:
    """One line of ``name=value`` pairs of a vehicle snapshot (a dataclass)."""
    if not dataclasses.is_dataclass(state):
        return str(state)
    parts = []
    for f in dataclasses.fields(state):
        value = getattr(state, f.name)
        if isinstance(value, float):
            digits = 7 if f.name.endswith("_deg") else 2
            value = round(value, digits)
        parts.append(f"{f.name}={value}")
    return " ".join(parts)


class FaultConsole:
    """Apply console commands to a running fleet (thread-safe vehicle handles)."""

    def __init__(self, fleet: Any, vehicles: int, out: IO[str]) -> None:
        self.fleet = fleet
        self.vehicles = vehicles
        self.out = out
        self._faults = FleetFaults(fleet)

    def run_line(self, line: str) -> bool:
        """Execute one line; return False when it asks to quit."""
        try:
            cmd = parse_console_line(line, self.vehicles)
        except ValueError as exc:
            print(f"error: {exc}", file=self.out, flush=True)
            return True
        if cmd is None:
            return True
        if cmd.verb is Verb.QUIT:
            return False
        if cmd.verb is Verb.HELP:
            print(SIM_CONSOLE_HELP, file=self.out, end="", flush=True)
        elif cmd.verb is Verb.STATUS:
            for i in range(self.vehicles):
                print(f"vehicle {i + 1}: {describe_state(self.fleet.vehicle(i).snapshot())}",
                      file=self.out, flush=True)
        else:
            self._faults.apply(cmd.vehicle, cmd.fault, cmd.value)
            print(f"ok: vehicle {cmd.vehicle} {cmd.fault} {cmd.value:g}", file=self.out,
                  flush=True)
        return True


class StopSignals:
    """SIGINT and SIGTERM while inside: during start-up they interrupt (KeyboardInterrupt, so
    that whatever was started is stopped again); once :attr:`running` is set they only set
    :attr:`stop`, which the run loop watches. Handlers are only installed in the main thread."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.running = False
        self._previous: dict[int, Any] = {}

    def _handle(self, _signum: int, _frame: object) -> None:
        self.stop.set()
        if not self.running:
            raise KeyboardInterrupt

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.getsignal(sig)
                signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()


def _read_lines(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def run_until_stopped(stop: threading.Event, on_line: Callable[[str], bool] | None,
                      tick: Callable[[], bool] | None = None, stdin: IO[str] | None = None) -> None:
    """Wait until ``stop`` is set, ``on_line`` (fed standard input) returns False, or ``tick``
    (called about every 0.2 s) returns False."""
    lines: queue.Queue[str | None] = queue.Queue()
    if on_line is not None:
        threading.Thread(target=_read_lines, args=(stdin or sys.stdin, lines), daemon=True,
                         name="sim-console").start()
    while not stop.is_set():
        try:
            line = lines.get(timeout=0.2)
        except queue.Empty:
            line = ""
        if line is None:
            on_line = None
        elif line and on_line is not None and not on_line(line):
            return
        if tick is not None and not tick():
            return


def sim_command(args: argparse.Namespace) -> int:
    """``dropline sim``: run the built-in fleet until stopped."""
    if not 1 <= args.vehicles <= 1000:
        raise InputError(f"expected 1..1000 vehicles, got {args.vehicles}", field="--vehicles")
    positive(args.speedup, "--speedup")
    fleet_ports(args.base_port, args.vehicles, "--base-port")
    inputs = sim_inputs(args.home, args.scenario, args.drone_type)
    from sitl.builtin import BuiltinFleet
    fleet = BuiltinFleet(vehicles=args.vehicles, home=inputs.home, speedup=args.speedup,
                         seed=args.seed, base_port=args.base_port, udp=args.udp, dem=inputs.dem,
                         drone_type=inputs.drone_type, wind=inputs.wind)
    with StopSignals() as signals:
        try:
            fleet.start()
        except OSError as exc:
            raise SimulatorError(f"could not open the vehicles' ports: {exc}") from exc
        try:
            signals.running = True
            for url in fleet.connection_strings:
                print(url, flush=True)
            print(f"{args.vehicles} simulated copters at {inputs.home[0]:.6f}, "
                  f"{inputs.home[1]:.6f}, {inputs.home[2]:.1f} m AMSL, speedup "
                  f"{args.speedup:g}; type 'help' for fault commands, Ctrl-C to stop",
                  file=sys.stderr, flush=True)
            console = FaultConsole(fleet, args.vehicles, sys.stdout)
            run_until_stopped(signals.stop, console.run_line, tick=lambda: fleet.running)
        finally:
            fleet.stop()
    if fleet.loop_error is not None:
        print(f"error: the simulation stopped: {fleet.loop_error!r}", file=sys.stderr)
        return ExitCode.CHECK_FAILED
    print("stopped", file=sys.stderr)
    return ExitCode.OK


# -- real SITL ---------------------------------------------------------------------------------
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
