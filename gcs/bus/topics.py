"""Topic names of the bus (see :mod:`gcs.bus` for the table).

Every topic starts with :data:`PREFIX` and names its hub; vehicle topics name the vehicle's
MAVLink system id, presence topics the worker, run topics the run request's id.

Examples
--------
>>> state_topic("north", 3)
'dropline/v1/hub/north/vehicle/3/state'
>>> parse_topic("dropline/v1/hub/north/vehicle/3/command")
TopicParts(hub='north', kind='command', sysid=3, worker=None, run=None)
>>> parse_topic("dropline/v1/hub/north/worker/w1/presence")
TopicParts(hub='north', kind='presence', sysid=None, worker='w1', run=None)
>>> parse_topic(run_topic("north", "r1", "request"))
TopicParts(hub='north', kind='run_request', sysid=None, worker=None, run='r1')
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gcs.bus.errors import MalformedMessage

PREFIX = "dropline/v1/hub"
#: What a vehicle topic carries, by its last level.
VEHICLE_KINDS = ("state", "alert", "drop", "command", "ack")
#: What a run topic carries, by its last level (``request``: console to workers; ``progress``:
#: workers to consoles).
RUN_KINDS = ("request", "progress")
#: Hub and worker ids: letters, digits, ``-``, ``_`` and ``.`` (no MQTT wildcard or level).
ID_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def check_id(value: str, what: str) -> str:
    """``value`` when it is a valid hub or worker id, else ValueError naming ``what``.

    Examples
    --------
    >>> check_id("hub-1", "hub")
    'hub-1'
    >>> check_id("a/b", "hub")
    Traceback (most recent call last):
    ...
    ValueError: Expected a hub id of 1 to 64 letters, digits, '-', '_' or '.', got 'a/b'
    """
    if not ID_PATTERN.fullmatch(value):
        raise ValueError(f"Expected a {what} id of 1 to 64 letters, digits, '-', '_' or '.', "
                         f"got {value!r}")
    return value


def vehicle_topic(hub: str, sysid: int | str, kind: str) -> str:
    """The topic of ``kind`` (one of :data:`VEHICLE_KINDS`) of vehicle ``sysid`` of ``hub``
    (``sysid`` and ``hub`` may be the wildcard ``+``)."""
    return f"{PREFIX}/{hub}/vehicle/{sysid}/{kind}"


def state_topic(hub: str, sysid: int | str) -> str:
    """The vehicle's state topic."""
    return vehicle_topic(hub, sysid, "state")


def command_topic(hub: str, sysid: int | str) -> str:
    """The vehicle's command topic (consoles to the worker)."""
    return vehicle_topic(hub, sysid, "command")


def ack_topic(hub: str, sysid: int | str) -> str:
    """The vehicle's command acknowledgement topic (the worker to consoles)."""
    return vehicle_topic(hub, sysid, "ack")


def presence_topic(hub: str, worker: str) -> str:
    """The retained presence topic of ``worker`` of ``hub`` (either may be ``+``)."""
    return f"{PREFIX}/{hub}/worker/{worker}/presence"


def run_topic(hub: str, run: str, kind: str) -> str:
    """The topic of ``kind`` (one of :data:`RUN_KINDS`) of run request ``run`` of ``hub``
    (``run`` and ``hub`` may be the wildcard ``+``)."""
    return f"{PREFIX}/{hub}/run/{run}/{kind}"


@dataclass(frozen=True, slots=True)
class TopicParts:
    """What a topic names: its hub, its kind (a vehicle kind, ``presence``, ``run_request``
    or ``run_progress``), and the vehicle, the worker or the run request."""

    hub: str
    kind: str
    sysid: int | None
    worker: str | None
    run: str | None = None


def parse_topic(topic: str) -> TopicParts:
    """The parts of a bus topic.

    Raises
    ------
    MalformedMessage
        The topic is not one of the bus's.
    """
    parts = topic.split("/")
    if len(parts) != 7 or "/".join(parts[:3]) != PREFIX or not ID_PATTERN.fullmatch(parts[3]):
        raise MalformedMessage(topic, "not a dropline/v1 hub topic")
    if parts[4] == "vehicle" and parts[6] in VEHICLE_KINDS:
        if not parts[5].isdigit() or not 1 <= int(parts[5]) <= 255:
            raise MalformedMessage(topic, f"expected a system id 1..255, got {parts[5]!r}")
        return TopicParts(hub=parts[3], kind=parts[6], sysid=int(parts[5]), worker=None)
    if parts[4] == "worker" and parts[6] == "presence" and ID_PATTERN.fullmatch(parts[5]):
        return TopicParts(hub=parts[3], kind="presence", sysid=None, worker=parts[5])
    if parts[4] == "run" and parts[6] in RUN_KINDS and ID_PATTERN.fullmatch(parts[5]):
        return TopicParts(hub=parts[3], kind=f"run_{parts[6]}", sysid=None, worker=None,
                          run=parts[5])
    raise MalformedMessage(topic, "not a vehicle, worker or run topic")
