"""The broker's own security with the generated config: logins required, and each login
confined to its topics by the ACL (a real Mosquitto)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from gcs.bus.client import BusClient
from gcs.bus.errors import BusError
from gcs.bus.topics import command_topic, presence_topic, state_topic
from gcs.bus.url import BrokerUrl
from tests.helpers.mosquitto import Broker, running_mosquitto
from tests.helpers.waiting import wait_until


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """Mosquitto for hubs ``north`` and ``south``."""
    with running_mosquitto(tmp_path_factory.mktemp("broker"), ["north", "south"]) as found:
        yield found


class Listener:
    """A connected client that keeps what it hears."""

    def __init__(self, broker: Broker, user: str, topics: list[str], name: str) -> None:
        self.heard: list[tuple[str, bytes]] = []
        self.client = BusClient(BrokerUrl.parse(broker.url(user)), name,
                                on_message=lambda t, p: self.heard.append((t, p)))
        for topic in topics:
            self.client.subscribe(topic)
        self.client.connect()

    def close(self) -> None:
        """Disconnect."""
        self.client.close()


def _sent_and_marker(sender: Listener, listener: Listener, topic: str, marker_topic: str,
                     marker_sender: Listener) -> None:
    """Publish a forbidden message, then an allowed marker, and wait for the marker: the
    forbidden one, sent first on the same broker, would have arrived by then."""
    sender.client.publish(topic, b'{"forged": true}', qos=1, wait_s=5.0)
    marker_sender.client.publish(marker_topic, b'{"marker": true}', qos=1, wait_s=5.0)
    wait_until(lambda: any(t == marker_topic for t, _ in listener.heard), 10, "the marker")


def test_a_console_cannot_publish_as_a_vehicle(broker: Broker) -> None:
    """State, presence or acks published with the console's login reach no subscriber."""
    console = Listener(broker, "console", [state_topic("+", "+"), presence_topic("+", "+"),
                                           "dropline/v1/hub/+/vehicle/+/ack"], "c-listen")
    forger = Listener(broker, "console", [], "c-forge")
    worker = Listener(broker, "worker-north", [], "w-north")
    try:
        time.sleep(0.2)
        for topic in (state_topic("north", 1), presence_topic("north", "w-fake"),
                      "dropline/v1/hub/north/vehicle/1/ack"):
            _sent_and_marker(forger, console, topic, state_topic("north", 2), worker)
            assert all(t != topic for t, _ in console.heard), topic
            console.heard.clear()
    finally:
        for c in (console, forger, worker):
            c.close()


def test_a_worker_cannot_command_or_speak_for_another_hub(broker: Broker) -> None:
    """The north workers' login cannot command any vehicle nor publish south's state; the
    south worker hears only its own hub's commands."""
    south = Listener(broker, "worker-south", [command_topic("south", "+"),
                                              command_topic("north", "+")], "w-south")
    console = Listener(broker, "console", [state_topic("+", "+")], "c-1")
    north = Listener(broker, "worker-north", [], "w-north")
    try:
        time.sleep(0.2)
        _sent_and_marker(north, console, state_topic("south", 1), state_topic("north", 1),
                         north)
        assert [t for t, _ in console.heard] == [state_topic("north", 1)]
        north.client.publish(command_topic("south", 1), b'{"forged": 1}', qos=1, wait_s=5)
        north.client.publish(command_topic("north", 1), b'{"forged": 2}', qos=1, wait_s=5)
        console.client.publish(command_topic("north", 1), b'{"real": 1}', qos=1, wait_s=5)
        console.client.publish(command_topic("south", 1), b'{"real": 2}', qos=1, wait_s=5)
        wait_until(lambda: len(south.heard) >= 1, 10, "the console's command")
        time.sleep(0.3)
        assert south.heard == [(command_topic("south", 1), b'{"real": 2}')]
    finally:
        for c in (south, console, north):
            c.close()


@pytest.mark.parametrize("url", ["mqtt://127.0.0.1:{port}", "mqtt://console:wrong@127.0.0.1:{port}",
                                 "mqtt://nobody:x@127.0.0.1:{port}"])
def test_anonymous_and_wrong_logins_are_refused(broker: Broker, url: str) -> None:
    """An anonymous client, a wrong password and an unknown user are refused at connect."""
    client = BusClient(BrokerUrl.parse(url.format(port=broker.port), env={}), "intruder",
                       on_message=lambda t, p: None)
    with pytest.raises(BusError, match="refused the login"):
        client.connect(5.0)


def test_the_listener_is_on_loopback_only(broker: Broker) -> None:
    """The generated config listens on 127.0.0.1 and allows no anonymous client."""
    text = broker.files.config.read_text()
    assert f"listener {broker.port} 127.0.0.1" in text and "allow_anonymous false" in text
    assert oct(broker.files.password_file.stat().st_mode & 0o777) == "0o600"
