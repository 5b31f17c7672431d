"""``dropline worker``: the ground-control worker of one hub on the MQTT bus.

It owns the MAVLink links of its hub's vehicles (``--connect``), publishes their state, alerts
and its presence on the broker (``--broker mqtt://USER[:PASS]@HOST:PORT``; the password may
come from ``DROPLINE_BROKER_PASSWORD`` instead, so that it is not in the process list) and
carries out the consoles' pause, resume, RTL and land commands, answering each
(:mod:`gcs.bus`). Terrain of ``--scenario`` (default the sample district) is served to vehicles
asking for it. With ``--database`` (default ``DATABASE_URL``) it takes a lease per vehicle in
that shared database before publishing or commanding it, and stops as soon as the lease is lost
(:mod:`gcs.bus.leases`); the hub's workers then keep a fair share each and take over a dead
worker's vehicles. With a database it also flies the runs that consoles request on the bus
(:mod:`gcs.bus.runs`): the plan's shared run in that database (its flight log), over the
vehicles it owns, with the terrain and drone types of ``--scenario``. Runs until Ctrl-C or
SIGTERM, then says "offline", gives its leases up, closes its links and exits 0; a bad option
exits 2, a broker that refuses the login 3 and one that does not answer 4.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Any

from dropline.commands._inputs import positive
from dropline.commands.exit_codes import ExitCode
from dropline.samples import missions_dir
from planner.errors import InputError


def register(sub: Any) -> None:
    """Add ``worker`` to the ``dropline`` subparsers ``sub``."""
    worker = sub.add_parser(
        "worker", help="own one hub's vehicle links and serve them over an MQTT broker",
        description="Connect to the --connect vehicles of hub --hub, publish their state, "
                    "alerts and this worker's presence on the --broker, and carry out the "
                    "consoles' commands (dropline serve --broker). Runs until Ctrl-C.")
    worker.add_argument("--hub", required=True, metavar="ID", help="the hub's id")
    worker.add_argument("--broker", required=True, metavar="URL",
                        help="mqtt://USER[:PASS]@HOST:PORT (the hub's worker login; the "
                             "password may come from DROPLINE_BROKER_PASSWORD)")
    worker.add_argument("--connect", action="append", default=[], metavar="CONN",
                        help="MAVLink connection to vehicles (tcp:HOST:PORT, "
                             "udpin:0.0.0.0:14550, /dev/ttyUSB0,57600); repeatable")
    worker.add_argument("--worker-id", default=None, metavar="W",
                        help="this worker's id, unique on the broker (default: HOST-PID)")
    worker.add_argument("--speedup", type=float, default=None, metavar="X",
                        help="vehicle seconds per wall second (default: each vehicle's "
                             "SIM_SPEEDUP parameter; 1 for real vehicles)")
    worker.add_argument("--database", default=None, metavar="URL",
                        help="the shared database of the vehicle leases (one owning worker "
                             "per vehicle); default DATABASE_URL; without either, every "
                             "vehicle heard is owned (one worker per hub)")
    worker.add_argument("--scenario", default=None, metavar="DIR",
                        help="serve this scenario's terrain to the vehicles (default: the "
                             "sample district's)")
    worker.add_argument("--tlog-dir", default=None, metavar="DIR",
                        help="folder of the flights' .tlog files (default: "
                             "dropline-data/tlogs in the working folder); consoles replay a "
                             "flight from the path recorded in the shared flight log, so give "
                             "them this folder at the same path (a shared mount)")
    worker.set_defaults(func=worker_command)


def default_worker_id() -> str:
    """``HOST-PID`` with anything but letters, digits, ``-``, ``_`` and ``.`` replaced."""
    host = re.sub(r"[^A-Za-z0-9_.-]", "-", socket.gethostname())[:40] or "worker"
    return f"{host}-{os.getpid()}"


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def worker_command(args: argparse.Namespace) -> int:
    """``dropline worker``."""
    from gcs.bus.leases import LeaseKeeper
    from gcs.bus.runs import RunServer
    from gcs.bus.topics import check_id
    from gcs.bus.url import BrokerUrl
    from gcs.bus.worker import HubWorker

    broker = BrokerUrl.parse(args.broker, option="--broker")
    for value, option, what in ((args.hub, "--hub", "hub"),
                                (args.worker_id, "--worker-id", "worker")):
        if value is not None:
            try:
                check_id(value, what)
            except ValueError as exc:
                raise InputError(str(exc), field=option) from None
    if not args.connect:
        raise InputError("Expected at least one vehicle connection", field="--connect")
    if args.speedup is not None:
        positive(args.speedup, "--speedup")
    scenario = Path(args.scenario) if args.scenario else missions_dir() / "district"
    if not (scenario / "scenario.toml").is_file():
        raise InputError(f"Expected a scenario folder with scenario.toml, got {scenario}",
                         field="--scenario")
    if args.tlog_dir and Path(args.tlog_dir).exists() and not Path(args.tlog_dir).is_dir():
        raise InputError(f"Expected a folder for the .tlog files, got the file {args.tlog_dir}",
                         field="--tlog-dir")

    loaded: list[Any] = []
    loading = threading.Lock()

    def load() -> Any:
        from planner.io.inputs import load_scenario_with_dem

        with loading:
            if not loaded:
                loaded.append(load_scenario_with_dem(scenario))
        return loaded[0]

    def dem() -> Any:
        return load().dem

    def terrain() -> Any:
        found = load()
        return found.dem, found.scenario.drone_types

    database = args.database or os.environ.get("DATABASE_URL")
    worker_id = args.worker_id or default_worker_id()
    table = _lease_table(database)
    ownership = None if table is None else LeaseKeeper(table, hub=args.hub,
                                                       worker_id=worker_id)
    runs: list[Any] = []
    worker = HubWorker(hub=args.hub, worker_id=worker_id, broker=broker, connect=args.connect,
                       time_scale=args.speedup, dem_source=dem, ownership=ownership,
                       on_run=None if ownership is None else lambda r: runs[0].handle(r),
                       on_command=None if ownership is None
                       else lambda sysid, mode: runs[0].announce(sysid, mode))
    flight_log = None
    if ownership is not None:
        flight_log = _flight_log(database, args.tlog_dir)
        runs.append(RunServer(hub=args.hub, worker_id=worker_id, client=worker.client,
                              telemetry=worker.telemetry, keeper=ownership, leases=table,
                              flight_log=flight_log, terrain=terrain))
    try:
        worker.start()
    except BaseException:
        if table is not None:
            table.close()
        if flight_log is not None:
            flight_log.close()
        raise
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        if table is None:
            print("no --database: every vehicle heard is this worker's (no leases)",
                  file=sys.stderr, flush=True)
        print(f"worker {worker.worker_id} of hub {worker.hub}: {len(worker.links)} link(s) "
              f"open, on {broker}", flush=True)
        for url, error in worker.link_errors.items():
            print(f"warning: {url} not opened: {error}", file=sys.stderr, flush=True)
        threading.Event().wait()
    except KeyboardInterrupt:
        print("stopping", file=sys.stderr, flush=True)
    finally:
        for server in runs:
            server.close()
        worker.close()
        if table is not None:
            table.close()
        if flight_log is not None:
            flight_log.close()
    return ExitCode.OK


def _flight_log(url: str | None, tlog_dir: str | None) -> Any:
    """The shared flight log of ``url``, its ``.tlog`` files in ``tlog_dir`` (made absolute:
    the path each flight row records is read by consoles in other working folders).

    Raises
    ------
    InputError
        The database cannot be opened.
    """
    import sqlalchemy as sa

    from gcs.fleet.logs import DEFAULT_TLOG_DIR, FlightLog

    assert url
    folder = Path(tlog_dir) if tlog_dir else DEFAULT_TLOG_DIR
    try:
        return FlightLog(url, tlog_dir=folder.absolute())
    except (sa.exc.ArgumentError, sa.exc.DBAPIError, sa.exc.NoSuchModuleError) as exc:
        raise InputError(f"cannot open the flight log: {exc}".splitlines()[0],
                         field="--database") from None


def _lease_table(url: str | None) -> Any:
    """The lease table of ``url`` (None: no leases).

    Raises
    ------
    InputError
        The URL is not a database URL, or the database cannot be opened.
    """
    if not url:
        return None
    import sqlalchemy as sa

    from gcs.fleet.leases import LeaseTable

    try:
        return LeaseTable(url)
    except (sa.exc.ArgumentError, sa.exc.DBAPIError, sa.exc.NoSuchModuleError) as exc:
        raise InputError(f"cannot open the lease database: {exc}".splitlines()[0],
                         field="--database") from None
