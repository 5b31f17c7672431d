"""A thin client over paho-mqtt: log in, keep the connection (reconnecting by itself), subscribe
again after every reconnection, publish with a QoS, and hand each message to one callback.

paho's network thread calls the callback; an exception there is logged and the message
dropped, never allowed to stop the thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from gcs.bus.errors import BrokerUnreachable, BusError
from gcs.bus.url import BrokerUrl

log = logging.getLogger(__name__)

#: Seconds between the keep-alive pings of the connection (the broker declares a client
#: gone, and publishes its last will, after 1.5 times this without a word).
KEEPALIVE_S = 5


@dataclass(frozen=True, slots=True, kw_only=True)
class Will:
    """The message the broker publishes for a client that vanishes without disconnecting."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


class BusClient:
    """One connection to the broker.

    Parameters
    ----------
    url
        The broker and the login.
    client_id
        Unique among the broker's clients (a second client with the same id pushes the first
        one out).
    on_message
        Called with each message's topic and payload, from paho's network thread.
    will
        The last will, if any.
    """

    def __init__(self, url: BrokerUrl, client_id: str, *,
                 on_message: Callable[[str, bytes], None], will: Will | None = None) -> None:
        self.url = url
        self.client_id = client_id
        self.on_message = on_message
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                   protocol=mqtt.MQTTv311, clean_session=True)
        if url.username is not None:
            self._client.username_pw_set(url.username, url.password)
        if will is not None:
            self._client.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain)
        self._client.reconnect_delay_set(min_delay=1, max_delay=10)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_connect_fail = self._on_connect_fail
        self._failure: str | None = None
        self._subs: dict[str, int] = {}
        self._lock = threading.Lock()
        self._answered = threading.Event()
        self._refusal: str | None = None
        self.connected = threading.Event()
        self._closing = False
        #: Bytes of payload and topic published and received (for measurements).
        self.bytes_out = 0
        self.bytes_in = 0

    # -- paho's callbacks (network thread) ----------------------------------------------------
    def _on_connect(self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any,
                    _properties: Any) -> None:
        if reason.is_failure:
            self._refusal = str(reason)
            self._answered.set()
            log.error("the MQTT broker at %s refused %s: %s", self.url.address,
                      self.url.username or "an anonymous login", reason)
            return
        with self._lock:
            subs = dict(self._subs)
        for topic, qos in subs.items():
            client.subscribe(topic, qos)
        self._refusal = None
        self.connected.set()
        self._answered.set()
        log.info("connected to the MQTT broker at %s as %s", self.url.address, self.client_id)

    def _on_connect_fail(self, _client: mqtt.Client, _userdata: Any) -> None:
        if not self.connected.is_set():
            self._failure = "no connection: refused or unreachable"
            self._answered.set()

    def _on_disconnect(self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any,
                       _properties: Any) -> None:
        if self.connected.is_set() and not self._closing:
            log.warning("disconnected from the MQTT broker at %s (%s); reconnecting",
                        self.url.address, reason)
        self.connected.clear()

    def _on_message(self, _client: mqtt.Client, _userdata: Any,
                    message: mqtt.MQTTMessage) -> None:
        self.bytes_in += len(message.payload) + len(message.topic)
        try:
            self.on_message(message.topic, bytes(message.payload))
        except Exception:  # a bad message never stops the network thread
            log.exception("message on %s not handled", message.topic)

    # -- use ----------------------------------------------------------------------------------
    def connect(self, timeout_s: float = 10.0) -> BusClient:
        """Connect (and keep reconnecting in the background); returns self.

        Raises
        ------
        BusError
            The broker refused the login.
        BrokerUnreachable
            The connection was refused, or no answer came within ``timeout_s``.
        """
        self._client.connect_async(self.url.host, self.url.port, keepalive=KEEPALIVE_S)
        self._client.loop_start()
        answered = self._answered.wait(timeout_s)
        if self._refusal is not None or not answered or not self.connected.is_set():
            self._client.loop_stop()
            self._client.disconnect()
            if self._refusal is not None:
                raise BusError(f"the MQTT broker at {self.url.address} refused the login of "
                               f"{self.url.username or 'an anonymous client'}: "
                               f"{self._refusal}")
            raise BrokerUnreachable(self.url.address, timeout_s=timeout_s,
                                    reason=self._failure)
        return self

    def subscribe(self, topic: str, qos: int = 1) -> None:
        """Receive the messages of ``topic`` (a filter; again after every reconnection)."""
        with self._lock:
            self._subs[topic] = qos
        if self.connected.is_set():
            self._client.subscribe(topic, qos)

    def publish(self, topic: str, payload: bytes, *, qos: int = 0, retain: bool = False,
                wait_s: float | None = None) -> bool:
        """Publish ``payload``; with ``wait_s``, wait that long for it to leave (QoS 0) or be
        acknowledged by the broker (QoS 1). False when it was not (yet) sent."""
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        self.bytes_out += len(payload) + len(topic)
        if info.rc != mqtt.MQTT_ERR_SUCCESS and not (qos > 0 and
                                                     info.rc == mqtt.MQTT_ERR_NO_CONN):
            log.debug("not published on %s: %s", topic, mqtt.error_string(info.rc))
            return False
        if wait_s is not None:
            try:
                info.wait_for_publish(wait_s)
            except (RuntimeError, ValueError):
                return False
            return info.is_published()
        return True

    def close(self) -> None:
        """Disconnect cleanly (the last will is not published) and stop the network thread."""
        self._closing = True
        self._client.disconnect()
        self._client.loop_stop()
        self.connected.clear()
