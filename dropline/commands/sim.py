"""``dropline sim``: the built-in simulated fleet, with a console of faults on standard input.

Exit codes (:mod:`dropline.commands.exit_codes`): 0 when stopped by Ctrl-C, SIGTERM or ``quit``;
1 when a simulated vehicle failed to start or the simulation died; 2 bad input (also: ports in
use).
"""

from __future__ import annotations

import argparse
import dataclasses
import enum
import sys
from typing import IO, Any

from dropline.commands._inputs import fleet_ports, positive, sim_inputs
from dropline.commands._running import StopSignals, run_until_stopped
from dropline.commands.exit_codes import ExitCode
from dropline.commands.sim_control import FAULTS, NO_VALUE, FleetFaults, fault_value, parse_number
from planner.errors import InputError
from sitl.errors import SimulatorError

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
    """Add the ``sim`` subcommand to the ``dropline`` subparsers ``sub``."""
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
                     help="start at this scenario's DEM height (the ground is the terrain a "
                          "ground station serves), in its wind, as its drone type")
    sim.add_argument("--drone-type", metavar="ID",
                     help="scenario drone type to simulate (default: the first depot's)")
    sim.set_defaults(func=sim_command)


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
