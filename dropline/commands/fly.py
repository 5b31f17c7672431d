"""``dropline fly``, ``dropline upload``, ``dropline status`` and ``dropline rtl``.

Vehicles are found on every ``--connect`` link and matched to the plan's vehicles
(:mod:`gcs.fleet.assign`): when the plan starts from several depots, each plan vehicle flies as a
vehicle standing at its depot; otherwise in order, the plan's vehicle names sorted against the
system ids heard, sorted (vehicle ``hub/quad/1`` flies as the lowest system id). Exit codes
(:mod:`dropline.commands.exit_codes`): 0 success (``fly``: every drop delivered); 1 some drops
were not delivered, a vehicle was not made ready (``upload``) or did not confirm (``rtl``); 2 bad
input; 3 a vehicle refused signing; 4 no usable vehicle answered.

``--out CONN[,ro]`` (``fly``, ``status``) forwards to other ground stations (:mod:`gcs.forward`);
``--sign`` and ``--sign-key-file`` set up MAVLink 2 signing with the vehicles first
(:mod:`gcs.signing`).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from dropline.commands._fly_display import ProgressDisplay, describe_snapshot
from dropline.commands._inputs import add_sign_key_file, at_least, positive, scenario_option
from dropline.commands.exit_codes import ExitCode
from gcs import commands
from gcs.errors import GroundControlError
from gcs.fleet.assign import match_fleet
from gcs.fleet.logs import FlightLog
from gcs.fleet.manager import FleetManager
from gcs.fleet.options import FlyOptions
from gcs.fleet.prepare import prepare_vehicle
from gcs.forward import Forwarder, OutputSpec
from gcs.link import Link
from gcs.signing import KeyStore, enable_fleet_signing, read_key_file
from gcs.telemetry import TelemetryHub
from gcs.transfer import Target
from planner.errors import InputError
from planner.io.plan_folder import read_plan_folder
from planner.plan_model import Plan


def register(sub: Any) -> None:
    """Add ``fly``, ``upload``, ``status`` and ``rtl`` to the ``dropline`` subparsers ``sub``."""
    fly = sub.add_parser(
        "fly", help="fly a plan: upload, verify, preflight, arm and monitor every sortie",
        description="Fly every sortie of a plan with the vehicles on the --connect links: "
                    "configure, upload and verify mission/fence/rally, run the preflight checks, "
                    "arm in GUIDED, start the mission and monitor it to landing, then the next "
                    "sortie after the turnaround. Each plan vehicle flies as a vehicle standing "
                    "at its depot when the plan has several depots, otherwise plan vehicles "
                    "(names sorted) fly as the system ids heard (sorted). Exits 0 when every "
                    "drop is delivered.")
    _plan_args(fly)
    fly.add_argument("--db", default="dropline.db", metavar="PATH|URL",
                     help="flight log: a SQLite file (default ./dropline.db) or a database URL "
                          "(postgresql://USER@HOST/DB); a run of the same plan "
                          "left unfinished is resumed, and a parcel any run of the plan "
                          "delivered is not flown again")
    fly.add_argument("--resend-delivered", action="store_true",
                     help="fly every sortie again in a new run, even those whose parcels were "
                          "delivered")
    fly.add_argument("--tlog-dir", metavar="DIR",
                     help="folder for one .tlog per flight (default: tlogs/ beside --db)")
    fly.add_argument("--speedup", type=float, default=None, metavar="X",
                     help="simulated seconds per wall second of simulated vehicles (default: "
                          "the vehicles' SIM_SPEEDUP parameter; 1 for real vehicles)")
    fly.add_argument("--turnaround", type=float, default=None, metavar="S",
                     help="seconds between sorties of a vehicle (default: the drone type's "
                          "with --scenario, else 0)")
    fly.add_argument("--reset-battery", action=argparse.BooleanOptionalAction, default=None,
                     help="send MAV_CMD_BATTERY_RESET after each turnaround, standing for the "
                          "battery swap (default: on simulators only, the vehicles with a "
                          "SIM_SPEEDUP parameter, whose battery is never swapped)")
    fly.add_argument("--reserve", type=float, default=20.0, metavar="PCT",
                     help="battery reserve without --scenario (default 20)")
    fly.add_argument("--timeout", type=float, default=None, metavar="S",
                     help="give up monitoring after S wall seconds")
    fly.add_argument("--no-progress", action="store_true", help="no live progress display")
    _output_args(fly)
    fly.add_argument("--sign", action="store_true",
                     help="MAVLink 2 signing with a random key per vehicle, kept beside --db "
                          "(DB-signing.json, reused on later runs)")
    add_sign_key_file(fly)
    fly.set_defaults(func=fly_command)

    upload = sub.add_parser(
        "upload", help="configure vehicles and upload a plan's sorties, verified by read-back",
        description="Configure each vehicle and upload its first sortie (or --sortie ID) of a "
                    "plan: mission, fence and rally, each read back and compared item by item.")
    _plan_args(upload)
    upload.add_argument("--sortie", metavar="ID", help="upload only this sortie")
    add_sign_key_file(upload)
    upload.set_defaults(func=upload_command)

    status = sub.add_parser("status", help="show the state of every vehicle on the links")
    _connect_args(status)
    status.add_argument("--watch", action="store_true",
                        help="show it again every --wait seconds until Ctrl-C (or --timeout)")
    status.add_argument("--timeout", type=float, default=None, metavar="S",
                        help="with --watch, stop after S seconds")
    status.add_argument("--scenario", metavar="DIR",
                        help="the scenario flown: its DEM gives heights above ground and is "
                             "served to vehicles asking for terrain")
    _output_args(status)
    add_sign_key_file(status)
    status.set_defaults(func=status_command)

    rtl = sub.add_parser("rtl", help="command vehicles to return to launch")
    _connect_args(rtl)
    rtl.add_argument("--sysid", type=int, default=None, metavar="N",
                     help="only this vehicle (default: every vehicle heard)")
    add_sign_key_file(rtl)
    rtl.set_defaults(func=rtl_command)


def _connect_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--connect", action="append", required=True, metavar="CONN",
                        help="MAVLink connection (tcp:HOST:PORT, udpin:0.0.0.0:14550, "
                             "udpout:HOST:PORT, /dev/ttyUSB0,57600); repeatable")
    parser.add_argument("--wait", type=float, default=5.0, metavar="S",
                        help="seconds to wait for the vehicles' heartbeats (default 5)")


def _plan_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("plan", metavar="PLAN_DIR", help="plan folder (or its plan.json)")
    _connect_args(parser)
    parser.add_argument("--scenario", metavar="DIR",
                        help="the plan's scenario: drone reserves and turnarounds, DEM for AGL")


def _output_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", action="append", default=[], metavar="CONN[,ro]",
                        help="forward every vehicle message to this output and its client's "
                             "messages to the vehicles (udp:HOST:PORT sends to a listening "
                             "QGroundControl or DroneKit; udpout:, udpin:, tcpin:, tcp: as in "
                             "MAVProxy); a ',ro' suffix makes it read-only; repeatable")
    parser.add_argument("--out-readonly", action="append", default=[], metavar="CONN",
                        help="a read-only output: its clients watch, their commands, mission "
                             "and parameter writes are dropped and logged; repeatable")


# -- shared ------------------------------------------------------------------------------------
def outputs_of(args: argparse.Namespace) -> list[OutputSpec]:
    """The forwarding outputs asked for with ``--out`` and ``--out-readonly``."""
    return [*(OutputSpec.parse(t) for t in getattr(args, "out", [])),
            *(OutputSpec.parse(t, read_only=True) for t in getattr(args, "out_readonly", []))]


def signing_keys(args: argparse.Namespace) -> bytes | KeyStore | None:
    """The signing keys asked for: a key file's, the store beside ``--db`` (``--sign``), or
    None."""
    if getattr(args, "sign_key_file", None):
        return read_key_file(args.sign_key_file)
    if getattr(args, "sign", False):
        if "://" in str(args.db):
            raise InputError("--sign keeps the keys beside the --db file; with a database URL "
                             "give the keys with --sign-key-file", field="--sign")
        return KeyStore.beside(args.db)
    return None


def sign_vehicles(hub: TelemetryHub, sysids: Sequence[int],
                  keys: bytes | KeyStore | None) -> None:
    """Set up signing with every vehicle ``sysids`` on its link (nothing without keys)."""
    if keys is None or not sysids:
        return
    links = {s: hub.link_of(s) for s in sysids}
    enable_fleet_signing({s: link for s, link in links.items() if link is not None}, keys)


def _forwarder(links: Sequence[Link], outputs: Sequence[OutputSpec]) -> Forwarder | None:
    return Forwarder(links, outputs).open() if outputs else None


def _stop(forwarder: Forwarder | None) -> None:
    if forwarder is not None:
        forwarder.close()


def load_plan(path_text: str) -> tuple[Plan, Path]:
    """The plan in a plan folder (or a plan.json path)."""
    folder = read_plan_folder(path_text)
    return folder.plan, folder.plan_path


def open_links(urls: Sequence[str], *, heartbeat_period_s: float = 1.0) -> list[Link]:
    """Open every connection string (closing those already open if one fails)."""
    links: list[Link] = []
    try:
        for url in urls:
            links.append(Link(url, heartbeat_period_s=heartbeat_period_s).open())
    except (OSError, ValueError) as exc:
        for link in links:
            link.close()
        raise InputError(f"cannot open {url!r}: {exc}", field="--connect") from exc
    return links


def _close(links: Sequence[Link]) -> None:
    for link in links:
        link.close()


# -- fly ---------------------------------------------------------------------------------------
def fly_command(args: argparse.Namespace, out: IO[str] | None = None) -> int:
    """``dropline fly PLAN_DIR --connect CONN ...``."""
    out = out or sys.stdout
    plan, path = load_plan(args.plan)
    scenario, dem = scenario_option(args.scenario)
    speedup = None if args.speedup is None else positive(args.speedup, "--speedup")
    if args.turnaround is not None:
        at_least(args.turnaround, 0, "--turnaround")
    if not 0 <= args.reserve < 100:
        raise InputError(f"expected --reserve in [0, 100), got {args.reserve}", field="--reserve")
    options = FlyOptions(time_scale=speedup or 1.0, turnaround_s=args.turnaround,
                         reset_battery=args.reset_battery, reserve_pct=args.reserve)
    outputs = outputs_of(args)
    keys = signing_keys(args)
    links = open_links(args.connect, heartbeat_period_s=min(1.0, 1.0 / (speedup or 5.0)))
    try:
        forwarder = _forwarder(links, outputs)
    except InputError:
        _close(links)
        raise
    flight_log = FlightLog(args.db, tlog_dir=args.tlog_dir)
    manager = FleetManager(links, plan, options=options, flight_log=flight_log, dem=dem,
                           drone_types=None if scenario is None else scenario.drone_types,
                           plan_path=str(path), resend_delivered=args.resend_delivered)
    try:
        assignment = manager.connect(args.wait)
        sign_vehicles(manager.hub, list(assignment.values()), keys)
        for name, sysid in assignment.items():
            print(f"{name} flies as system {sysid}", file=out)
        if speedup is None:
            print(f"vehicles run at {manager.follow_vehicle_speed():g}x (SIM_SPEEDUP)", file=out)
        if manager.run is not None and manager.run.resumed:
            print(f"resuming run {manager.run.id} of this plan", file=out)
        for reason in manager.skipped.values():
            print(f"{reason} (--resend-delivered flies it)", file=out)
        display = ProgressDisplay(manager, out, live=not args.no_progress)
        manager.on_alert(display.alert)
        manager.start()
        end = None if args.timeout is None else time.monotonic() + args.timeout
        while not manager.wait(1.0 if display.live else 5.0):
            display.update()
            if end is not None and time.monotonic() > end:
                print("error: --timeout reached; vehicles in the air keep flying",
                      file=sys.stderr)
                break
        display.update(final=True)
    finally:
        manager.stop()
        _stop(forwarder)
        _close(links)
        flight_log.close()
    return ExitCode.OK if manager.all_delivered else ExitCode.CHECK_FAILED


# -- upload ------------------------------------------------------------------------------------
def upload_command(args: argparse.Namespace, out: IO[str] | None = None) -> int:
    """``dropline upload PLAN_DIR --connect CONN [--sortie ID]``."""
    out = out or sys.stdout
    plan, _ = load_plan(args.plan)
    if args.sortie is not None and args.sortie not in {s.id for s in plan.sorties}:
        raise InputError(f"no sortie {args.sortie!r} in the plan", field="--sortie")
    keys = signing_keys(args)
    links = open_links(args.connect)
    hub = TelemetryHub(stream_rate_hz=2)  # positions, to match vehicles to depots
    for link in links:
        hub.attach(link)
    failures = 0
    try:
        assignment = match_fleet(hub, plan, args.wait)
        sign_vehicles(hub, list(assignment.values()), keys)
        for name, sysid in assignment.items():
            mine = [s for s in plan.sorties if s.vehicle == name]
            if args.sortie is not None:
                mine = [s for s in mine if s.id == args.sortie]
            if not mine:
                continue
            sortie = min(mine, key=lambda s: (s.start_s, s.id))
            vlink = hub.link_of(sysid)
            assert vlink is not None
            snap = hub.snapshot(sysid)
            if snap is not None and snap.armed:
                failures += 1
                print(f"{name} (system {sysid}): NOT uploaded: it is flying (mode {snap.mode}); "
                      f"upload once it has landed", file=out)
                continue
            try:
                prepare_vehicle(vlink, Target(sysid=sysid), sortie)
            except GroundControlError as exc:
                failures += 1
                print(f"{name} (system {sysid}): NOT ready: {exc}", file=out)
                continue
            print(f"{name} (system {sysid}): ready for sortie {sortie.id}: mission "
                  f"{len(sortie.mission)}, fence {len(sortie.fence)}, rally "
                  f"{len(sortie.rally)} items verified", file=out)
    finally:
        hub.close()
        _close(links)
    return ExitCode.CHECK_FAILED if failures else ExitCode.OK


# -- status and rtl ----------------------------------------------------------------------------
def status_command(args: argparse.Namespace, out: IO[str] | None = None) -> int:
    """``dropline status --connect CONN [--watch] [--out CONN[,ro]]``: one line per vehicle."""
    out = out or sys.stdout
    outputs = outputs_of(args)
    keys = signing_keys(args)
    _, dem = scenario_option(getattr(args, "scenario", None))
    links = open_links(args.connect, heartbeat_period_s=0.2)
    hub = TelemetryHub(dem=dem)
    for link in links:
        hub.attach(link)
    forwarder = None
    paced: set[int] = set()
    snaps: tuple[Any, ...] = ()
    try:
        forwarder = _forwarder(links, outputs)
        end = None if args.timeout is None else time.monotonic() + args.timeout
        signed = keys is None
        while True:
            time.sleep(max(args.wait, 0.0))
            if not signed and hub.vehicles:
                sign_vehicles(hub, hub.vehicles, keys)
                signed = True
            _follow_speed(hub, paced)
            snaps = hub.snapshots()
            for snap in snaps:
                print(describe_snapshot(snap), file=out, flush=True)
            if not args.watch or (end is not None and time.monotonic() >= end):
                break
    except KeyboardInterrupt:
        pass
    finally:
        _stop(forwarder)
        hub.close()
        _close(links)
    if not snaps:
        print("error: no vehicle heard", file=sys.stderr)
        return ExitCode.UNREACHABLE
    return ExitCode.OK


def _follow_speed(hub: TelemetryHub, paced: set[int]) -> None:
    """Heartbeat every vehicle not yet ``paced`` at least once a second of its own clock."""
    for sysid in hub.vehicles:
        link = hub.link_of(sysid)
        if sysid in paced or link is None:
            continue
        paced.add(sysid)
        scale = commands.vehicle_speedup(link, Target(sysid=sysid))
        link.heartbeat_period_s = min(link.heartbeat_period_s if scale > 1 else 1.0, 1.0 / scale)


def _wait_for(hub: TelemetryHub, sysid: int | None, wait_s: float) -> list[int]:
    """Every vehicle heard within ``wait_s``, or just ``sysid`` as soon as it is heard."""
    end = time.monotonic() + max(wait_s, 0.0)
    while time.monotonic() < end:
        if sysid is not None and sysid in hub.vehicles:
            return [sysid]
        time.sleep(0.05)
    return [s for s in hub.vehicles if sysid is None or s == sysid]


def rtl_command(args: argparse.Namespace, out: IO[str] | None = None) -> int:
    """``dropline rtl --connect CONN [--sysid N]``."""
    out = out or sys.stdout
    keys = signing_keys(args)
    links = open_links(args.connect)
    hub = TelemetryHub(stream_rate_hz=0)
    for link in links:
        hub.attach(link)
    refused = 0
    try:
        targets = _wait_for(hub, args.sysid, args.wait)
        if not targets:
            print("error: " + (f"vehicle {args.sysid} not heard" if args.sysid is not None
                               else "no vehicle heard"), file=sys.stderr)
            return ExitCode.UNREACHABLE
        sign_vehicles(hub, targets, keys)
        for sysid in targets:
            vlink = hub.link_of(sysid)
            assert vlink is not None
            try:
                commands.set_mode(vlink, Target(sysid=sysid), "RTL")
            except GroundControlError as exc:
                refused += 1
                print(f"system {sysid}: RTL not confirmed: {exc}", file=out)
                continue
            print(f"system {sysid}: returning to launch", file=out)
    finally:
        hub.close()
        _close(links)
    return ExitCode.CHECK_FAILED if refused else ExitCode.OK
