"""Flight logs: a ``.tlog`` per flight and the flight records in a SQL database.

Tables (SQLAlchemy Core):

``runs``
    one execution of a plan (``plan_key`` identifies the plan's sorties and missions;
    ``ended_at`` is empty while the run is unfinished: a restarted ground station resumes it);
``vehicles``
    which plan vehicle flew as which MAVLink system id, on which link;
``flights``
    one sortie flown by one vehicle: state ``preparing`` -> ``flying`` -> ``completed`` /
    ``failed`` (or ``aborted`` before take-off), start and end times, its ``.tlog`` file;
``alerts``
    every alert of the failsafe monitor and the fleet manager;
``delivery_events``
    every change of a drop's state, with where the vehicle was.

The database is a SQLite file (a path, the default: ``dropline fly --db``) or any database of
:mod:`gcs.sqldb` by URL, PostgreSQL for many processes sharing one flight log
(``postgresql://user:password@host/name``). Its schema is migrated by the Alembic revisions of
:mod:`gcs.fleet.migrations` (version table :data:`VERSION_TABLE`) when a :class:`FlightLog`
opens it: a flight log made before migrations is taken over with its rows.

Every write is its own transaction, committed before the call returns, with SQLite in WAL mode
and ``synchronous=FULL``: a process killed mid-flight loses nothing written so far, and a new
:class:`FlightLog` on the same database finds the flights still ``flying`` to resume monitoring
them. A plan vehicle's row of a run is written with ``INSERT ... ON CONFLICT``, so processes
recording the same vehicle at once leave one row. Times are Unix seconds. A SQLite database and
the ``.tlog`` files are created readable by their owner only (0600), the folders made for them
0700.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from gcs import sqldb
from gcs.fleet import migrations
from gcs.fleet.failsafe import Alert
from gcs.fleet.tracking import DropEvent
from gcs.tlog.writer import private_dir, private_file

FLIGHT_STATES = ("preparing", "flying", "completed", "failed", "aborted")
#: Flights in these states are over (their sortie is not flown again on resume).
FLIGHT_DONE = frozenset({"completed", "failed"})
#: The Alembic version table of the flight log's migrations.
VERSION_TABLE = "flight_log_version"
#: The folder of the flight log's Alembic scripts.
MIGRATIONS = Path(migrations.__file__).parent
#: PostgreSQL advisory lock held while a flight log is migrated.
MIGRATION_LOCK = 0x64726F70_6C6F67  # "droplog"
#: SQLite settings of every connection: a committed write survives a crash or power loss.
SQLITE_PRAGMAS = ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON",
                  "busy_timeout=10000")
#: Where ``.tlog`` files go for a flight log given by a PostgreSQL URL without a folder:
#: ``tlogs`` in the console's default data folder.
DEFAULT_TLOG_DIR = Path("dropline-data") / "tlogs"

metadata = sa.MetaData()
runs = sa.Table(
    "runs", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("plan_key", sa.String(64), nullable=False, index=True),
    sa.Column("plan_name", sa.String, nullable=False),
    sa.Column("plan_path", sa.String),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("ended_at", sa.Float),
    sa.Column("outcome", sa.String))
vehicles = sa.Table(
    "vehicles", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("name", sa.String, nullable=False),
    sa.Column("sysid", sa.Integer, nullable=False),
    sa.Column("link_url", sa.String),
    sa.UniqueConstraint("run_id", "name"))
flights = sa.Table(
    "flights", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.ForeignKey("runs.id"), nullable=False, index=True),
    sa.Column("sortie_id", sa.String, nullable=False),
    sa.Column("vehicle", sa.String, nullable=False),
    sa.Column("sysid", sa.Integer, nullable=False),
    sa.Column("state", sa.String, nullable=False),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("takeoff_at", sa.Float),
    sa.Column("ended_at", sa.Float),
    sa.Column("tlog_path", sa.String),
    sa.Column("reason", sa.String))
alerts = sa.Table(
    "alerts", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.ForeignKey("runs.id"), nullable=False, index=True),
    sa.Column("flight_id", sa.ForeignKey("flights.id")),
    sa.Column("sysid", sa.Integer, nullable=False),
    sa.Column("sortie_id", sa.String),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("kind", sa.String, nullable=False),
    sa.Column("severity", sa.String, nullable=False),
    sa.Column("message", sa.String, nullable=False),
    sa.Column("action", sa.String))
delivery_events = sa.Table(
    "delivery_events", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.ForeignKey("runs.id"), nullable=False, index=True),
    sa.Column("flight_id", sa.ForeignKey("flights.id")),
    sa.Column("sortie_id", sa.String, nullable=False),
    sa.Column("drop_id", sa.String, nullable=False),
    sa.Column("state", sa.String, nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("lat_deg", sa.Float),
    sa.Column("lon_deg", sa.Float),
    sa.Column("eta_at", sa.Float),
    sa.Column("detail", sa.String))


@dataclass(frozen=True, slots=True, kw_only=True)
class RunRecord:
    """One execution of a plan; ``resumed`` when an unfinished run of the same plan was found."""

    id: int
    plan_key: str
    plan_name: str
    started_at: float
    resumed: bool
    plan_path: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FlightRecord:
    """One row of ``flights``."""

    id: int
    run_id: int
    sortie_id: str
    vehicle: str
    sysid: int
    state: str
    started_at: float
    takeoff_at: float | None
    ended_at: float | None
    tlog_path: str | None
    reason: str | None


def is_url(database: str | Path) -> bool:
    """Whether ``database`` is a URL (``scheme://...``) rather than a file path.

    Examples
    --------
    >>> is_url("postgresql://hub@db/dropline"), is_url("fly.db")
    (True, False)
    """
    return isinstance(database, str) and "://" in database


def upgrade(engine: sa.Engine) -> bool:
    """Migrate the flight log of ``engine`` to the newest revision; whether anything ran."""
    return sqldb.upgrade(engine, MIGRATIONS, version_table=VERSION_TABLE,
                         lock_key=MIGRATION_LOCK)


class FlightLog:
    """The flight records of one database and the ``.tlog`` files of its flights.

    Parameters
    ----------
    database
        A SQLite file (created with its tables, mode 0600, when missing) or a database URL
        (``sqlite:///...``, ``postgresql://...``); its schema is migrated to the newest revision.
    tlog_dir
        Folder for ``.tlog`` files (default: ``tlogs`` beside a SQLite file, else
        :data:`DEFAULT_TLOG_DIR`).
    clock
        Wall clock (Unix seconds).

    Raises
    ------
    InputError
        A bad URL, or a database that cannot be reached or migrated (one line, no password).
    """

    def __init__(self, database: str | Path, *, tlog_dir: str | Path | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        url = sqldb.database_url(str(database) if is_url(database)
                                 else f"sqlite:///{database}")
        path = sqldb.sqlite_file(url)
        self.path = path
        if path is not None:
            private_dir(path.parent)
            os.close(private_file(path))  # 0600; SQLite gives -wal and -shm the same mode
        default_tlogs = DEFAULT_TLOG_DIR if path is None else path.parent / "tlogs"
        self.tlog_dir = Path(tlog_dir) if tlog_dir is not None else default_tlogs
        self.clock = clock
        self.engine = sqldb.create_engine(url, sqlite_pragmas=SQLITE_PRAGMAS)
        self._lock = threading.Lock()
        try:
            upgrade(self.engine)
        except sa.exc.SQLAlchemyError as exc:
            self.engine.dispose()
            raise sqldb.unreachable(exc, url) from exc
        except BaseException:
            self.engine.dispose()
            raise

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    def _write(self, stmt: Any) -> Any:
        with self._lock, self.engine.begin() as conn:
            return conn.execute(stmt)

    def _read(self, stmt: Any) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(stmt))

    # -- runs and vehicles --------------------------------------------------------------------
    def start_run(self, *, plan_key: str, plan_name: str, plan_path: str | None = None,
                  resume: bool = True) -> RunRecord:
        """The unfinished run of this plan (with ``resume``), else a new one."""
        if resume:
            rows = self._read(sa.select(runs).where(runs.c.plan_key == plan_key,
                                                    runs.c.ended_at.is_(None))
                              .order_by(runs.c.id.desc()).limit(1))
            if rows:
                r = rows[0]
                return RunRecord(id=r.id, plan_key=r.plan_key, plan_name=r.plan_name,
                                 started_at=r.started_at, resumed=True, plan_path=r.plan_path)
        now = self.clock()
        result = self._write(sa.insert(runs).values(plan_key=plan_key, plan_name=plan_name,
                                                    plan_path=plan_path, started_at=now))
        return RunRecord(id=int(result.inserted_primary_key[0]), plan_key=plan_key,
                         plan_name=plan_name, started_at=now, resumed=False,
                         plan_path=plan_path)

    def unfinished_run(self, plan_key: str | None = None) -> RunRecord | None:
        """The latest run not ended (a ground station stopped while flying it), if any (of
        plan key ``plan_key`` only, when given)."""
        query = sa.select(runs).where(runs.c.ended_at.is_(None))
        if plan_key is not None:
            query = query.where(runs.c.plan_key == plan_key)
        rows = self._read(query.order_by(runs.c.id.desc()).limit(1))
        if not rows:
            return None
        r = rows[0]
        return RunRecord(id=r.id, plan_key=r.plan_key, plan_name=r.plan_name,
                         started_at=r.started_at, resumed=True, plan_path=r.plan_path)

    def end_run(self, run_id: int, outcome: str) -> None:
        """The run is over (``outcome`` e.g. ``"all delivered"``)."""
        self._write(sa.update(runs).where(runs.c.id == run_id)
                    .values(ended_at=self.clock(), outcome=outcome))

    def record_vehicle(self, run_id: int, *, name: str, sysid: int, link_url: str) -> None:
        """Plan vehicle ``name`` flies as ``sysid`` on ``link_url`` in this run."""
        values = {"run_id": run_id, "name": name, "sysid": sysid, "link_url": link_url}
        keys = [vehicles.c.run_id, vehicles.c.name]
        if self.engine.dialect.name == "postgresql":
            pg = postgresql.insert(vehicles).values(**values)
            self._write(pg.on_conflict_do_update(index_elements=keys, set_={
                "sysid": pg.excluded.sysid, "link_url": pg.excluded.link_url}))
        else:
            lite = sqlite.insert(vehicles).values(**values)
            self._write(lite.on_conflict_do_update(index_elements=keys, set_={
                "sysid": lite.excluded.sysid, "link_url": lite.excluded.link_url}))

    def vehicles(self, run_id: int) -> dict[str, int]:
        """Plan vehicle name -> system id of a run."""
        rows = self._read(sa.select(vehicles.c.name, vehicles.c.sysid)
                          .where(vehicles.c.run_id == run_id))
        return {r.name: int(r.sysid) for r in rows}

    # -- flights ------------------------------------------------------------------------------
    def tlog_path(self, run_id: int, sortie_id: str, sysid: int) -> Path:
        """Where the ``.tlog`` of a flight goes: ``run<id>-<sortie>-sys<id>.tlog``."""
        return self.tlog_dir / f"run{run_id}-{sortie_id}-sys{sysid}.tlog"

    def open_flight(self, run_id: int, *, sortie_id: str, vehicle: str, sysid: int) -> int:
        """A new flight in state ``preparing``; returns its id.

        Its ``.tlog`` is :meth:`tlog_path`, with ``-2``, ``-3``... before the suffix when a file
        of that name exists (another database logging to the same folder): a flight's log is
        never written into another's (:meth:`flight_tlog_path`).
        """
        path = first = self.tlog_path(run_id, sortie_id, sysid)
        n = 1
        while path.exists():
            n += 1
            path = first.with_name(f"{first.stem}-{n}{first.suffix}")
        result = self._write(sa.insert(flights).values(
            run_id=run_id, sortie_id=sortie_id, vehicle=vehicle, sysid=sysid, state="preparing",
            started_at=self.clock(), tlog_path=str(path)))
        return int(result.inserted_primary_key[0])

    def flight_tlog_path(self, flight_id: int) -> Path | None:
        """The ``.tlog`` of flight ``flight_id`` (None for an unknown flight)."""
        rows = self._read(sa.select(flights.c.tlog_path).where(flights.c.id == flight_id))
        return Path(rows[0].tlog_path) if rows and rows[0].tlog_path else None

    def set_flight_state(self, flight_id: int, state: str, *, reason: str | None = None) -> None:
        """Move a flight to ``state``; ``flying`` stamps the take-off, final states the end."""
        if state not in FLIGHT_STATES:
            raise ValueError(f"Expected a flight state in {FLIGHT_STATES}, got {state!r}")
        values: dict[str, Any] = {"state": state}
        if reason is not None:
            values["reason"] = reason
        if state == "flying":
            values["takeoff_at"] = self.clock()
        elif state in FLIGHT_DONE or state == "aborted":
            values["ended_at"] = self.clock()
        self._write(sa.update(flights).where(flights.c.id == flight_id).values(**values))

    def flights(self, run_id: int | None = None) -> list[FlightRecord]:
        """Flights (of one run, or all), oldest first."""
        stmt = sa.select(flights).order_by(flights.c.id)
        if run_id is not None:
            stmt = stmt.where(flights.c.run_id == run_id)
        return [FlightRecord(id=r.id, run_id=r.run_id, sortie_id=r.sortie_id,
                             vehicle=r.vehicle, sysid=r.sysid, state=r.state,
                             started_at=r.started_at, takeoff_at=r.takeoff_at,
                             ended_at=r.ended_at, tlog_path=r.tlog_path, reason=r.reason)
                for r in self._read(stmt)]

    # -- alerts and deliveries ----------------------------------------------------------------
    def record_alert(self, run_id: int, alert: Alert, *, flight_id: int | None = None) -> None:
        """Store one alert."""
        self._write(sa.insert(alerts).values(
            run_id=run_id, flight_id=flight_id, sysid=alert.sysid, sortie_id=alert.sortie_id,
            at=self.clock(), kind=str(alert.kind), severity=str(alert.severity),
            message=alert.message, action=alert.action))

    def alerts(self, run_id: int) -> list[dict[str, Any]]:
        """Every alert of a run, oldest first, as column -> value."""
        rows = self._read(sa.select(alerts).where(alerts.c.run_id == run_id)
                          .order_by(alerts.c.id))
        return [dict(r._mapping) for r in rows]

    def record_drop_event(self, run_id: int, event: DropEvent, *, flight_id: int | None = None,
                          eta_at: float | None = None) -> None:
        """Store one change of a drop's state (``eta_at`` in Unix seconds)."""
        self._write(sa.insert(delivery_events).values(
            run_id=run_id, flight_id=flight_id, sortie_id=event.sortie_id,
            drop_id=event.drop_id, state=str(event.state), at=self.clock(),
            lat_deg=event.lat_deg, lon_deg=event.lon_deg, eta_at=eta_at, detail=event.detail))

    def delivery_events(self, run_id: int) -> list[dict[str, Any]]:
        """Every delivery event of a run, oldest first, as column -> value."""
        rows = self._read(sa.select(delivery_events).where(delivery_events.c.run_id == run_id)
                          .order_by(delivery_events.c.id))
        return [dict(r._mapping) for r in rows]

    def delivered_drops(self, plan_key: str) -> dict[str, int]:
        """Drops of a plan delivered in any of its runs: drop id -> the first such run."""
        last = (sa.select(sa.func.max(delivery_events.c.id))
                .join(runs, runs.c.id == delivery_events.c.run_id)
                .where(runs.c.plan_key == plan_key)
                .group_by(delivery_events.c.run_id, delivery_events.c.drop_id))
        rows = self._read(sa.select(delivery_events.c.drop_id, delivery_events.c.run_id)
                          .where(delivery_events.c.id.in_(last),
                                 delivery_events.c.state == "delivered")
                          .order_by(delivery_events.c.run_id))
        out: dict[str, int] = {}
        for r in rows:
            out.setdefault(str(r.drop_id), int(r.run_id))
        return out

    def flying_sorties(self, plan_key: str) -> dict[str, int]:
        """Sorties of a plan in the air in a run not ended (a flight preparing or flying):
        sortie id -> run id."""
        rows = self._read(sa.select(flights.c.sortie_id, flights.c.run_id)
                          .join(runs, runs.c.id == flights.c.run_id)
                          .where(runs.c.plan_key == plan_key, runs.c.ended_at.is_(None),
                                 flights.c.state.in_(("preparing", "flying"))))
        return {str(r.sortie_id): int(r.run_id) for r in rows}

    def drop_states(self, run_id: int) -> dict[str, tuple[str, str | None]]:
        """The last recorded state (and detail) of every drop of a run."""
        out: dict[str, tuple[str, str | None]] = {}
        for row in self.delivery_events(run_id):
            out[row["drop_id"]] = (row["state"], row["detail"])
        return out
