"""Errors of the message bus: a broker that cannot be reached or refuses the login, and a
message that is not what its topic promises."""

from __future__ import annotations

from gcs.errors import GroundControlError, LinkTimeout


class BusError(GroundControlError):
    """The broker refused something ground control asked of it (a login, a subscription)."""


class BrokerUnreachable(LinkTimeout):
    """The broker did not accept a connection in time.

    Parameters
    ----------
    address
        ``host:port`` of the broker.
    timeout_s
        How long the connection was waited for.
    reason
        The last error seen, if any.
    """

    def __init__(self, address: str, *, timeout_s: float, reason: str | None = None) -> None:
        self.address = address
        self.reason = reason
        why = f" ({reason})" if reason else ""
        super().__init__(f"connection to the MQTT broker at {address}{why}", timeout_s=timeout_s)


class MalformedMessage(BusError):
    """A message on the bus that cannot be read as its topic's payload.

    Parameters
    ----------
    topic
        The topic it came on.
    reason
        What was wrong (the field and what was expected).
    """

    def __init__(self, topic: str, reason: str) -> None:
        self.topic = topic
        self.reason = reason
        super().__init__(f"malformed message on {topic}: {reason}")
