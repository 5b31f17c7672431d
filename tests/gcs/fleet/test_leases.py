"""Vehicle ownership leases: free, expired, ours and others' vehicles, fencing tokens, races."""

from __future__ import annotations

import dataclasses
import multiprocessing
from collections.abc import Iterator
from typing import Any

import pytest

from gcs.fleet.leases import Lease, LeaseTable

VEHICLES = [f"hub1/{n}" for n in range(1, 51)]


class Clock:
    """A settable wall clock (Unix seconds)."""

    def __init__(self, now_s: float = 1000.0) -> None:
        self.now_s = now_s

    def __call__(self) -> float:
        return self.now_s


@pytest.fixture
def clock() -> Clock:
    """A clock standing at 1000 s until a test moves it."""
    return Clock()


@pytest.fixture
def table(database_url: str, clock: Clock) -> Iterator[LeaseTable]:
    """A lease table with a 3 s time to live in an empty database (SQLite, then PostgreSQL)."""
    leases = LeaseTable(database_url, ttl_s=3.0, clock=clock)
    yield leases
    leases.close()


def test_a_free_vehicle_is_taken_with_token_one(table: LeaseTable) -> None:
    """A vehicle never leased is taken: token 1, expiring one time to live from now."""
    lease = table.acquire("hub1/1", "a")
    assert lease == Lease(vehicle="hub1/1", worker_id="a", token=1, expires_at_s=1003.0)
    assert table.owners() == {"hub1/1": lease}


def test_others_unexpired_lease_is_not_taken(table: LeaseTable, clock: Clock) -> None:
    """Another worker's unexpired lease refuses the vehicle, up to the instant it expires."""
    held = table.acquire("hub1/1", "a")
    clock.now_s = 1002.999
    assert table.acquire("hub1/1", "b") is None
    assert table.owners() == {"hub1/1": held}


def test_acquiring_ours_again_renews_it_with_the_same_token(table: LeaseTable,
                                                            clock: Clock) -> None:
    """Acquiring a vehicle we hold extends the lease and keeps its token."""
    first = table.acquire("hub1/1", "a")
    clock.now_s = 1002.0
    again = table.acquire("hub1/1", "a")
    assert first is not None and again is not None
    assert (again.token, again.expires_at_s) == (first.token, 1005.0)


def test_an_expired_lease_goes_to_the_next_worker_with_a_higher_token(table: LeaseTable,
                                                                      clock: Clock) -> None:
    """Once expired, the vehicle goes to whoever asks; each change of owner raises the token."""
    assert table.acquire("hub1/1", "a") is not None
    clock.now_s = 1003.0
    assert table.owners() == {}
    b = table.acquire("hub1/1", "b")
    assert b is not None and b.token == 2
    clock.now_s = 1010.0
    a = table.acquire("hub1/1", "a")
    assert a is not None and a.token == 3
    assert table.owners() == {"hub1/1": a}


def test_renew_extends_only_the_holder_with_its_token(table: LeaseTable, clock: Clock) -> None:
    """Renewing moves the expiry on; a renewal of a lease we never held fails."""
    lease = table.acquire("hub1/1", "a")
    assert lease is not None
    clock.now_s = 1001.0
    renewed = table.renew(lease)
    assert renewed == Lease(vehicle="hub1/1", worker_id="a", token=1, expires_at_s=1004.0)
    forged = Lease(vehicle="hub1/1", worker_id="b", token=1, expires_at_s=1004.0)
    assert table.renew(forged) is None
    assert table.renew(Lease(vehicle="hub1/2", worker_id="a", token=1, expires_at_s=1.0)) is None


def test_a_stale_owner_cannot_renew_after_another_took_the_vehicle(table: LeaseTable,
                                                                   clock: Clock) -> None:
    """A worker that let its lease expire cannot renew once another worker took the vehicle, nor
    by acquiring with its old token (it gets None: the new owner holds it)."""
    stale = table.acquire("hub1/1", "a")
    assert stale is not None
    clock.now_s = 1004.0
    taken = table.acquire("hub1/1", "b")
    assert taken is not None and taken.token == 2
    assert table.renew(stale) is None
    assert table.acquire("hub1/1", "a") is None
    assert table.renew(taken) is not None


def test_an_expired_lease_is_not_renewed_even_if_nobody_took_it(table: LeaseTable,
                                                                 clock: Clock) -> None:
    """Renewal after expiry fails (the holder must stop); acquiring again starts a new tenure
    with a higher token."""
    lease = table.acquire("hub1/1", "a")
    assert lease is not None
    clock.now_s = 1003.5
    assert table.renew(lease) is None
    again = table.acquire("hub1/1", "a")
    assert again is not None and again.token == 2


