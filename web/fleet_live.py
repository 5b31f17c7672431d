"""The crew view's live stream: the present state first, then deltas at the client's rate.

A client opening :func:`crew_stream` gets the fleet as it is now (a ``state`` event: vehicles,
alerts, drops, the run without its routes, the server's time), never a replayed backlog; then,
``rate_hz`` times a second, a ``tick`` event with the server's time and only the vehicle
fields that changed since the last one it was sent (rounded by :mod:`web.fleet_delta`). A tick
goes out at least every ``heartbeat_s`` even when nothing changed, so that a client tells a
quiet fleet from a stalled link; a ``trust`` event when the vehicles waiting to be accepted or
the link warnings change. Drops, alerts and acknowledgements published on the event
bus are passed on as they come; a new run (or a client too far behind the bus) gets a fresh
``state``. Every vehicle carries ``heard_at``, the server's Unix time of its last message, so
that the client shows its age whatever the delay of the network.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from web.events import EventBus
from web.fleet_delta import crew_vehicle, fleet_delta, stale_after_s
from web.fleet_json import heard_at_s, snapshot_json
from web.fleet_service import FleetService

#: Bus events the stream does not pass on: its ticks carry the vehicles and their status.
SAMPLED_KINDS = frozenset({"vehicle", "status"})


class CrewSource(Protocol):
    """What the crew stream reads of the fleet."""

    def vehicles(self) -> dict[str, dict[str, Any]]:
        """The crew figures of every vehicle heard, by system id as text."""

    def state(self) -> dict[str, Any]:
        """The fleet page's state without tracks and routes (vehicles in crew figures)."""

    def trust(self) -> dict[str, Any]:
        """Vehicles waiting to be accepted (``unconfirmed``) and warnings about the links
        (``link_flags``)."""


class LiveFleet:
    """The crew view of a :class:`~web.fleet_service.FleetService`.

    Parameters
    ----------
    fleet
        The console's fleet.
    wall
        The server's clock (Unix s).
    """

    def __init__(self, fleet: FleetService, wall: Callable[[], float] = time.time) -> None:
        self.fleet = fleet
        self.wall = wall

    def vehicles(self) -> dict[str, dict[str, Any]]:
        """The crew figures of every vehicle heard, by system id as text, with ``heard_at``
        and the current drop's ``eta_at`` (Unix s)."""
        statuses = self.fleet.statuses()
        now = self.wall()
        out = {}
        for snap in self.fleet.hub.snapshots():
            data = snapshot_json(snap)
            data.update(statuses.get(snap.sysid, {}))
            data["heard_at"] = heard_at_s(snap, now)
            eta = data.get("eta_in_s")
            data["eta_at"] = None if eta is None else now + float(eta)
            out[str(snap.sysid)] = crew_vehicle(data)
        return out

    def trust(self) -> dict[str, Any]:
        """Vehicles waiting to be accepted (``unconfirmed``) and warnings about the links
        (``link_flags``), as in the fleet page's state."""
        binding = self.fleet.binding
        return {"unconfirmed": [{"sysid": b.sysid, "link_url": b.link_url,
                                 "address": b.address} for b in binding.unconfirmed()],
                "link_flags": [{"sysid": f.sysid, "kind": f.kind, "message": f.message,
                                "count": f.count} for f in binding.flags()]}

    def state(self) -> dict[str, Any]:
        """Vehicles (crew figures), links, the run (without routes), drops, alerts and the
        vehicles waiting to be accepted, at the server time ``t``."""
        full = self.fleet.state()
        run = full["run"]
        return {"t": round(self.wall(), 1), "vehicles": self.vehicles(),
                "links": full["links"],
                "run": None if run is None else {k: v for k, v in run.items() if k != "routes"},
                "drops": full["drops"], "alerts": full["alerts"], **self.trust()}


def sse(kind: str, data: dict[str, Any]) -> str:
    """One Server-Sent Event without an id (the crew stream is never replayed)."""
    return f"event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def crew_stream(source: CrewSource, bus: EventBus, *, rate_hz: float,
                heartbeat_s: float = 2.0, max_s: float | None = None,
                wall: Callable[[], float] = time.time,
                clock: Callable[[], float] = time.monotonic) -> Iterator[str]:
    """SSE text of the crew view for one client (see the module's description).

    Parameters
    ----------
    source
        The fleet.
    bus
        Drops, alerts, acknowledgements and runs are passed on from here.
    rate_hz
        Ticks per second.
    heartbeat_s
        Longest time between two ticks.
    max_s
        The stream ends after this long (the client reconnects and gets the state again).
    """
    period_s = 1.0 / rate_hz
    stale_s = stale_after_s(rate_hz)

    def state() -> tuple[str, dict[str, dict[str, Any]], dict[str, Any]]:
        data = source.state()
        data.update(rate_hz=rate_hz, stale_s=stale_s)
        return sse("state", data), data["vehicles"], \
            {"unconfirmed": data["unconfirmed"], "link_flags": data["link_flags"]}

    yield "retry: 2000\n\n"
    last_id = bus.last_id
    text, sent, trust = state()
    yield text
    now = clock()
    end = None if max_s is None else now + max_s
    next_tick, last_out = now + period_s, now
    while not bus.closed and (end is None or clock() < end):
        bus.wait_after(last_id, next_tick - clock())
        events = bus.since(last_id)
        out: list[str] = []
        if events is None or any(e.kind in ("run", "reset") for e in events or ()):
            last_id = bus.last_id
            text, sent, trust = state()
            out.append(text)
        else:
            out.extend(sse(e.kind, e.data) for e in events if e.kind not in SAMPLED_KINDS)
            if events:
                last_id = events[-1].id
        now = clock()
        if now >= next_tick:
            next_tick = next_tick + period_s if next_tick + period_s > now else now + period_s
            current = source.vehicles()
            change = fleet_delta(sent, current)
            sent = current
            if change or now - last_out >= heartbeat_s:
                out.append(sse("tick", {"t": round(wall(), 1), "v": change}))
            current_trust = source.trust()
            if current_trust != trust:
                trust = current_trust
                out.append(sse("trust", trust))
        if out:
            last_out = now
            yield "".join(out)
