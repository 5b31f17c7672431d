"""``dropline region``: the regional setup on one machine.

Starts PostgreSQL (a cluster in ``DATA/postgres``), Mosquitto (``DATA/broker``: loopback, logins,
ACL), the vehicles' workers of each hub (``dropline worker``, leasing each vehicle in the shared
database), and the consoles (``dropline serve --broker --reuse-port``, all at the one address of
``--port``, sharing the database and ``DATA/console``); with ``--sim-vehicles N`` also N simulated
copters per hub. Runs until Ctrl-C or SIGTERM, then stops everything. A worker or console that dies
is started again after a few seconds (the hub's other workers take over its vehicles meanwhile);
the database, the broker or the simulator stopping stops the region (exit 1, its log's end
printed)."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import Any

from dropline.commands._inputs import at_least, positive
from dropline.commands.exit_codes import ExitCode
from dropline.samples import missions_dir
from gcs.bus.topics import check_id
from planner.errors import InputError


def register(sub: Any) -> None:
    """Add the ``region`` subcommand to the ``dropline`` subparsers ``sub``."""
    region = sub.add_parser(
        "region", help="PostgreSQL, Mosquitto, hub workers and consoles on one machine",
        description="Start the multi-process setup on this machine from Debian's postgresql "
                    "and mosquitto packages: the shared database, the broker, N workers per "
                    "hub and M consoles (and simulated copters with --sim-vehicles). Prints "
                    "the consoles' addresses and the admin login; runs until Ctrl-C.")
    region.add_argument("--hubs", default="north", metavar="A,B",
                        help="hub ids, comma-separated (default north)")
    region.add_argument("--workers-per-hub", type=int, default=1, metavar="N",
                        help="worker processes per hub (default 1; more share the vehicles "
                             "and take over those of one that dies)")
    region.add_argument("--consoles", type=int, default=2, metavar="M",
                        help="console processes (default 2)")
    region.add_argument("--port", type=int, default=8080, metavar="P",
                        help="HTTP port of the consoles: all listen on it, the kernel "
                             "spreading connections among them (default 8080)")
    region.add_argument("--db-port", type=int, default=5433, metavar="P",
                        help="PostgreSQL's loopback port (default 5433)")
    region.add_argument("--broker-port", type=int, default=1883, metavar="P",
                        help="Mosquitto's loopback port (default 1883)")
    region.add_argument("--data-dir", default="dropline-region", metavar="DIR",
                        help="what the region keeps: database, broker logins, plans, logs "
                             "(default ./dropline-region)")
    region.add_argument("--connect", action="append", default=[], metavar="HUB=CONN",
                        help="a vehicle connection of a hub's workers (tcp:HOST:PORT, "
                             "udpin:0.0.0.0:14550, a serial device); repeatable")
    region.add_argument("--sim-vehicles", type=int, default=0, metavar="N",
                        help="simulated copters per hub (default none)")
    region.add_argument("--sim-base-port", type=int, default=5760, metavar="P",
                        help="TCP port of simulated copter 1, the others every 10 ports "
                             "(default 5760)")
    region.add_argument("--speedup", type=float, default=1.0, metavar="X",
                        help="the simulated copters' speed-up (default 1)")
    region.add_argument("--scenario", metavar="DIR",
                        help="scenario whose terrain the workers serve and whose first depot "
                             "the simulated copters start at (default the sample district)")
    region.set_defaults(func=region_command)


def _config(args: argparse.Namespace) -> Any:
    from dropline.region.launch import RegionConfig

    hubs = tuple(h.strip() for h in args.hubs.split(",") if h.strip())
    if not hubs:
        raise InputError("Expected at least one hub id", field="--hubs")
    for hub in hubs:
        try:
            check_id(hub, "hub")
        except ValueError as exc:
            raise InputError(str(exc), field="--hubs") from None
    if len(set(hubs)) != len(hubs):
        raise InputError(f"Expected different hub ids, got {args.hubs!r}", field="--hubs")
    at_least(args.workers_per_hub, 1, "--workers-per-hub")
    at_least(args.consoles, 1, "--consoles")
    at_least(args.sim_vehicles, 0, "--sim-vehicles")
    positive(args.speedup, "--speedup")
    for value, option in ((args.port, "--port"), (args.db_port, "--db-port"),
                          (args.broker_port, "--broker-port"),
                          (args.sim_base_port, "--sim-base-port")):
        if not 1 <= value <= 65535 - args.consoles:
            raise InputError(f"Expected a TCP port, got {value}", field=option)
    connect: dict[str, tuple[str, ...]] = {}
    for item in args.connect:
        hub, sep, conn = item.partition("=")
        if not sep or not conn:
            raise InputError(f"Expected HUB=CONN, got {item!r}", field="--connect")
        if hub not in hubs:
            raise InputError(f"hub {hub!r} is not in --hubs", field="--connect")
        connect[hub] = (*connect.get(hub, ()), conn)
    scenario = Path(args.scenario) if args.scenario else missions_dir() / "district"
    if not (scenario / "scenario.toml").is_file():
        raise InputError(f"Expected a scenario folder with scenario.toml, got {scenario}",
                         field="--scenario")
    if not args.sim_vehicles:
        for hub in hubs:
            if hub not in connect:
                raise InputError(f"hub {hub!r} has no vehicles: give --connect {hub}=CONN or "
                                 "--sim-vehicles N", field="--connect")
    return RegionConfig(data_dir=Path(args.data_dir), hubs=hubs,
                        workers_per_hub=args.workers_per_hub, consoles=args.consoles,
                        console_port=args.port, db_port=args.db_port,
                        broker_port=args.broker_port, sim_vehicles=args.sim_vehicles,
                        sim_base_port=args.sim_base_port,
                        speedup=args.speedup, scenario=scenario, connect=connect)


def region_command(args: argparse.Namespace) -> int:
    """``dropline region``."""
    from dropline.region.launch import Region

    region = Region(_config(args))
    stopping = {"now": False}

    def _stop(_signum: int, _frame: object) -> None:
        stopping["now"] = True

    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        region.start(say=lambda line: print(line, flush=True))
        print("running; Ctrl-C stops the region", flush=True)
        ended = region.wait(lambda: stopping["now"], say=lambda line: print(line, flush=True))
        if ended is not None:
            print(f"error: {ended.name} stopped (exit {ended.process.returncode}): "
                  f"{region.log_tail(ended.name)}", file=sys.stderr, flush=True)
            return ExitCode.CHECK_FAILED
        return ExitCode.OK
    except KeyboardInterrupt:
        return ExitCode.OK
    finally:
        print("stopping the region", file=sys.stderr, flush=True)
        region.stop()
        signal.signal(signal.SIGTERM, previous)