def test_release_frees_the_vehicle_at_once(table: LeaseTable) -> None:
    """A released vehicle is free before its expiry; releasing a lost lease changes nothing."""
    lease = table.acquire("hub1/1", "a")
    assert lease is not None
    table.release(lease)
    assert table.owners() == {}
    assert table.renew(lease) is None
    b = table.acquire("hub1/1", "b")
    assert b is not None and b.token == 2
    table.release(lease)
    assert table.owners() == {"hub1/1": b}


def test_owners_filters_by_prefix(table: LeaseTable) -> None:
    """Owners are listed by key prefix, the prefix taken literally (no wildcards)."""
    for key in ("hub1/1", "hub1/2", "hub2/1", "hub%/1"):
        assert table.acquire(key, "a") is not None
    assert sorted(table.owners("hub1/")) == ["hub1/1", "hub1/2"]
    assert sorted(table.owners("hub%")) == ["hub%/1"]
    assert len(table.owners()) == 4


def test_bad_lease_values_are_refused() -> None:
    """A lease with no vehicle, no worker or a token below 1 is refused with what was expected."""
    with pytest.raises(ValueError, match="token >= 1"):
        Lease(vehicle="v", worker_id="a", token=0, expires_at_s=0.0)
    with pytest.raises(ValueError, match="worker_id"):
        Lease(vehicle="v", worker_id="", token=1, expires_at_s=0.0)
    with pytest.raises(ValueError, match="ttl_s > 0"):
        LeaseTable("sqlite://", ttl_s=0.0)


def _race(url: str, worker_id: str, now_s: float, start: Any, out: Any) -> None:
    """In a separate process: once ``start`` lets everyone go, try to take every vehicle."""
    table = LeaseTable(url, ttl_s=100.0, clock=lambda: now_s)
    start.wait(30)
    got = [(key, lease.token) for key in VEHICLES
           if (lease := table.acquire(key, worker_id)) is not None]
    table.close()
    out.put((worker_id, got))


def _race_round(url: str, now_s: float) -> dict[str, list[tuple[str, int]]]:
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(2)
    out = ctx.Queue()
    procs = [ctx.Process(target=_race, args=(url, w, now_s, start, out))
             for w in ("a", "b")]
    for p in procs:
        p.start()
    results = dict(out.get(timeout=60) for _ in procs)
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    return results


def test_two_processes_racing_for_50_vehicles_never_both_hold_one(database_url: str) -> None:
    """Two processes racing for the same 50 vehicles in one database (a SQLite file, then
    PostgreSQL) split them: each vehicle has exactly one holder, with token 1; after every lease
    expired, a second race splits them again, each with token 2, and the table agrees with what
    each process was told."""
    LeaseTable(database_url).close()  # created once, as a worker does before it starts racing
    for now_s, token in ((1000.0, 1), (2000.0, 2)):
        results = _race_round(database_url, now_s)
        held = [key for got in results.values() for key, _ in got]
        assert sorted(held) == sorted(VEHICLES)  # all taken, none twice
        assert {t for got in results.values() for _, t in got} == {token}
        table = LeaseTable(database_url, clock=lambda now_s=now_s: now_s)
        owners = table.owners()
        table.close()
        assert {k: v.worker_id for k, v in owners.items()} == \
            {key: w for w, got in results.items() for key, _ in got}


def test_renew_all_extends_what_is_held_and_reports_what_is_lost(table: LeaseTable,
                                                                  clock: Clock) -> None:
    """One statement renews a worker's leases: those still held with their token are
    extended; one taken by another worker after it expired, and one released, are lost."""
    held = [table.acquire(f"north/{i}", "w1") for i in range(1, 6)]
    assert all(lease is not None for lease in held)
    leases = [lease for lease in held if lease is not None]
    clock.now_s += 2.0
    table.release(leases[1])
    assert table.acquire("north/2", "w2") is not None
    clock.now_s += 2.0  # north/1..5 of w1 expired at +3 s unless renewed
    assert table.acquire("north/3", "w2") is not None  # taken after expiry
    clock.now_s -= 2.0  # back before expiry: renew the rest
    renewed = table.renew_all(leases)
    assert list(renewed) == [lease.vehicle for lease in leases]
    assert renewed["north/2"] is None and renewed["north/3"] is None
    for vehicle in ("north/1", "north/4", "north/5"):
        lease = renewed[vehicle]
        assert lease is not None and lease.expires_at_s == clock.now_s + 3.0
        assert table.owners()[vehicle].expires_at_s == lease.expires_at_s
    assert table.renew_all([]) == {}
    with pytest.raises(ValueError, match="one worker"):
        table.renew_all([leases[0], dataclasses.replace(leases[3], worker_id="w2")])
