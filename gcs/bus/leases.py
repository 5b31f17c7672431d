"""A bus worker's hold on its vehicles: one :class:`gcs.fleet.ownership.Ownership` over the
shared lease table (:class:`gcs.fleet.leases.LeaseTable`, keys ``"<hub>/<sysid>"``), the same
leases by which a worker flies a plan's run (:mod:`gcs.bus.runs`), so that the worker that
publishes and commands a vehicle is the one flying it.

The vehicles it could serve are the ones it hears (:meth:`LeaseKeeper.refresh`); it keeps a fair
share of them among the live workers of the hub, renews their leases, and takes over those of
a dead worker (see :mod:`gcs.fleet.ownership`). A lease lost (another worker took it, or it
expired because renewals failed) stops the worker publishing, commanding and flying that
vehicle at once. A clean stop gives every lease up, so another worker may take the vehicles at
once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from gcs.fleet.leases import Lease, LeaseTable
from gcs.fleet.ownership import Ownership

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
        The shared lease table (its clock and time to live apply).
    hub, worker_id
        Whose leases these are (the hub's workers share its vehicles).
    settle_s
        Wait after the worker announces itself before it takes vehicles (default: a third of
        the lease's time to live), so that workers starting together split the vehicles.
    """

    def __init__(self, table: LeaseTable, *, hub: str, worker_id: str,
                 settle_s: float | None = None) -> None:
        self.table = table
        self.hub = hub
        self.worker_id = worker_id
        self.ownership = Ownership(table, worker_id, (), group=hub, on_gained=self._gained,
                                   on_lost=self._lost, settle_s=settle_s)
        self._started = False

    def _gained(self, lease: Lease) -> None:
        log.info("worker %s owns %s (lease token %d)", self.worker_id, lease.vehicle,
                 lease.token)

    def _lost(self, lease: Lease) -> None:
        log.warning("worker %s no longer owns %s", self.worker_id, lease.vehicle)

    def owns(self, sysid: int) -> bool:
        """Whether this worker holds a lease on vehicle ``sysid`` not about to expire."""
        return self.ownership.holds(vehicle_key(self.hub, sysid))

    def refresh(self, heard: Iterable[int]) -> None:
        """Serve the vehicles ``heard`` (the ownership's thread takes, renews and drops their
        leases; started at the first call)."""
        self.ownership.set_vehicles(vehicle_key(self.hub, s) for s in heard)
        if not self._started:
            self._started = True
            self.ownership.start()

    def release(self) -> None:
        """Give every lease up (a clean stop)."""
        if self._started:
            self.ownership.stop()
