"""A worker publishes and commands only the vehicles whose lease it holds in the shared lease
table: it waits for a vehicle another worker holds, takes it once freed, and stops at once when
its lease is taken away (real Mosquitto, built-in simulated copters, SQLite lease table)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from gcs.bus.client import BusClient
from gcs.bus.leases import LeaseKeeper
from gcs.bus.messages import Presence, StateMessage
from gcs.bus.topics import parse_topic, presence_topic, state_topic
from gcs.bus.url import BrokerUrl
from gcs.bus.worker import HubWorker
from gcs.fleet.leases import LeaseTable, vehicle_leases
from tests.helpers.mosquitto import running_mosquitto
from tests.helpers.ports import free_base_port
from tests.helpers.waiting import wait_until

HOME = (44.0618, -71.1369, 160.0)


@pytest.mark.slow
def test_worker_owns_only_leased_vehicles(tmp_path: Path) -> None:
    """Vehicle 2, leased by another worker, is neither published nor announced until that
    lease is released; vehicle 1, whose lease is taken over, stops being published."""
    from sitl.builtin import BuiltinFleet

    leases = tmp_path / "leases.db"
    other = LeaseTable(leases, ttl_s=600.0)
    held = other.acquire("north/2", "w-other")
    assert held is not None
    last: dict[int, float] = {}
    presence: list[Presence] = []

    def heard(topic: str, payload: bytes) -> None:
        parts = parse_topic(topic)
        if parts.kind == "state" and parts.sysid is not None:
            StateMessage.from_payload(topic, payload)
            last[parts.sysid] = time.monotonic()
        elif parts.kind == "presence":
            presence.append(Presence.from_payload(topic, payload))

    with running_mosquitto(tmp_path / "broker", ["north"]) as broker:
        fleet = BuiltinFleet(vehicles=2, home=HOME, speedup=10.0,
                             base_port=free_base_port(2), settle_s=1.0)
        fleet.start()
        console = BusClient(BrokerUrl.parse(broker.url("console")), "c-leases",
                            on_message=heard)
        console.subscribe(state_topic("+", "+"))
        console.subscribe(presence_topic("+", "+"))
        console.connect()
        table = LeaseTable(leases, ttl_s=3.0)
        worker = HubWorker(hub="north", worker_id="w-north",
                           broker=BrokerUrl.parse(broker.url("worker-north")),
                           connect=fleet.connection_strings,
                           ownership=LeaseKeeper(table, hub="north", worker_id="w-north"))
        try:
            worker.start()
            wait_until(lambda: presence and presence[-1].vehicles == (1,), 30,
                       "vehicle 1 owned")
            time.sleep(2.0)
            assert 1 in last and 2 not in last
            other.release(held)
            wait_until(lambda: presence[-1].vehicles == (1, 2) and 2 in last, 30,
                       "vehicle 2 taken once free")
            with other.engine.begin() as conn:   # another worker takes vehicle 1 over
                conn.execute(sa.update(vehicle_leases)
                             .where(vehicle_leases.c.vehicle == "north/1")
                             .values(worker_id="w-other", token=vehicle_leases.c.token + 1,
                                     expires_at=time.time() + 600))
            wait_until(lambda: presence[-1].vehicles == (2,), 30, "vehicle 1 given up")
            stopped = time.monotonic()
            time.sleep(3.0)
            assert last[1] < stopped and last[2] > stopped
            assert other.owners("north/")["north/1"].worker_id == "w-other"
        finally:
            worker.close()
            console.close()
            fleet.stop()
            other.close()
            table.close()
    after = LeaseTable(leases)
    try:
        assert after.owners("north/2") == {}   # released at the clean stop
    finally:
        after.close()
