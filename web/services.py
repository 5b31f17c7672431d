"""The services behind the views, made once per app in :func:`init_app`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, current_app

from gcs.binding import SpoofFlag
from gcs.bus.url import BrokerUrl
from gcs.signing import FleetSigner, KeyStore, read_key_file
from planner.errors import InputError
from planner.io.dem import load_dem
from planner.io.inputs import load_scenario_with_dem
from planner.terrain import Dem
from web.accounts import LoginLimiter, Users
from web.db import Database, check_sqlite_file, restrict_file
from web.deliveries import DeliveryService
from web.events import EventBus
from web.fleet_broker import BrokerFleet
from web.fleet_service import FleetService
from web.flights import FlightService
from web.notify.service import NotifyService
from web.planning import PlanService
from web.simulator import SimulatorControl
from web.tiles import TileService

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class Services:
    """Everything the views use."""

    db: Database
    users: Users
    limiter: LoginLimiter
    events: EventBus
    plans: PlanService
    fleet: FleetService
    deliveries: DeliveryService
    flights: FlightService
    tiles: TileService
    simulator: SimulatorControl | None = None
    signer: FleetSigner | None = None
    notify: NotifyService | None = None

    def close(self) -> None:
        """Stop the notifier and the fleet, end event streams and release the database."""
        if self.notify is not None:
            self.notify.close()
        self.events.close()
        if self.signer is not None:
            self.signer.close()
        self.fleet.close()
        self.db.close()


def services() -> Services:
    """The services of the app handling this request."""
    found: Services = current_app.extensions["dropline"]
    return found


def _tile_dem(app: Flask) -> Dem | None:
    paths = app.config.get("TILE_DEM")
    try:
        if paths:
            return load_dem([Path(p) for p in paths])
        sample = Path(app.config["MISSIONS_DIR"]) / app.config["SAMPLE_SCENARIO"]
        if not (sample / "scenario.toml").is_file():
            return None
        return load_scenario_with_dem(sample).dem
    except InputError as exc:
        log.error("no terrain for map tiles: %s", exc)
        return None


def _once(load: Callable[[], Dem | None]) -> Callable[[], Dem | None]:
    """``load`` called at most once (from any thread), its DEM kept."""
    lock = threading.Lock()
    kept: list[Dem | None] = []

    def get() -> Dem | None:
        with lock:
            if not kept:
                kept.append(load())
            return kept[0]

    return get


def _fleet_dem(app: Flask, plans: PlanService, map_dem: Callable[[], Dem | None]) -> Dem | None:
    """The terrain served to vehicles before a plan is uploaded: the default plan's scenario's
    (``DEFAULT_PLAN``), else the map's (``TILE_DEM``, else the sample scenario's)."""
    wanted = app.config.get("DEFAULT_PLAN")
    if wanted:
        try:
            return plans.scenario(str(wanted))[1]
        except Exception as exc:  # a plan removed or broken: the map's terrain then
            log.warning("no terrain of the default plan %s: %s", wanted, exc)
    return map_dem()


def _private_data_dir(data_dir: Path) -> None:
    """Keep the data folder and the console's own files readable by their owner only."""
    data_dir.chmod(0o700)
    for name in ("secret_key", "console.db", "flights.db"):
        restrict_file(data_dir / name)


def _signing_keys(app: Flask, data_dir: Path) -> bytes | KeyStore | None:
    """The keys of ``SIGN_KEY_FILE``; with ``SIGN`` a key per vehicle kept in the data folder
    (``signing.json``, readable by its owner only); else None (no signing)."""
    path = app.config.get("SIGN_KEY_FILE")
    if path:
        return read_key_file(path)
    if app.config.get("SIGN"):
        return KeyStore(data_dir / "signing.json")
    return None


