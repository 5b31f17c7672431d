"""``dropline demo`` (the console with a simulated fleet) and ``dropline serve`` (the console for
real vehicles).

``demo`` starts built-in simulated copters at a hub of the sample district, the console on
``--port`` with its data in ``--data-dir``, an ``admin`` account (password from
``DROPLINE_ADMIN_PASSWORD``, else generated and printed once) and a ready draft plan for the
simulated hub, with fault injection into the simulated copters on the fleet page (engineers
and admins); it prints the address and the first login. ``serve`` starts only the console,
connected to the ``--connect`` vehicles.
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

from dropline.samples import missions_dir
from planner.errors import InputError, SimulatorError
from planner.io.dem import load_dem
from planner.io.scenario import load_scenario
from planner.scenario import Scenario

MISSIONS = missions_dir()
SAMPLE = "district"
#: The district hub the demo's simulated copters stand at, and how many.
DEMO_HUB = "littleton"
DEMO_TYPE = "heavy_octo"
DEMO_VEHICLES = 3


def register(sub: Any) -> None:
    """Add ``demo`` and ``serve`` to the ``dropline`` subparsers ``sub``."""
    demo = sub.add_parser(
        "demo", help="the web console with a simulated fleet and the sample district",
        description=f"Start {DEMO_VEHICLES} simulated copters at the {DEMO_HUB} hub of the "
                    "sample district, the web console and an admin account; print the "
                    "address and the first login. Runs until Ctrl-C.")
    _common(demo, port=8080)
    demo.add_argument("--speedup", type=float, default=20.0, metavar="X",
                      help="simulated seconds per wall second (default 20)")
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
    serve.add_argument("--speedup", type=float, default=1.0, metavar="X",
                       help="vehicle seconds per wall second when the vehicles are simulators "
                            "(default 1)")
    serve.add_argument("--secure-cookies", action="store_true",
                       help="mark session cookies Secure (behind HTTPS)")
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
    parser.add_argument("--sign-key-file", metavar="PATH",
                        help="sign with the key in PATH: 64 hex digits or a passphrase (hashed "
                             "as MAVProxy's 'signing setup' does) for every vehicle, or the "
                             "per-vehicle keys written by 'fly --sign'")


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


def _check(args: argparse.Namespace) -> None:
    if not 0 <= args.port <= 65535:
        raise InputError(f"expected a port in 0..65535, got {args.port}", field="--port")
    if not (args.speedup > 0 and math.isfinite(args.speedup)):
        raise InputError(f"expected --speedup > 0, got {args.speedup}", field="--speedup")
    from web.auth import MIN_PASSWORD

    password = os.environ.get("DROPLINE_ADMIN_PASSWORD")
    if password and len(password) < MIN_PASSWORD:
        raise InputError(f"expected at least {MIN_PASSWORD} characters",
                         field="DROPLINE_ADMIN_PASSWORD")
    signing_config(args)  # an unreadable key file is refused before anything starts
    os.umask(0o077)  # the database, flight logs, plans and tiles: readable by the owner only


def demo_hub(scenario: Scenario) -> Scenario:
    """The sample scenario flown from the demo hub by the simulated copters only."""
    depot = next(d for d in scenario.depots if d.id == DEMO_HUB)
    depot = dataclasses.replace(depot, drones={DEMO_TYPE: DEMO_VEHICLES})
    return dataclasses.replace(scenario, depots=(depot,))


def _free_base_port(vehicles: int, first: int = 5760) -> int:
    """The lowest base port from ``first`` whose ``base + 10*i`` ports are all free."""
    for base in range(first, 60000, 10 * vehicles):
        free = True
        for i in range(vehicles):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                try:
                    s.bind(("127.0.0.1", base + 10 * i))
                except OSError:
                    free = False
                    break
        if free:
            return base
    raise SimulatorError("no free TCP ports for the simulated vehicles")


def start_demo_fleet(speedup: float) -> Any:
    """The simulated copters at the demo hub, started."""
    from sitl.builtin import BuiltinFleet

    scenario = load_scenario(MISSIONS / SAMPLE)
    depot = demo_hub(scenario).depots[0]
    dem = load_dem(scenario.terrain.dem_paths)
    ground = float(dem.elevation_amsl_m(depot.lon_deg, depot.lat_deg))
    fleet = BuiltinFleet(vehicles=DEMO_VEHICLES, home=(depot.lat_deg, depot.lon_deg, ground),
                         speedup=speedup, base_port=_free_base_port(DEMO_VEHICLES), dem=dem,
                         drone_type=scenario.drone_types[DEMO_TYPE], wind=scenario.wind)
    try:
        fleet.start()
    except OSError as exc:
        raise SimulatorError(f"could not open the simulated vehicles' ports: {exc}") from exc
    return fleet


def _first_login(app: Any) -> str | None:
    from web.services import services

    with app.app_context():
        return services().users.ensure_admin(os.environ.get("DROPLINE_ADMIN_PASSWORD") or None)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _serve(app: Any, host: str, port: int, generated: str | None) -> int:
    from web.server import WebServer

    try:
        server = WebServer(app, host=host, port=port)
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
    return 0


def demo_command(args: argparse.Namespace) -> int:
    """``dropline demo``."""
    _check(args)
    from dropline.sim_control import FleetSimulator
    from web import create_app
    from web.services import services

    fleet = start_demo_fleet(args.speedup)
    try:
        app = create_app({"DATA_DIR": args.data_dir, "CONNECT": fleet.connection_strings,
                          "TIME_SCALE": args.speedup, "RESET_BATTERY": True,
                          "MISSIONS_DIR": str(MISSIONS), "SAMPLE_SCENARIO": SAMPLE,
                          "SIMULATOR": FleetSimulator(fleet), **signing_config(args)})
        generated = _first_login(app)
        with app.app_context():
            plans = services().plans
            if not plans.all():
                depot = demo_hub(load_scenario(MISSIONS / SAMPLE)).depots[0]
                plans.create(SAMPLE, username="admin", edits={"depots": [{
                    "id": depot.id, "lat_deg": depot.lat_deg, "lon_deg": depot.lon_deg,
                    "drones": dict(depot.drones)}]})
        print(f"{DEMO_VEHICLES} simulated copters at the {DEMO_HUB} hub ({args.speedup:g}x); "
              f"a draft plan of the sample district from that hub is ready on the Plan page",
              flush=True)
        return _serve(app, "127.0.0.1", args.port, generated)
    finally:
        fleet.stop()


def serve_command(args: argparse.Namespace) -> int:
    """``dropline serve``."""
    _check(args)
    from web import create_app

    app = create_app({"DATA_DIR": args.data_dir, "CONNECT": list(args.connect),
                      "TIME_SCALE": args.speedup, "MISSIONS_DIR": str(MISSIONS),
                      "SAMPLE_SCENARIO": SAMPLE,
                      "SESSION_COOKIE_SECURE": bool(args.secure_cookies),
                      **signing_config(args)})
    return _serve(app, args.host, args.port, _first_login(app))
