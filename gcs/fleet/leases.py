"""Vehicle ownership leases: one owning worker per vehicle at a time, in the shared database.

Table ``vehicle_leases`` (SQLAlchemy Core, its own metadata, created when missing):

``vehicle``
    the vehicle's key (``"<hub>/<sysid>"``), the primary key;
``worker_id``
    the worker holding (or last holding) it;
``token``
    the fencing token: rises by one on every new tenure (whenever a worker takes the vehicle
    that it did not hold unexpired a moment before, so always when the owner changes);
``expires_at``
    Unix seconds, by the clock of the worker that wrote it.

Every :meth:`LeaseTable.acquire` and :meth:`LeaseTable.renew` is one atomic compare-and-set: a
conditional ``UPDATE`` whose ``WHERE`` checks owner, token and expiry (SQLite serialises
writers; PostgreSQL re-checks the ``WHERE`` of an ``UPDATE`` on the row version it locks), or an
``INSERT`` of a vehicle never leased, where the primary key makes one of two racing inserts fail.
Workers' clocks must agree to well under the lease's time to live.

Examples
--------
>>> t = [100.0]
>>> table = LeaseTable("sqlite://", ttl_s=3.0, clock=lambda: t[0])
>>> a = table.acquire("hub1/1", "worker-a")
>>> (a.worker_id, a.token, a.expires_at_s)
('worker-a', 1, 103.0)
>>> table.acquire("hub1/1", "worker-b") is None
True
>>> t[0] = 104.0
>>> table.acquire("hub1/1", "worker-b").token
2
>>> table.renew(a) is None
True
>>> table.close()
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from gcs import sqldb

metadata = sa.MetaData()
vehicle_leases = sa.Table(
    "vehicle_leases", metadata,
    sa.Column("vehicle", sa.String(200), primary_key=True),
    sa.Column("worker_id", sa.String(200), nullable=False),
    sa.Column("token", sa.BigInteger, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False))


@dataclass(frozen=True, slots=True, kw_only=True)
class Lease:
    """A worker's hold on one vehicle until ``expires_at_s`` (Unix seconds).

    ``token`` is the fencing token: it rises by one every time the vehicle changes owner, so a
    write stamped with a lower token comes from a worker that has lost the vehicle.
    """

    vehicle: str
    worker_id: str
    token: int
    expires_at_s: float

    def __post_init__(self) -> None:
        if not self.vehicle:
            raise ValueError("Expected a non-empty vehicle key, got ''")
        if not self.worker_id:
            raise ValueError("Expected a non-empty worker_id, got ''")
        if self.token < 1:
            raise ValueError(f"Expected token >= 1, got {self.token}")


#: Pragmas of SQLite connections: several processes share the file.
SQLITE_PRAGMAS = ("journal_mode=WAL", "busy_timeout=10000")


def lease_engine(url_or_path: str | Path) -> sa.Engine:
    """An engine for a database URL (``sqlite:///...``, ``postgresql://...``, see
    :mod:`gcs.sqldb`) or a SQLite file path; SQLite files get WAL mode and a busy timeout, so
    that several processes can share them.

    Raises
    ------
    InputError
        Not a SQLite or PostgreSQL URL.
    """
    url = str(url_or_path)
    if "://" not in url:
        url = f"sqlite:///{Path(url).resolve()}"
    return sqldb.create_engine(sqldb.database_url(url), sqlite_pragmas=SQLITE_PRAGMAS)


def create_lease_table(engine: sa.Engine) -> None:
    """Create ``vehicle_leases`` when missing; safe when several processes do it at once."""
    try:
        metadata.create_all(engine, checkfirst=True)
    except sa.exc.DBAPIError:
        # Another process created it between our check and our CREATE.
        if not sa.inspect(engine).has_table(vehicle_leases.name):
            raise


class LeaseTable:
    """Vehicle leases in a database shared by several worker processes.

    Parameters
    ----------
    url_or_engine
        A database URL, a SQLite file path, or an engine (then left open by :meth:`close`).
    ttl_s
        How long a lease lasts after each acquire or renew.
    clock
        Wall clock (Unix seconds); every expiry is judged by it.
    """

    def __init__(self, url_or_engine: str | Path | sa.Engine, *, ttl_s: float = 3.0,
                 clock: Callable[[], float] = time.time) -> None:
        if ttl_s <= 0:
            raise ValueError(f"Expected ttl_s > 0, got {ttl_s}")
        self._own_engine = not isinstance(url_or_engine, sa.Engine)
        self.engine = (lease_engine(url_or_engine) if not isinstance(url_or_engine, sa.Engine)
                       else url_or_engine)
        self.ttl_s = ttl_s
        self.clock = clock
        create_lease_table(self.engine)

    def close(self) -> None:
        """Release the database connections (of an engine this table made)."""
        if self._own_engine:
            self.engine.dispose()

    def acquire(self, vehicle: str, worker_id: str) -> Lease | None:
        """Take ``vehicle`` for ``worker_id`` if it is free, expired or already this worker's.

        Returns
        -------
        Lease | None
            The lease (its token unchanged when this worker held it unexpired, which renews
            it; one higher otherwise), or None when another worker holds it unexpired.
        """
        now = self.clock()
        expires = now + self.ttl_s
        c = vehicle_leases.c
        held = sa.and_(c.worker_id == worker_id, c.expires_at > now)
        with self.engine.begin() as conn:
            result = conn.execute(
                sa.update(vehicle_leases)
                .where(c.vehicle == vehicle, sa.or_(c.worker_id == worker_id, c.expires_at <= now))
                .values(worker_id=worker_id, expires_at=expires,
                        token=sa.case((held, c.token), else_=c.token + 1)))
            if result.rowcount == 1:
                token = conn.execute(sa.select(c.token).where(c.vehicle == vehicle)).scalar_one()
                return Lease(vehicle=vehicle, worker_id=worker_id, token=int(token),
                             expires_at_s=expires)
        try:
            with self.engine.begin() as conn:
                conn.execute(sa.insert(vehicle_leases).values(
                    vehicle=vehicle, worker_id=worker_id, token=1, expires_at=expires))
        except sa.exc.IntegrityError:
            return None  # held by another worker, or another worker's insert came first
        return Lease(vehicle=vehicle, worker_id=worker_id, token=1, expires_at_s=expires)

    def renew(self, lease: Lease) -> Lease | None:
        """Extend ``lease`` if it is still unexpired and held with its token.

        Returns
        -------
        Lease | None
            The extended lease, or None when it is lost (expired, or taken by another worker):
            its holder must stop commanding the vehicle.
        """
        now = self.clock()
        expires = now + self.ttl_s
        c = vehicle_leases.c
        with self.engine.begin() as conn:
            result = conn.execute(
                sa.update(vehicle_leases)
                .where(c.vehicle == lease.vehicle, c.worker_id == lease.worker_id,
                       c.token == lease.token, c.expires_at > now)
                .values(expires_at=expires))
        if result.rowcount != 1:
            return None
        return Lease(vehicle=lease.vehicle, worker_id=lease.worker_id, token=lease.token,
                     expires_at_s=expires)

    def renew_all(self, leases: Sequence[Lease]) -> dict[str, Lease | None]:
        """Extend many leases of one worker in one statement (a worker renews every lease it
        holds on each pass: one round trip, not one per vehicle).

        Returns
        -------
        dict[str, Lease | None]
            Vehicle -> the extended lease, or None where it was lost (as :meth:`renew`).
        """
        if not leases:
            return {}
        workers = {lease.worker_id for lease in leases}
        if len(workers) != 1:
            raise ValueError(f"Expected the leases of one worker, got {sorted(workers)}")
        now = self.clock()
        expires = now + self.ttl_s
        c = vehicle_leases.c
        with self.engine.begin() as conn:
            renewed = {row.vehicle for row in conn.execute(
                sa.update(vehicle_leases)
                .where(c.worker_id == leases[0].worker_id, c.expires_at > now,
                       sa.tuple_(c.vehicle, c.token).in_(
                           [(lease.vehicle, lease.token) for lease in leases]))
                .values(expires_at=expires).returning(c.vehicle))}
        return {lease.vehicle: dataclasses.replace(lease, expires_at_s=expires)
                if lease.vehicle in renewed else None for lease in leases}

    def release(self, lease: Lease) -> None:
        """Give ``lease`` up now (a clean shutdown): the vehicle is free for any worker.

        Nothing happens when the lease was already lost.
        """
        c = vehicle_leases.c
        with self.engine.begin() as conn:
            conn.execute(sa.update(vehicle_leases)
                         .where(c.vehicle == lease.vehicle, c.worker_id == lease.worker_id,
                                c.token == lease.token)
                         .values(expires_at=self.clock() - self.ttl_s))

    def owners(self, prefix: str = "") -> dict[str, Lease]:
        """Unexpired leases of the vehicles whose key starts with ``prefix``: key -> lease."""
        c = vehicle_leases.c
        stmt = sa.select(vehicle_leases).where(c.expires_at > self.clock())
        if prefix:
            stmt = stmt.where(c.vehicle.startswith(prefix, autoescape=True))
        with self.engine.connect() as conn:
            rows = list(conn.execute(stmt.order_by(c.vehicle)))
        return {r.vehicle: Lease(vehicle=r.vehicle, worker_id=r.worker_id, token=int(r.token),
                                 expires_at_s=float(r.expires_at)) for r in rows}
