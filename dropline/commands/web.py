"""``dropline demo`` (the console with a simulated fleet) and ``dropline serve`` (the console for
real vehicles).

``demo`` starts the whole sample district's fleet as built-in simulated copters: one vehicle per
drone the scenario lists at each depot, standing at that depot, with that drone type's battery,
mass and speeds. It starts the console on ``--port`` with its data in ``--data-dir``, an
``admin`` account (password from ``DROPLINE_ADMIN_PASSWORD``, else generated and printed once)
and a draft plan of the whole district, opened by the Plan page; planned, uploaded and started
from the console, every servable drop is flown. Simulated packs are swapped by the "crew" a
minute after a vehicle disarms at its depot (:mod:`sitl.builtin.copter.vehicle`). The simulated
vehicles listen on TCP ``--sim-base-port + 10*i`` (free ports are picked when not given; a
given port in use is refused). Fault injection into the simulated copters is on the fleet page
(engineers and admins). ``serve`` starts only the console, connected to the ``--connect``
vehicles; without ``--speedup`` it follows each vehicle's ``SIM_SPEEDUP`` (1 for real ones).
Both serve the sample district's terrain to vehicles asking for it until a plan is uploaded,
then the plan's. ``serve --broker mqtt://...`` opens no link: it shows and commands the
vehicles of the workers (``dropline worker``) on that MQTT broker (:mod:`web.fleet_broker`).
Both run until Ctrl-C or SIGTERM and then exit 0; bad input (a port, a key file,
a short ``DROPLINE_ADMIN_PASSWORD``) exits 2 before anything starts
(:mod:`dropline.commands.exit_codes`).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import signal
import socket
import sys
from typing import Any

from dropline.commands._inputs import (
    PORT_STEP,
    add_sign_key_file,
    fleet_ports,
    port_number,
    positive,
)
from dropline.commands.exit_codes import ExitCode
from dropline.samples import missions_dir
from planner.errors import InputError
from planner.io.inputs import scenario_with_dem
from planner.io.scenario import load_scenario
from planner.scenario import Scenario
from sitl.errors import SimulatorError

MISSIONS = missions_dir()
SAMPLE = "district"
#: Default speed-up of the demo: a whole district day (14 simulated vehicles, 22 sorties, about
#: 2 h 15 min of simulated time) flies in about a quarter of an hour on two cores.
DEMO_SPEEDUP = 10.0
#: Metres between the simulated vehicles standing at one depot (east-west).
DEPOT_SPACING_M = 5.0
_M_PER_DEG = 111_320.0


def register(sub: Any) -> None:
    """Add ``demo`` and ``serve`` to the ``dropline`` subparsers ``sub``."""
    demo = sub.add_parser(
        "demo", help="the web console with a simulated fleet and the sample district",
        description="Start the sample district's whole fleet as simulated copters (one per "
                    "drone each depot lists, at its depot, of its drone type), the web console "
                    "with a draft plan of the district on the Plan page, and an admin account; "
                    "print the address and the first login. Runs until Ctrl-C.")
    _common(demo, port=8080)
    demo.add_argument("--speedup", type=float, default=DEMO_SPEEDUP, metavar="X",
                      help=f"simulated seconds per wall second (default {DEMO_SPEEDUP:g})")
    demo.add_argument("--sim-base-port", type=int, default=None, metavar="P",
                      help="TCP port of simulated vehicle 1, the others every 10 ports "
                           "(default: the first free ones from 5760)")
    demo.set_defaults(func=demo_command)

    serve = sub.add_parser(
        "serve", help="the web console for real vehicles (no simulator)",
        description="Serve the web console connected to the --connect vehicles. The first start "
                    "creates the admin account (DROPLINE_ADMIN_PASSWORD, else printed once).")
    _common(serve, port=8080)
    serve.add_argument("--host", default="127.0.0.1",
                       help="interface to listen on (default 127.0.0.1; 0.0.0.0 for all)")
    serve.add_argument("--connect", action="append", default=[], metavar="CONN",
                       help="MAVLink connection to vehicles (tcp:HOST:PORT, udpin:0.0.0.0:14550, "
                            "/dev/ttyUSB0,57600); repeatable")
    serve.add_argument("--speedup", type=float, default=None, metavar="X",
                       help="vehicle seconds per wall second when the vehicles are simulators "
                            "(default: each vehicle's SIM_SPEEDUP parameter; 1 for real "
                            "vehicles)")
    serve.add_argument("--broker", default=None, metavar="URL",
                       help="reach the vehicles through the workers (dropline worker) on this "
                            "MQTT broker instead of --connect links: mqtt://USER[:PASS]@HOST:"
                            "PORT (the console login; the password may come from "
                            "DROPLINE_BROKER_PASSWORD)")
    serve.add_argument("--secure-cookies", action="store_true",
                       help="mark session cookies Secure (behind HTTPS)")
    serve.add_argument("--reuse-port", action="store_true",
                       help="share --host:--port with the other consoles of this machine "
                            "started with --reuse-port (the kernel spreads connections among "
                            "them): several consoles on one database and broker at one "
                            "address, each answering any request")
    serve.set_defaults(func=serve_command)


def _common(parser: argparse.ArgumentParser, *, port: int) -> None:
    parser.add_argument("--port", type=int, default=port, metavar="P",
                        help=f"HTTP port (default {port})")
    parser.add_argument("--data-dir", default="dropline-data", metavar="DIR",
                        help="database, plans, flight logs and map tiles (default "
                             "./dropline-data)")
    parser.add_argument("--sign", action="store_true",
                        help="MAVLink 2 signing with every vehicle: a random key per vehicle, "
                             "kept in DIR/signing.json (owner-only, reused on later starts); "
                             "all sent packets signed, unsigned ones from keyed vehicles ignored")
    add_sign_key_file(parser)
    parser.add_argument("--notify", default=None, metavar="FILE",
                        help="tell recipients (the drops' phone and email columns) about their "
                             "parcels through the webhook and/or SMTP server of this TOML file "
                             "(see README, Notifications)")


def signing_config(args: argparse.Namespace) -> dict[str, Any]:
    """The console's signing settings asked for with ``--sign`` or ``--sign-key-file``.

    Raises
    ------
    InputError
        The key file cannot be read or holds no key.
    """
    path = getattr(args, "sign_key_file", None)
    if path:
        from gcs.signing import read_key_file

        read_key_file(path)
        return {"SIGN_KEY_FILE": str(path)}
    return {"SIGN": True} if getattr(args, "sign", False) else {}


def notify_config(args: argparse.Namespace) -> dict[str, Any]:
    """The console's notification settings from ``--notify FILE``, if given.

    Raises
    ------
    InputError
        The file is missing, malformed or has a wrong setting (named).
    """
    path = getattr(args, "notify", None)
    if not path:
        return {}
    from web.notify.config import load_notify_config

    return {"NOTIFY": load_notify_config(path)}


def _check(args: argparse.Namespace) -> None:
    port_number(args.port, "--port")
    if args.speedup is not None:
        positive(args.speedup, "--speedup")
    from web.accounts import MIN_PASSWORD

    password = os.environ.get("DROPLINE_ADMIN_PASSWORD")
    if password and len(password) < MIN_PASSWORD:
        raise InputError(f"expected at least {MIN_PASSWORD} characters",
                         field="DROPLINE_ADMIN_PASSWORD")
    signing_config(args)  # an unreadable key file is refused before anything starts
    notify_config(args)
    os.umask(0o077)  # the database, flight logs, plans and tiles: readable by the owner only


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DemoVehicle:
    """One simulated vehicle of the demo: the drone it stands for and where it stands."""

    depot_id: str
    drone_type_id: str
    number: int
    lat_deg: float
    lon_deg: float

    @property
    def name(self) -> str:
        """The plan's name of this drone (``depot/type/n``)."""
        return f"{self.depot_id}/{self.drone_type_id}/{self.number}"