def _audit_flag(database: Database, flag: SpoofFlag) -> None:
    """A vehicle claimed from a source it does not belong to, or waiting to be accepted,
    written to the audit log once per source."""
    held = flag.kind == "unconfirmed"
    database.audit(username="ground station",
                   action="unconfirmed vehicle" if held else "spoofed vehicle",
                   target=f"vehicle {flag.sysid}", result="held" if held else "ignored",
                   detail=flag.message)


def _fleet(app: Flask, database: Database, data_dir: Path, events: EventBus, *,
           dem_source: Callable[[], Dem | None]) -> FleetService:
    """The console's fleet: through the MQTT broker of ``BROKER`` (a URL or a
    :class:`gcs.bus.url.BrokerUrl`; no link of its own), else on the ``CONNECT`` links."""
    broker = app.config.get("BROKER")
    if broker:
        url = broker if isinstance(broker, BrokerUrl) else BrokerUrl.parse(str(broker))
        return BrokerFleet(url, database, data_dir, events,
                           console_id=app.config.get("CONSOLE_ID"),
                           command_timeout_s=float(app.config["BROKER_COMMAND_TIMEOUT_S"]))
    scale = app.config.get("TIME_SCALE")
    return FleetService(app.config["CONNECT"], database, data_dir, events,
                        time_scale=None if scale is None else float(scale),
                        reset_battery=app.config["RESET_BATTERY"],
                        wait_s=float(app.config["FLEET_WAIT_S"]),
                        vehicle_types=app.config.get("VEHICLE_TYPES"), dem_source=dem_source)


def init_app(app: Flask) -> Services:
    """Make the services from ``app.config`` and attach them to ``app``.

    Raises
    ------
    InputError
        The console database or the flight log is not a readable SQLite file (named).
    """
    data_dir = Path(app.config["DATA_DIR"])
    _private_data_dir(data_dir)
    events = EventBus(max_streams=int(app.config.get("SSE_MAX_STREAMS", 32)),
                      per_session=int(app.config.get("SSE_PER_SESSION", 8)),
                      per_user=int(app.config.get("SSE_PER_USER", 16)))
    check_sqlite_file(data_dir / "flights.db")
    database = Database(app.config["DATABASE_URL"])
    plans = PlanService(database, data_dir, Path(app.config["MISSIONS_DIR"]), events)
    map_dem = _once(lambda: _tile_dem(app))
    fleet = _fleet(app, database, data_dir, events,
                   dem_source=lambda: _fleet_dem(app, plans, map_dem))
    fleet.binding.on_flag = lambda flag: _audit_flag(database, flag)
    plans.attach_flight_log(fleet.flight_log)
    keys = None if isinstance(fleet, BrokerFleet) else _signing_keys(app, data_dir)
    signer = None if keys is None else FleetSigner(fleet.hub, keys)
    deliveries = DeliveryService(database, plans, fleet,
                                 contacts=app.config.get("HUB_CONTACTS") or {})
    notify_config = app.config.get("NOTIFY")
    notify = None if notify_config is None else NotifyService(notify_config, database, plans,
                                                              deliveries)
    found = Services(
        db=database, users=Users(database, app.config["PASSWORD_HASH_METHOD"]),
        limiter=LoginLimiter(int(app.config["LOGIN_FAILURES"]),
                             float(app.config["LOGIN_WINDOW_S"]),
                             int(app.config.get("LOGIN_ADDRESS_FAILURES", 20))),
        events=events, plans=plans, fleet=fleet,
        deliveries=deliveries,
        flights=FlightService(fleet.flight_log, plans),
        tiles=TileService(map_dem, data_dir / "tiles"),
        simulator=app.config.get("SIMULATOR"), signer=signer, notify=notify)
    fleet.start()
    if signer is not None:
        signer.start()
    fleet.resume(plans)
    if notify is not None and app.config.get("NOTIFY_AUTOSTART", True):
        notify.start()
    _private_data_dir(data_dir)
    app.extensions["dropline"] = found
    return found
