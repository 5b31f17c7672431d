"""A worker's share of the vehicles: leases taken, renewed and given up in a background thread.

Each pass (every ``ttl / 3`` by default) of :class:`Ownership`:

1. renews the worker's *presence* lease (key ``worker:<group>/<worker_id>`` in the same table),
   by which workers count each other;
2. renews every vehicle lease held. A lease whose renewal failed, or whose time is nearly out
   (within one pass of its expiry, say the database could not be reached), is dropped at once
   and ``on_lost(lease)`` is called before anything else is done for that vehicle: its holder
   stops commanding it while no other worker can have taken it yet (a watch thread drops such
   leases on time even while a pass is stuck on the database);
3. takes free vehicles (never leased, released, or expired), in an order of its own so that
   workers starting together try different vehicles first, within its fair share: no more than
   ``ceil(n / live_workers)`` of the ``n`` vehicles it could serve, ``live_workers`` being the
   workers with an unexpired presence lease in the group (itself included). A vehicle seen free
   on two passes in a row is taken beyond the share: its owner died (the dead worker's presence
   expires with its leases, so the survivors' shares grow at the same pass anyway) or no worker
   within its share can reach it. ``on_gained(lease)`` is called for each vehicle taken.

Vehicles already held are never shed to even out the shares when a worker joins: handing a
vehicle over mid-flight is a takeover, kept for the failure of its owner. A worker starting
waits ``settle_s`` (one pass) after announcing itself before it takes any vehicle, so that
workers started together see each other and split the fleet (or until ``expect_workers`` are
live, when told how many start together). :meth:`Ownership.give_up` hands a
vehicle back (one the worker cannot reach); it is not taken again by this worker for
``retry_after_s``. :meth:`Ownership.stop` calls ``on_lost`` for every vehicle held, then releases
the leases and the presence.

The vehicles a worker could serve may change while it runs (:meth:`Ownership.set_vehicles`: a
bus worker serves the vehicles it hears), and more parties may follow the gains and losses
(:meth:`Ownership.listen`: a run flown on the vehicles whose telemetry the worker already owns,
so that one lease decides both).
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
from collections.abc import Callable, Iterable

import sqlalchemy as sa

from gcs.fleet.leases import Lease, LeaseTable

log = logging.getLogger(__name__)

#: Key prefix of the workers' presence leases.
PRESENCE_PREFIX = "worker:"


class Ownership:
    """Takes and keeps a fair share of ``vehicles`` for ``worker_id``.

    Parameters
    ----------
    table
        The shared lease table (its clock and time to live apply).
    worker_id
        This worker, unique among the live workers (a host name and process id, say).
    vehicles
        Keys of the vehicles this worker could serve (``"<hub>/<sysid>"``).
    on_gained, on_lost
        Called from the ownership thread with a vehicle's lease when it is taken and when it
        is lost or given back; they must return quickly (start or stop the work elsewhere).
    group
        Workers sharing ``group`` share the vehicles (the fair share counts them).
    period_s
        Time between passes (default: a third of the lease's time to live).
    settle_s
        Wait after announcing this worker before taking vehicles (default: one period).
    expect_workers
        Workers expected to start together: the wait ends as soon as that many are live
        (``settle_s`` then bounds the wait).
    retry_after_s
        A vehicle given up is not taken again by this worker before this (default: 5 periods).
    """

    def __init__(self, table: LeaseTable, worker_id: str, vehicles: Iterable[str], *,
                 on_gained: Callable[[Lease], None], on_lost: Callable[[Lease], None],
                 group: str = "", period_s: float | None = None, settle_s: float | None = None,
                 expect_workers: int = 1, retry_after_s: float | None = None) -> None:
        self.table = table
        self.worker_id = worker_id
        self.vehicles = tuple(sorted(set(vehicles)))
        self.on_gained = on_gained
        self.on_lost = on_lost
        self.group = group
        self.period_s = table.ttl_s / 3.0 if period_s is None else period_s
        self.settle_s = self.period_s if settle_s is None else settle_s
        self.expect_workers = expect_workers
        self._settled = False
        self.retry_after_s = 5 * self.period_s if retry_after_s is None else retry_after_s
        self.presence_key = f"{PRESENCE_PREFIX}{group}/{worker_id}"
        self._lock = threading.RLock()
        self._held: dict[str, Lease] = {}
        self._presence: Lease | None = None
        self._since_s: float | None = None
        self._free_before: set[str] = set()
        self._given_up: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._watch: threading.Thread | None = None
        # each worker its own order of trying free vehicles
        self._order = self._ordered(self.vehicles)
        self._listeners: list[tuple[Callable[[Lease], None], Callable[[Lease], None]]] = []

    def _ordered(self, vehicles: Iterable[str]) -> list[str]:
        return sorted(vehicles, key=lambda v: hashlib.sha256(
            f"{self.worker_id}|{v}".encode()).hexdigest())

    def set_vehicles(self, vehicles: Iterable[str]) -> None:
        """The vehicles this worker could serve from the next pass on (those held but no
        longer among them are kept until lost)."""
        found = tuple(sorted(set(vehicles)))
        with self._lock:
            if found == self.vehicles:
                return
            self.vehicles = found
            self._order = self._ordered(found)

    def listen(self, on_gained: Callable[[Lease], None],
               on_lost: Callable[[Lease], None]) -> Callable[[], None]:
        """Call ``on_gained`` and ``on_lost`` too (after the constructor's), from the
        ownership thread; returns the function that stops calling them."""
        pair = (on_gained, on_lost)
        with self._lock:
            self._listeners.append(pair)

        def forget() -> None:
            with self._lock:
                if pair in self._listeners:
                    self._listeners.remove(pair)
        return forget

    def _gained_callbacks(self) -> list[Callable[[Lease], None]]:
        with self._lock:
            return [self.on_gained, *(g for g, _ in self._listeners)]

    def _lost_callbacks(self) -> list[Callable[[Lease], None]]:
        with self._lock:
            return [self.on_lost, *(lost for _, lost in self._listeners)]

    # -- state --------------------------------------------------------------------------------
    def held(self) -> dict[str, Lease]:
        """The vehicles held now: key -> lease."""
        with self._lock:
            return dict(self._held)

    def holds(self, vehicle: str, token: int | None = None) -> bool:
        """Whether ``vehicle`` is held (with ``token``, when given) and not about to expire."""
        with self._lock:
            lease = self._held.get(vehicle)
            if lease is None or (token is not None and lease.token != token):
                return False
            return self.table.clock() < lease.expires_at_s - self.period_s

    def live_workers(self) -> int:
        """Workers of the group with an unexpired presence lease (at least this one)."""
        return max(1, len(self.table.owners(f"{PRESENCE_PREFIX}{self.group}/")))

    # -- the passes ---------------------------------------------------------------------------
    def tick(self) -> None:
        """One pass: presence, renewals, then free vehicles within the fair share."""
        try:
            self._tick()
        except sa.exc.SQLAlchemyError as exc:  # leases nearly out are dropped on a later pass
            log.warning("worker %s: lease pass failed: %s", self.worker_id, exc)
            self._drop_lapsed()

    def _tick(self) -> None:
        table = self.table
        now = table.clock()
        self._presence = table.acquire(self.presence_key, self.worker_id)
        if self._since_s is None:
            self._since_s = now
        self._drop_lapsed()
        held = list(self.held().values())
        for lease, renewed in zip(held, table.renew_all(held).values(), strict=True):
            if renewed is None:
                self._lose(lease, "its renewal failed")
            else:
                with self._lock:
                    self._held[lease.vehicle] = renewed
        if not self._settled:
            waited = now - self._since_s >= self.settle_s
            self._settled = waited or (self.expect_workers > 1 and
                                       self.live_workers() >= self.expect_workers)
            if not self._settled:
                return
        owners = table.owners()
        with self._lock:
            vehicles, order = self.vehicles, list(self._order)
        free = {v for v in vehicles if v not in owners}
        share = math.ceil(len(vehicles) / self.live_workers())
        for vehicle in order:
            if vehicle not in free or self._given_up.get(vehicle, -math.inf) > now:
                continue
            if len(self.held()) >= share and vehicle not in self._free_before:
                continue
            taken = table.acquire(vehicle, self.worker_id)
            if taken is not None:
                self._gain(taken)
        self._free_before = free

    def _drop_lapsed(self) -> None:
        """Drop the leases within one pass of their expiry (not renewed in time)."""
        now = self.table.clock()
        for lease in list(self.held().values()):
            if now >= lease.expires_at_s - self.period_s:
                self._lose(lease, "it was not renewed in time")

    def _gain(self, lease: Lease) -> None:
        with self._lock:
            self._held[lease.vehicle] = lease
        log.info("worker %s: took %s (token %d)", self.worker_id, lease.vehicle, lease.token)
        try:
            for gained in self._gained_callbacks():
                gained(lease)
        except Exception:
            log.exception("worker %s: taking %s failed; giving it back", self.worker_id,
                          lease.vehicle)
            self.give_up(lease.vehicle)

    def _lose(self, lease: Lease, why: str) -> None:
        with self._lock:
            current = self._held.get(lease.vehicle)
            if current is None or current.token != lease.token:
                return
            del self._held[lease.vehicle]
        log.warning("worker %s: lost %s (token %d): %s", self.worker_id, lease.vehicle,
                    lease.token, why)
        self._call_lost(lease)

    def _call_lost(self, lease: Lease) -> None:
        for lost in self._lost_callbacks():
            try:
                lost(lease)
            except Exception:
                log.exception("worker %s: stopping %s failed", self.worker_id, lease.vehicle)

    def give_up(self, vehicle: str) -> None:
        """Hand ``vehicle`` back (``on_lost`` first, then the lease is released); it is not
        taken again by this worker for ``retry_after_s``."""
        with self._lock:
            lease = self._held.pop(vehicle, None)
            self._given_up[vehicle] = self.table.clock() + self.retry_after_s
        if lease is None:
            return
        self._call_lost(lease)
        self.table.release(lease)

    # -- the thread ---------------------------------------------------------------------------
    def start(self) -> Ownership:
        """Run a pass every ``period_s`` in a background thread, and a watch dropping the
        leases about to expire in another (a pass stuck on an unreachable database must not
        keep a vehicle commanded past its lease)."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"ownership {self.worker_id}")
        self._watch = threading.Thread(target=self._run_watch, daemon=True,
                                       name=f"ownership watch {self.worker_id}")
        self._thread.start()
        self._watch.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.tick()
            self._stop.wait(self.period_s)

    def _run_watch(self) -> None:
        while not self._stop.wait(self.period_s / 10.0):
            self._drop_lapsed()

    def _join(self) -> None:
        for thread in (self._thread, self._watch):
            if thread is not None:
                thread.join()
        self._thread = self._watch = None

    def abandon(self) -> None:
        """Stop the passes and nothing else: no callback, no release (as if the worker died;
        its leases expire)."""
        self._stop.set()
        self._join()

    def stop(self) -> None:
        """Stop the passes; ``on_lost`` for every vehicle held, then release them all."""
        self._stop.set()
        self._join()
        with self._lock:
            held = list(self._held.values())
            self._held.clear()
        for lease in held:
            self._call_lost(lease)
        try:
            for lease in held:
                self.table.release(lease)
            if self._presence is not None:
                self.table.release(self._presence)
        except sa.exc.SQLAlchemyError as exc:  # they expire on their own
            log.warning("worker %s: leases not released: %s", self.worker_id, exc)
        self._presence = None