def demo_vehicles(scenario: Scenario, spacing_m: float = DEPOT_SPACING_M) -> list[DemoVehicle]:
    """One vehicle per drone each depot lists, in depot order, types sorted, at its depot
    (``spacing_m`` apart eastwards)."""
    out: list[DemoVehicle] = []
    for depot in scenario.depots:
        k = 0
        east_deg = spacing_m / (_M_PER_DEG * math.cos(math.radians(depot.lat_deg)))
        for type_id in sorted(depot.drones):
            for n in range(1, depot.drones[type_id] + 1):
                out.append(DemoVehicle(depot_id=depot.id, drone_type_id=type_id, number=n,
                                       lat_deg=depot.lat_deg,
                                       lon_deg=depot.lon_deg + k * east_deg))
                k += 1
    return out


def ports_in_use(base_port: int, vehicles: int, host: str = "127.0.0.1") -> list[int]:
    """The ports among ``base_port + 10*i`` (``i < vehicles``) that cannot be bound now."""
    taken = []
    for i in range(vehicles):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, base_port + 10 * i))
            except OSError:
                taken.append(base_port + 10 * i)
    return taken


def free_base_port(vehicles: int, first: int = 5760) -> int:
    """The lowest base port from ``first`` whose ``base + 10*i`` ports are all free."""
    for base in range(first, 65536 - 10 * vehicles, 10 * vehicles):
        if not ports_in_use(base, vehicles):
            return base
    raise SimulatorError("no free TCP ports for the simulated vehicles")


