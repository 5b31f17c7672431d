"""A worker's share of the vehicles: fair split, renewals, takeover of a dead worker's, loss."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from gcs.fleet.leases import Lease, LeaseTable
from gcs.fleet.ownership import Ownership
from tests.helpers.waiting import wait_until

VEHICLES = [f"hub1/{n}" for n in range(1, 6)]


class Clock:
    """A settable wall clock (Unix seconds)."""

    def __init__(self, now_s: float = 1000.0) -> None:
        self.now_s = now_s

    def __call__(self) -> float:
        return self.now_s


class Worker:
    """An :class:`Ownership` with the callbacks it made, in order."""

    def __init__(self, table: LeaseTable, worker_id: str) -> None:
        self.calls: list[tuple[str, str, int]] = []
        self.own = Ownership(table, worker_id, VEHICLES, group="hub1",
                             on_gained=lambda lease: self._note("gained", lease),
                             on_lost=lambda lease: self._note("lost", lease))

    def _note(self, what: str, lease: Lease) -> None:
        self.calls.append((what, lease.vehicle, lease.token))

    def held_keys(self) -> set[str]:
        return set(self.own.held())


@pytest.fixture
def clock() -> Clock:
    """A clock standing at 1000 s until a test moves it."""
    return Clock()


@pytest.fixture
def table(tmp_path: Path, clock: Clock) -> Iterator[LeaseTable]:
    """A lease table with a 3 s time to live (passes every 1 s) in a fresh SQLite file."""
    leases = LeaseTable(tmp_path / "leases.db", ttl_s=3.0, clock=clock)
    yield leases
    leases.close()


def _passes(clock: Clock, workers: list[Worker], count: int = 1, step_s: float = 1.0) -> None:
    for _ in range(count):
        for w in workers:
            w.own.tick()
        clock.now_s += step_s


def test_workers_starting_together_split_the_vehicles(table: LeaseTable, clock: Clock) -> None:
    """Two workers announcing themselves in the same pass wait one pass, then take 3 and 2 of
    the 5 vehicles (each at most its share ceil(5/2)), every vehicle held once."""
    a, b = Worker(table, "a"), Worker(table, "b")
    _passes(clock, [a, b])
    assert a.held_keys() == b.held_keys() == set()  # still settling
    _passes(clock, [a, b])
    assert a.held_keys() | b.held_keys() == set(VEHICLES) and not a.held_keys() & b.held_keys()
    assert sorted([len(a.held_keys()), len(b.held_keys())]) == [2, 3]
    assert {c[0] for c in a.calls + b.calls} == {"gained"}
    _passes(clock, [a, b], 5)  # renewals keep them, nothing changes hands
    assert len(a.calls) + len(b.calls) == 5
    assert a.own.live_workers() == 2


def test_a_dead_workers_vehicles_are_taken_over(table: LeaseTable, clock: Clock) -> None:
    """When a worker stops renewing, the other takes its vehicles once their leases expired,
    each with a higher token; the dead worker, should it run again, calls on_lost for every
    vehicle before anything else and holds nothing."""
    a, b = Worker(table, "a"), Worker(table, "b")
    _passes(clock, [a, b], 2)
    a_had = a.held_keys()
    _passes(clock, [b], 2)
    assert b.held_keys() == set(VEHICLES) - a_had  # a's leases not expired yet
    _passes(clock, [b], 2)
    assert b.held_keys() == set(VEHICLES)
    assert all(t == 2 for what, key, t in b.calls if key in a_had)
    gained = len(a.calls)
    a.own.tick()
    assert a.held_keys() == set()
    assert sorted(a.calls[gained:]) == [("lost", key, 1) for key in sorted(a_had)]


def test_a_lease_taken_by_another_is_lost_before_anything_else(table: LeaseTable,
                                                               clock: Clock) -> None:
    """A holder whose lease another worker took (after it expired) sees its renewal fail:
    on_lost at once, ``holds`` false for the old token, the vehicle not taken back while the
    new owner renews."""
    a = Worker(table, "a")
    _passes(clock, [a], 2)
    assert a.held_keys() == set(VEHICLES)
    lease = a.own.held()["hub1/1"]
    assert a.own.holds("hub1/1", lease.token)
    clock.now_s = lease.expires_at_s
    assert not a.own.holds("hub1/1")  # within a pass of expiry: no longer trusted
    taken = table.acquire("hub1/1", "b")
    assert taken is not None and taken.token == lease.token + 1
    a.own.tick()
    assert ("lost", "hub1/1", lease.token) in a.calls
    assert "hub1/1" not in a.held_keys() and not a.own.holds("hub1/1", lease.token)
    assert table.renew(taken) is not None
    a.own.tick()
    assert "hub1/1" not in a.held_keys()


def test_given_up_vehicle_goes_to_another_worker(table: LeaseTable, clock: Clock) -> None:
    """A vehicle given back (unreachable) is released at once, taken by another worker and not
    retaken by the first."""
    a, b = Worker(table, "a"), Worker(table, "b")
    _passes(clock, [a], 2)
    _passes(clock, [b], 1)
    a.own.give_up("hub1/3")
    assert a.calls[-1] == ("lost", "hub1/3", 1)
    _passes(clock, [a, b], 3)
    assert "hub1/3" in b.held_keys() and "hub1/3" not in a.held_keys()


def test_stop_calls_on_lost_then_releases_everything(table: LeaseTable, clock: Clock) -> None:
    """Stopping calls on_lost for every vehicle held and frees them and the worker's presence
    at once."""
    a = Worker(table, "a")
    _passes(clock, [a], 2)
    a.own.stop()
    assert sorted(c[1] for c in a.calls if c[0] == "lost") == VEHICLES
    assert table.owners() == {}
    assert a.held_keys() == set()


def test_the_thread_takes_and_releases(tmp_path: Path) -> None:
    """The background thread runs passes on its own: a lone worker ends up holding every
    vehicle, and stop() releases them."""
    table = LeaseTable(tmp_path / "leases.db", ttl_s=0.3)
    gained: list[str] = []
    own = Ownership(table, "a", VEHICLES, on_gained=lambda lease: gained.append(lease.vehicle),
                    on_lost=lambda lease: None)
    own.start()
    try:
        wait_until(lambda: len(gained) == len(VEHICLES), 10.0, "every vehicle taken")
    finally:
        own.stop()
    assert table.owners() == {}
    table.close()


def test_a_pass_stuck_on_the_database_does_not_keep_the_vehicles(tmp_path: Path,
                                                                   clock: Clock) -> None:
    """While the database is locked (renewals stuck), the leases nearing their expiry are
    dropped by the watch thread all the same: on_lost for every vehicle, before any other
    worker could take one."""
    path = tmp_path / "leases.db"
    table = LeaseTable(path, ttl_s=3.0, clock=clock)
    lost: list[tuple[str, str]] = []
    own = Ownership(table, "a", VEHICLES, settle_s=0.0, on_gained=lambda lease: None,
                    on_lost=lambda lease: lost.append((lease.vehicle,
                                                       threading.current_thread().name)))
    own.start()
    locker = sqlite3.connect(path, isolation_level=None)
    try:
        wait_until(lambda: len(own.held()) == len(VEHICLES), 10.0, "every vehicle taken")
        locker.execute("BEGIN EXCLUSIVE")
        clock.now_s += 2.5  # renewals due, and the database refuses them
        wait_until(lambda: len(lost) == len(VEHICLES), 5.0, "every vehicle dropped")
        assert {name for _, name in lost} == {"ownership watch a"}
        assert own.held() == {}
    finally:
        if locker.in_transaction:
            locker.execute("ROLLBACK")
        locker.close()
        own.stop()
        table.close()
