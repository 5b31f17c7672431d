"""A worker's hold on its vehicles through the shared lease table
(:class:`gcs.fleet.leases.LeaseTable`, keys ``"<hub>/<sysid>"``): a lease is taken for each
vehicle heard before it is published or commanded, renewed while held, and given up at a clean
stop. A lease lost (another worker took it, or it expired because renewals failed) stops the
worker publishing and commanding that vehicle at once; it tries to take it again later.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from gcs.fleet.leases import Lease, LeaseTable

log = logging.getLogger(__name__)


def vehicle_key(hub: str, sysid: int) -> str:
    """The lease key of a hub's vehicle.

    Examples
    --------
    >>> vehicle_key("north", 3)
    'north/3'
    """
    return f"{hub}/{sysid}"


class LeaseKeeper:
    """The leases of one worker (an :class:`gcs.bus.worker.Ownership`).

    Parameters
    ----------
    table
        The shared lease table (its clock judges expiry).
    hub, worker_id
        Whose leases these are.
    """

    def __init__(self, table: LeaseTable, *, hub: str, worker_id: str) -> None:
        self.table = table
        self.hub = hub
        self.worker_id = worker_id
        self._held: dict[int, Lease] = {}
        self._next_try_s: dict[int, float] = {}
        self._lock = threading.Lock()

    def owns(self, sysid: int) -> bool:
        """Whether this worker holds an unexpired lease on vehicle ``sysid`` now."""
        with self._lock:
            lease = self._held.get(sysid)
        return lease is not None and lease.expires_at_s > self.table.clock()

    def refresh(self, heard: Iterable[int]) -> None:
        """Renew the leases held (those past half their time), take those of vehicles heard
        and free (a vehicle another worker holds is asked for again after half a lease's
        time), and drop the lost ones."""
        now = self.table.clock()
        for sysid in heard:
            with self._lock:
                lease = self._held.get(sysid)
            if lease is not None and lease.expires_at_s - now > self.table.ttl_s / 2:
                continue
            if lease is None and now < self._next_try_s.get(sysid, now):
                continue   # held by another worker: asked again after half a lease
            found = self.table.renew(lease) if lease is not None and \
                lease.expires_at_s > now else None
            if found is None:
                found = self.table.acquire(vehicle_key(self.hub, sysid), self.worker_id)
                if found is not None and lease is None:
                    log.info("worker %s owns vehicle %d (lease token %d)", self.worker_id,
                             sysid, found.token)
            if found is None and lease is not None:
                log.warning("worker %s lost vehicle %d to another worker", self.worker_id,
                            sysid)
            with self._lock:
                if found is None:
                    self._next_try_s[sysid] = now + self.table.ttl_s / 2
                    self._held.pop(sysid, None)
                else:
                    self._held[sysid] = found

    def release(self) -> None:
        """Give every lease up (a clean stop: another worker may take the vehicles at once)."""
        with self._lock:
            held, self._held = list(self._held.values()), {}
        for lease in held:
            try:
                self.table.release(lease)
            except Exception:  # the lease then simply expires
                log.exception("lease of %s not released", lease.vehicle)
