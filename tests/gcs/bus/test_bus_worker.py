"""A hub's worker on a real Mosquitto with built-in simulated copters: state on the bus,
commands carried out and answered, malformed messages dropped, and the bus's bytes measured."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from gcs import commands
from gcs.bus.client import BusClient
from gcs.bus.messages import AckMessage, CommandMessage, Presence, StateMessage
from gcs.bus.state import StateBook
from gcs.bus.topics import ack_topic, command_topic, parse_topic, presence_topic, state_topic
from gcs.bus.url import BrokerUrl
from gcs.bus.worker import HubWorker
from gcs.transfer import Target
from tests.helpers.mosquitto import Broker, running_mosquitto
from tests.helpers.ports import free_base_port
from tests.helpers.waiting import wait_until

HOME = (44.0618, -71.1369, 160.0)
MQTT_HEADER_BYTES = 4   # fixed header and topic length of a small PUBLISH (QoS 0)


@dataclass
class Setup:
    """The broker, the simulated copters and the worker of hub ``north``."""

    broker: Broker
    fleet: object
    worker: HubWorker


class Console:
    """A console-login client keeping the state, acks and presence it hears."""

    def __init__(self, broker: Broker, name: str) -> None:
        self.book = StateBook()
        self.acks: list[AckMessage] = []
        self.presence: dict[str, Presence] = {}
        self.bytes = 0
        self.messages = 0
        self.client = BusClient(BrokerUrl.parse(broker.url("console")), name,
                                on_message=self._on)
        for topic in (state_topic("+", "+"), ack_topic("+", "+"), presence_topic("+", "+")):
            self.client.subscribe(topic)
        self.client.connect()

    def _on(self, topic: str, payload: bytes) -> None:
        parts = parse_topic(topic)
        if parts.kind == "state":
            assert parts.sysid is not None
            self.bytes += len(topic) + len(payload) + MQTT_HEADER_BYTES
            self.messages += 1
            self.book.apply(parts.hub, parts.sysid, StateMessage.from_payload(topic, payload))
        elif parts.kind == "ack":
            self.acks.append(AckMessage.from_payload(topic, payload))
        elif parts.kind == "presence":
            found = Presence.from_payload(topic, payload)
            self.presence[found.worker] = found

    def command(self, sysid: int, verb: str, *, id: str, sent_at_s: float | None = None,
                hub: str = "north") -> None:
        """Send ``verb`` to vehicle ``sysid``."""
        cmd = CommandMessage(id=id, verb=verb, console="test-console", user="ops",
                             sent_at_s=time.time() if sent_at_s is None else sent_at_s)
        self.client.publish(command_topic(hub, sysid), cmd.to_payload(), qos=1, wait_s=5)

    def ack(self, command_id: str) -> AckMessage:
        """The ack of ``command_id`` (waited for)."""
        wait_until(lambda: any(a.command_id == command_id for a in self.acks), 30,
                   f"the ack of {command_id}")
        return next(a for a in self.acks if a.command_id == command_id)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    """Mosquitto, two simulated copters at 10x and the worker ``w-north`` of hub north."""
    from sitl.builtin import BuiltinFleet

    with running_mosquitto(tmp_path_factory.mktemp("broker"), ["north"]) as broker:
        fleet = BuiltinFleet(vehicles=2, home=HOME, speedup=10.0,
                             base_port=free_base_port(2), settle_s=1.0)
        fleet.start()
        try:
            worker = HubWorker(hub="north", worker_id="w-north",
                               broker=BrokerUrl.parse(broker.url("worker-north")),
                               connect=fleet.connection_strings).start()
            try:
                yield Setup(broker, fleet, worker)
            finally:
                worker.close()
        finally:
            fleet.stop()


def test_state_and_presence_reach_a_console(setup: Setup) -> None:
    """A console hears both vehicles' positions and modes, the worker's name and its
    presence with the vehicles it owns; the retained snapshot reaches a late console."""
    console = Console(setup.broker, "c-state")
    try:
        wait_until(lambda: sorted(console.book.vehicles()) == [1, 2] and all(
            v.fields.get("lat_deg") is not None and v.fields.get("speedup") == 10.0
            for v in console.book.vehicles().values()), 30, "both vehicles' state")
        heard = console.book.vehicles()[1]
        assert heard.hub == "north" and heard.worker == "w-north"
        assert heard.fields["lat_deg"] == pytest.approx(HOME[0], abs=1e-3)
        assert heard.fields["mode"] in ("STABILIZE", "LOITER", "GUIDED", "RTL", "LAND")
        wait_until(lambda: console.presence.get("w-north") is not None
                   and console.presence["w-north"].vehicles == (1, 2), 10, "presence")
        assert console.presence["w-north"].state == "online"
    finally:
        console.client.close()


def test_commands_are_carried_out_and_answered_once(setup: Setup) -> None:
    """RTL sent as a command message switches the simulated vehicle to RTL and is acked by
    the worker; the same command delivered again gets the same answer, a stale one is
    refused, and one for a vehicle the worker does not hear is left to its owner."""
    console = Console(setup.broker, "c-command")
    try:
        console.command(2, "rtl", id="rtl-2")
        ack = console.ack("rtl-2")
        assert (ack.ok, ack.worker, ack.detail) == (True, "w-north", "mode RTL confirmed")
        assert setup.fleet.vehicle(1).snapshot().mode == "RTL"  # type: ignore[attr-defined]
        console.command(2, "rtl", id="rtl-2")
        wait_until(lambda: len([a for a in console.acks if a.command_id == "rtl-2"]) == 2, 10,
                   "the second answer")
        assert len({a for a in console.acks if a.command_id == "rtl-2"}) == 1
        console.command(2, "land", id="old", sent_at_s=time.time() - 120)
        assert not console.ack("old").ok and "ago" in console.ack("old").detail
        console.command(9, "land", id="nobody")
        console.command(2, "rtl", id="after-nobody")
        assert console.ack("after-nobody").ok
        time.sleep(0.5)
        assert all(a.command_id != "nobody" for a in console.acks)
        assert setup.fleet.vehicle(1).snapshot().mode == "RTL"  # type: ignore[attr-defined]
    finally:
        console.client.close()


@pytest.mark.parametrize("payload", [
    b"not json", b'{"id": "m1", "verb": "explode", "console": "c", "user": "u", "at": 1}',
    b"[]", b'{"id": "m2"}', json.dumps({"id": "x" * 500, "verb": "rtl", "console": "c",
                                        "user": "u", "at": 1}).encode()])
def test_malformed_commands_are_dropped_and_logged(setup: Setup, payload: bytes,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    """A malformed command is logged and dropped unanswered; the worker then still answers
    a good one."""
    console = Console(setup.broker, "c-malformed")
    try:
        with caplog.at_level(logging.WARNING, logger="gcs.bus.worker"):
            console.client.publish(command_topic("north", 1), payload, qos=1, wait_s=5)
            console.command(1, "pause", id="after-bad")
            assert console.ack("after-bad").ok
        assert [a.command_id for a in console.acks] == ["after-bad"]
        assert any("dropped: malformed message on dropline/v1/hub/north/vehicle/1/command"
                   in r.getMessage() for r in caplog.records)
    finally:
        console.client.close()


@pytest.mark.slow
def test_bus_bytes_per_vehicle_minute(setup: Setup) -> None:
    """Measures (prints) the state bytes on the bus per vehicle-minute, standing and flying
    (vehicle 1 takes off and flies away at 10x); checks only that both vehicles were heard."""
    console = Console(setup.broker, "c-measure")
    try:
        wait_until(lambda: len(console.book.vehicles()) == 2, 30, "both vehicles")
        time.sleep(5.0)   # settled (terrain loaded, speed-up read)
        console.bytes = console.messages = 0
        start = time.monotonic()
        time.sleep(15.0)
        standing = console.bytes / 2 / ((time.monotonic() - start) / 60.0)
        standing_n = console.messages / 2 / ((time.monotonic() - start) / 60.0)
        link = setup.worker.telemetry.link_of(1)
        assert link is not None
        target = Target(sysid=1)
        commands.set_mode(link, target, "GUIDED")
        commands.arm(link, target)
        commands.takeoff(link, target, 30.0)
        time.sleep(3.0)
        commands.goto(link, target, HOME[0] + 0.01, HOME[1] + 0.01, 30.0)
        console.bytes = console.messages = 0
        start = time.monotonic()
        time.sleep(15.0)
        minutes = (time.monotonic() - start) / 60.0
        flying = console.bytes / minutes - standing   # less vehicle 2's, standing
        flying_n = console.messages / minutes - standing_n
        commands.set_mode(link, target, "LAND")
        print(f"\nbus state bytes per vehicle-minute (topic + payload + {MQTT_HEADER_BYTES} B "
              f"header): standing {standing:.0f} B ({standing_n:.0f} messages), flying "
              f"{flying:.0f} B ({flying_n:.0f} messages)")
        assert console.book.vehicles()[1].fields["armed"] is True
    finally:
        console.client.close()