def check_base_port(base_port: int, vehicles: int) -> None:
    """Refuse a ``--sim-base-port`` out of range or with a port another program holds.

    Raises
    ------
    InputError
        Naming the option, the ports and why.
    """
    fleet_ports(base_port, vehicles, "--sim-base-port")
    last = base_port + PORT_STEP * (vehicles - 1)
    taken = ports_in_use(base_port, vehicles)
    if taken:
        raise InputError(f"port {', '.join(map(str, taken))} is in use by another program; the "
                         f"{vehicles} simulated vehicles need TCP {base_port}..{last} every 10 "
                         f"ports: give another --sim-base-port or leave it out to pick free ones",
                         field="--sim-base-port")


def start_demo_fleet(speedup: float, base_port: int | None = None,
                     scenario: Scenario | None = None) -> Any:
    """The simulated copters of every depot of the sample district, started.

    ``base_port`` None picks free ports; a given one must be free (:func:`check_base_port`).
    """
    from sitl.builtin import BuiltinFleet

    scenario = scenario or load_scenario(MISSIONS / SAMPLE)
    vehicles = demo_vehicles(scenario)
    if base_port is None:
        base_port = free_base_port(len(vehicles))
    else:
        check_base_port(base_port, len(vehicles))
    dem = scenario_with_dem(scenario).dem
    first = scenario.depots[0]
    ground = float(dem.elevation_amsl_m(first.lon_deg, first.lat_deg))
    fleet = BuiltinFleet(vehicles=len(vehicles), home=(first.lat_deg, first.lon_deg, ground),
                         speedup=speedup, base_port=base_port, dem=dem,
                         homes=[(v.lat_deg, v.lon_deg) for v in vehicles],
                         drone_types=[scenario.drone_types[v.drone_type_id] for v in vehicles],
                         wind=scenario.wind, battery_swap=True)
    try:
        fleet.start()
    except (OSError, SimulatorError) as exc:
        raise SimulatorError(f"could not open the simulated vehicles' ports "
                             f"{base_port}..{base_port + 10 * (len(vehicles) - 1)}: "
                             f"{exc}") from exc
    return fleet


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Demo:
    """The demo's console app, its simulated fleet and the draft plan it opens with."""

    app: Any
    fleet: Any
    plan_id: str
    vehicles: tuple[DemoVehicle, ...]
    first_login: str | None

    def close(self) -> None:
        """Stop the console's services and the simulated fleet."""
        try:
            self.app.extensions["dropline"].close()
        finally:
            self.fleet.stop()


def start_demo(data_dir: str, speedup: float, *, sim_base_port: int | None = None,
               drop_ids: list[str] | None = None,
               settings: dict[str, Any] | None = None) -> Demo:
    """The demo wiring: simulated fleet, console app, admin account and the draft plan.

    ``settings`` are more console settings (signing, notifications).

    The draft plan (the whole sample district, or only ``drop_ids``) is made on the first start
    of a data folder and reused after; it is the plan the Plan page opens.
    """
    from dropline.commands.sim_control import FleetSimulator
    from web import create_app
    from web.services import services

    scenario = load_scenario(MISSIONS / SAMPLE)
    vehicles = demo_vehicles(scenario)
    fleet = start_demo_fleet(speedup, sim_base_port, scenario)
    try:
        app = create_app({"DATA_DIR": data_dir, "CONNECT": fleet.connection_strings,
                          "TIME_SCALE": speedup, "MISSIONS_DIR": str(MISSIONS),
                          "SAMPLE_SCENARIO": SAMPLE, "SIMULATOR": FleetSimulator(fleet),
                          "VEHICLE_TYPES": {i + 1: v.drone_type_id
                                            for i, v in enumerate(vehicles)},
                          **(settings or {})})
        try:
            generated = _first_login(app)
            with app.app_context():
                plan_id = _draft_plan(services().plans, drop_ids)
            app.config["DEFAULT_PLAN"] = plan_id
        except BaseException:
            app.extensions["dropline"].close()
            raise
    except BaseException:
        fleet.stop()
        raise
    return Demo(app=app, fleet=fleet, plan_id=plan_id, vehicles=tuple(vehicles),
                first_login=generated)


def _draft_plan(plans: Any, drop_ids: list[str] | None) -> str:
    """The demo's plan of the district: the oldest plan of the folder, else a new draft."""
    existing = [r for r in plans.all() if r.name == SAMPLE]
    if existing:
        return str(existing[-1].id)
    edits = {} if drop_ids is None else {"drop_ids": list(drop_ids)}
    return str(plans.create(SAMPLE, username="admin", edits=edits).id)


def _first_login(app: Any) -> str | None:
    from web.services import services

    with app.app_context():
        return services().users.ensure_admin(os.environ.get("DROPLINE_ADMIN_PASSWORD") or None)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _serve(app: Any, host: str, port: int, generated: str | None, *,
           reuse_port: bool = False) -> int:
    from web.server import WebServer

    try:
        server = WebServer(app, host=host, port=port, reuse_port=reuse_port)
    except OSError as exc:
        app.extensions["dropline"].close()
        raise InputError(f"cannot listen on {host}:{port}: {exc}", field="--port") from exc
    print(f"dropline console: {server.url}/", flush=True)
    if generated is not None:
        print(f"first login: admin / {generated}  (shown once; change it on the Account "
              "page: click your name)",
              flush=True)
    elif os.environ.get("DROPLINE_ADMIN_PASSWORD"):
        print("first login: admin / the password in DROPLINE_ADMIN_PASSWORD", flush=True)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.run()
    except KeyboardInterrupt:
        print("stopping", file=sys.stderr)
    finally:
        server.close()
    return ExitCode.OK


def demo_command(args: argparse.Namespace) -> int:
    """``dropline demo``."""
    _check(args)
    if args.sim_base_port is not None:
        port_number(args.sim_base_port, "--sim-base-port", lowest=1)
    demo = start_demo(args.data_dir, args.speedup, sim_base_port=args.sim_base_port,
                      settings={**signing_config(args), **notify_config(args)})
    try:
        depots = sorted({v.depot_id for v in demo.vehicles})
        ports = demo.fleet.connection_strings
        print(f"{len(demo.vehicles)} simulated copters at {len(depots)} depots "
              f"({', '.join(depots)}) at {args.speedup:g}x on {ports[0]} .. {ports[-1]}; "
              f"a draft plan of the whole sample district is open on the Plan page",
              flush=True)
        return _serve(demo.app, "127.0.0.1", args.port, demo.first_login)
    finally:
        demo.fleet.stop()


def broker_config(args: argparse.Namespace) -> dict[str, Any]:
    """The console's broker settings from ``--broker``, if given.

    Raises
    ------
    InputError
        A URL that is not ``mqtt://USER[:PASS]@HOST[:PORT]``, or ``--broker`` with links or
        signing (which the workers hold).
    """
    url = getattr(args, "broker", None)
    if not url:
        return {}
    from gcs.bus.url import BrokerUrl

    parsed = BrokerUrl.parse(url, option="--broker")
    if args.connect:
        raise InputError("give either --broker (vehicles through workers) or --connect "
                         "(links of this console), not both", field="--broker")
    if getattr(args, "sign", False) or getattr(args, "sign_key_file", None):
        raise InputError("signing is the workers' in broker mode; leave out --sign and "
                         "--sign-key-file", field="--broker")
    return {"BROKER": parsed}


def serve_command(args: argparse.Namespace) -> int:
    """``dropline serve``."""
    _check(args)
    broker = broker_config(args)
    from web import create_app

    app = create_app({**broker, "DATA_DIR": args.data_dir, "CONNECT": list(args.connect),
                      "TIME_SCALE": args.speedup, "MISSIONS_DIR": str(MISSIONS),
                      "SAMPLE_SCENARIO": SAMPLE,
                      "SESSION_COOKIE_SECURE": bool(args.secure_cookies),
                      **signing_config(args), **notify_config(args)})
    return _serve(app, args.host, args.port, _first_login(app), reuse_port=args.reuse_port)
