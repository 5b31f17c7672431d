"""The messages of the bus as frozen dataclasses, each with its JSON payload both ways.

``to_payload()`` gives the bytes to publish; ``from_payload(topic, payload)`` reads them back
and raises :class:`gcs.bus.errors.MalformedMessage` (naming the field and what was expected) on
anything else: receivers log and drop such a message. Times are Unix seconds of the sender's
clock; field names carry their units.

Examples
--------
>>> c = CommandMessage(id="c1", verb="rtl", console="console-a", user="ops", sent_at_s=1.0)
>>> CommandMessage.from_payload("t", c.to_payload()) == c
True
>>> try:
...     CommandMessage.from_payload("t", b'{"id": "c1", "verb": "fly away"}')
... except MalformedMessage as exc:
...     print(exc.reason)
field 'verb': expected one of pause, resume, rtl, land, accept, got 'fly away'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gcs.bus._fields import Reader, dump, load_object
from gcs.bus.errors import MalformedMessage
from gcs.bus.topics import ID_PATTERN

#: Vehicle commands a console may send, and the flight mode each switches to.
VERB_MODES = {"pause": "LOITER", "resume": "AUTO", "rtl": "RTL", "land": "LAND"}
#: Command verbs: the mode commands, and ``accept`` (an operator accepts a vehicle waiting on
#: a worker's listening link).
VERBS = (*VERB_MODES, "accept")
SEVERITIES = ("info", "warning", "critical")
#: The largest run request (its plan.json included), in bytes.
MAX_RUN_REQUEST_BYTES = 1_048_576
#: What a worker reports of a run (:class:`RunProgress`).
RUN_STATES = ("joined", "gained", "ready", "lost", "ended", "left", "refused", "verified",
              "not_verified")
#: Fields of a vehicle's state (:class:`StateMessage`): their JSON kind and the decimals they
#: are rounded to (None: not a number, or sent as is). Positions WGS84 degrees, ``alt_amsl_m``
#: above mean sea level, ``alt_rel_m`` above home, ``alt_agl_m`` above the worker's DEM,
#: ``terrain_*`` from the vehicle's TERRAIN_REPORT, ``hb_age_s`` the heartbeat's age when sent
#: (whole seconds, rounded down), ``speedup`` vehicle seconds per wall second.
STATE_FIELDS: dict[str, tuple[str, int | None]] = {
    "link_url": ("text", None), "lat_deg": ("float", 6), "lon_deg": ("float", 6),
    "alt_amsl_m": ("float", 1), "alt_rel_m": ("float", 1), "alt_agl_m": ("float", 1),
    "groundspeed_m_s": ("float", 1), "climb_m_s": ("float", 1), "heading_deg": ("float", 0),
    "battery_pct": ("int", None), "battery_consumed_mah": ("float", 0),
    "battery_voltage_v": ("float", 2), "mode": ("text", None), "armed": ("bool", None),
    "system_status": ("int", None), "mission_seq": ("int", None),
    "mission_total": ("int", None), "last_reached_seq": ("int", None),
    "gps_fix_type": ("int", None), "satellites": ("int", None), "ekf_ok": ("bool", None),
    "home_lat_deg": ("float", 6), "home_lon_deg": ("float", 6),
    "home_alt_amsl_m": ("float", 1), "fence_breached": ("bool", None),
    "last_text": ("text", None), "hb_age_s": ("int", None), "loss_rate": ("float", 2),
    "terrain_amsl_m": ("float", 1), "terrain_agl_m": ("float", 1),
    "terrain_pending": ("int", None), "terrain_loaded": ("int", None),
    "speedup": ("float", 2),
}


def _check_state_fields(topic: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in fields.items():
        spec = STATE_FIELDS.get(name)
        if spec is None:
            raise MalformedMessage(topic, f"unknown state field {name!r}")
        if value is None:
            out[name] = None
            continue
        kind = spec[0]
        reader = Reader(topic, {name: value})
        if kind == "float":
            out[name] = reader.number(name)
        elif kind == "int":
            out[name] = reader.integer(name, low=-(2**31), high=2**31)
        elif kind == "bool":
            out[name] = reader.flag(name)
        else:
            out[name] = reader.text(name, max_len=300)
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class StateMessage:
    """A vehicle's state from the worker that owns it.

    A full snapshot (``full``, published retained) carries every field; the messages after it
    (not retained) carry the fields that changed since that snapshot (``base_seq`` is its
    ``seq``), so that the last full snapshot and any later message give the whole state.
    ``fields`` follow :data:`STATE_FIELDS` (None: not reported).
    """

    worker: str
    seq: int
    sent_at_s: float
    full: bool
    base_seq: int
    fields: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.seq < 0 or self.base_seq > self.seq or (self.full and self.base_seq != self.seq):
            raise ValueError(f"Expected 0 <= base_seq <= seq (equal when full), got seq "
                             f"{self.seq}, base_seq {self.base_seq}")

    def to_payload(self) -> bytes:
        """The JSON payload."""
        return dump({"worker": self.worker, "seq": self.seq, "at": self.sent_at_s,
                     "full": self.full, "base": self.base_seq, "f": dict(self.fields)})

    @classmethod
    def from_payload(cls, topic: str, payload: bytes) -> StateMessage:
        """Read a payload (raises :class:`MalformedMessage`)."""
        r = Reader(topic, load_object(topic, payload))
        fields = r.data.get("f")
        if not isinstance(fields, dict):
            raise r.fail("f", "an object of state fields")
        full = r.flag("full")
        seq = r.integer("seq")
        base = r.integer("base", high=seq)
        if full and base != seq:
            raise r.fail("base", f"the message's own seq {seq} in a full snapshot")
        return cls(worker=r.text("worker", max_len=64), seq=seq, sent_at_s=r.number("at"),
                   full=full, base_seq=base, fields=_check_state_fields(topic, fields))


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandMessage:
    """A vehicle command from a console: ``id`` (unique, the ack names it), ``verb`` (one of
    :data:`VERBS`), who sent it (``console`` id and ``user`` name) and when."""

    id: str
    verb: str
    console: str
    user: str
    sent_at_s: float

    def __post_init__(self) -> None:
        if self.verb not in VERBS:
            raise ValueError(f"Expected a verb among {', '.join(VERBS)}, got {self.verb!r}")

    def to_payload(self) -> bytes:
        """The JSON payload."""
        return dump({"id": self.id, "verb": self.verb, "console": self.console,
                     "user": self.user, "at": self.sent_at_s})

    @classmethod
    def from_payload(cls, topic: str, payload: bytes) -> CommandMessage:
        """Read a payload (raises :class:`MalformedMessage`)."""
        r = Reader(topic, load_object(topic, payload))
        return cls(id=r.text("id", max_len=64), verb=r.choice("verb", VERBS),
                   console=r.text("console", max_len=64), user=r.text("user", max_len=64),
                   sent_at_s=r.number("at"))


@dataclass(frozen=True, slots=True, kw_only=True)
class AckMessage:
    """A worker's answer to a command: whether the vehicle did it, what it said, and which
    worker executed it."""

    command_id: str
    ok: bool
    detail: str
    worker: str
    at_s: float

    def to_payload(self) -> bytes:
        """The JSON payload."""
        return dump({"command_id": self.command_id, "ok": self.ok, "detail": self.detail,
                     "worker": self.worker, "at": self.at_s})

    @classmethod
    def from_payload(cls, topic: str, payload: bytes) -> AckMessage:
        """Read a payload (raises :class:`MalformedMessage`)."""
        r = Reader(topic, load_object(topic, payload))
        return cls(command_id=r.text("command_id", max_len=64), ok=r.flag("ok"),
                   detail=r.text("detail", max_len=1000), worker=r.text("worker", max_len=64),
                   at_s=r.number("at"))


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertMessage:
    """An alert about a vehicle from its worker: ``id`` unique for the worker, ``kind`` (the
    failsafe kinds of :mod:`gcs.fleet.advice`), ``severity`` (one of :data:`SEVERITIES`), what
    happened and what the ground station did (``action``, None: nothing)."""

    id: str
    worker: str
    at_s: float
    kind: str
    severity: str
    message: str
    action: str | None = None
    sortie_id: str | None = None

    def to_payload(self) -> bytes:
        """The JSON payload."""
        return dump({"id": self.id, "worker": self.worker, "at": self.at_s, "kind": self.kind,
                     "severity": self.severity, "message": self.message,
                     "action": self.action, "sortie_id": self.sortie_id})

    @classmethod
    def from_payload(cls, topic: str, payload: bytes) -> AlertMessage:
        """Read a payload (raises :class:`MalformedMessage`)."""
        r = Reader(topic, load_object(topic, payload))
        return cls(id=r.text("id", max_len=100), worker=r.text("worker", max_len=64),
                   at_s=r.number("at"), kind=r.text("kind", max_len=64),
                   severity=r.choice("severity", SEVERITIES),
                   message=r.text("message", max_len=1000),
                   action=r.text("action", max_len=64, optional=True),
                   sortie_id=r.text("sortie_id", max_len=64, optional=True))


@dataclass(frozen=True, slots=True, kw_only=True)
class DropMessage:
    """A delivery event of a vehicle's sortie: the drop, its new state, and when."""

    worker: str
    at_s: float
    drop_id: str
    state: str
    sortie_id: str | None = None

    def to_payload(self) -> bytes:
        """The JSON payload."""
        return dump({"worker": self.worker, "at": self.at_s, "drop_id": self.drop_id,
                     "state": self.state, "sortie_id": self.sortie_id})

    @classmethod
    def from_payload(cls, topic: str, payload: bytes) -> DropMessage:
        """Read a payload (raises :class:`MalformedMessage`)."""
        r = Reader(topic, load_object(topic, payload))
        return cls(worker=r.text("worker", max_len=64), at_s=r.number("at"),
                   drop_id=r.text("drop_id", max_len=64), state=r.text("state", max_len=32),
                   sortie_id=r.text("sortie_id", max_len=64, optional=True))


@dataclass(frozen=True, slots=True, kw_only=True)
class Presence:
    """A worker's presence: ``online`` with the vehicles it owns and those first heard on one
    of its listening links that wait for an operator to accept them (``unconfirmed``), or
    ``offline`` (its last will, published by the broker when the worker vanishes, carries no
    time)."""

    worker: str
    state: str
    at_s: float | None = None
    vehicles: tuple[int, ...] = ()
    unconfirmed: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.state not in ("online", "offline"):
            raise ValueError(f"Expected state online or offline, got {self.state!r}")

    def to_payload(self) -> bytes:
        """The JSON payload."""
        return dump({"worker": self.worker, "state": self.state, "at": self.at_s,
                     "vehicles": list(self.vehicles), "unconfirmed": list(self.unconfirmed)})

    @classmethod
    def from_payload(cls, topic: str, payload: bytes) -> Presence:
        """Read a payload (raises :class:`MalformedMessage`)."""
        r = Reader(topic, load_object(topic, payload))
        lists = {}
        for name in ("vehicles", "unconfirmed"):
            found = r.data.get(name, [])
            if not isinstance(found, list) or not all(
                    isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 255
                    for v in found):
                raise r.fail(name, "a list of system ids 1..255")
            lists[name] = tuple(found)
        return cls(worker=r.text("worker", max_len=64),
                   state=r.choice("state", ("online", "offline")),
                   at_s=r.number("at", optional=True), vehicles=lists["vehicles"],
                   unconfirmed=lists["unconfirmed"])


@dataclass(frozen=True, slots=True, kw_only=True)
class RunRequest:
    """A console's request to the workers of a hub to fly a verified plan version.

    ``id`` names the request (its topic's ``<run>``); ``plan_id`` is the console's plan version
    id, ``plan_key`` the plan's content key (:func:`gcs.fleet.manager.plan_key`; the workers'
    shared run is the plan key's unfinished run), ``plan_json`` the whole ``plan.json`` text
    (:func:`planner.io.planfile.plan_to_json`), ``vehicles`` the MAVLink system id flying each
    plan vehicle, ``plan_path`` where the console keeps the plan (recorded in the run, read by
    no worker), ``reset_battery`` as :class:`gcs.fleet.options.FlyOptions`. With ``upload``
    the request flies nothing: each worker uploads and verifies the first sortie still to fly
    of each requested vehicle it owns and answers ``verified`` or ``not_verified`` for it
    (the console's Upload); without it, the run is flown. ``delivered_before`` are the parcels
    earlier versions of the plan delivered (drop id -> where, ``"run 3"``) and
    ``resend_delivered`` whether delivered parcels are flown again, as
    :class:`gcs.fleet.FleetManager` takes them. At most
    :data:`MAX_RUN_REQUEST_BYTES` long.
    """

    id: str
    plan_id: str
    plan_key: str
    plan_json: str
    vehicles: Mapping[str, int]
    console: str
    user: str
    sent_at_s: float
    plan_path: str | None = None
    reset_battery: bool | None = None
    upload: bool = False
    delivered_before: Mapping[str, str] = field(default_factory=dict)
    resend_delivered: bool = False

    def __post_init__(self) -> None:
        if not ID_PATTERN.fullmatch(self.id):
            raise ValueError(f"Expected a request id of 1 to 64 letters, digits, '-', '_' or "
                             f"'.', got {self.id!r}")
        if not self.vehicles or not all(1 <= s <= 255 for s in self.vehicles.values()):
            raise ValueError(f"Expected plan vehicles with system ids 1..255, got "
                             f"{dict(self.vehicles)!r}")

    def to_payload(self) -> bytes:
        """The JSON payload."""
        return dump({"id": self.id, "plan_id": self.plan_id, "plan_key": self.plan_key,
                     "plan": self.plan_json, "vehicles": dict(self.vehicles),
                     "console": self.console, "user": self.user, "at": self.sent_at_s,
                     "plan_path": self.plan_path, "reset_battery": self.reset_battery,
                     "upload": self.upload, "delivered_before": dict(self.delivered_before),
                     "resend_delivered": self.resend_delivered})

    @classmethod
    def from_payload(cls, topic: str, payload: bytes) -> RunRequest:
        """Read a payload (raises :class:`MalformedMessage`)."""
        r = Reader(topic, load_object(topic, payload, MAX_RUN_REQUEST_BYTES))
        vehicles = r.data.get("vehicles")
        if not isinstance(vehicles, dict) or not vehicles or not all(
                isinstance(k, str) and 0 < len(k) <= 64 and isinstance(v, int)
                and not isinstance(v, bool) and 1 <= v <= 255 for k, v in vehicles.items()):
            raise r.fail("vehicles", "an object of plan vehicle names to system ids 1..255")
        reset = r.data.get("reset_battery")
        if reset is not None and not isinstance(reset, bool):
            raise r.fail("reset_battery", "true, false or null")
        flags = {}
        for name in ("upload", "resend_delivered"):
            flags[name] = r.data.get(name, False)
            if not isinstance(flags[name], bool):
                raise r.fail(name, "true or false")
        before = r.data.get("delivered_before", {})
        if not isinstance(before, dict) or not all(
                isinstance(k, str) and 0 < len(k) <= 64 and isinstance(v, str) and len(v) <= 200
                for k, v in before.items()):
            raise r.fail("delivered_before", "an object of drop ids to where they were "
                                             "delivered")
        run_id = r.text("id", max_len=64)
        if not ID_PATTERN.fullmatch(run_id):
            raise r.fail("id", "letters, digits, '-', '_' or '.'")
        return cls(id=run_id, plan_id=r.text("plan_id", max_len=200),
                   plan_key=r.text("plan_key", max_len=200),
                   plan_json=r.text("plan", max_len=MAX_RUN_REQUEST_BYTES), vehicles=vehicles,
                   console=r.text("console", max_len=64), user=r.text("user", max_len=64),
                   sent_at_s=r.number("at"),
                   plan_path=r.text("plan_path", max_len=1000, optional=True),
                   reset_battery=reset, upload=flags["upload"], delivered_before=before,
                   resend_delivered=flags["resend_delivered"])


@dataclass(frozen=True, slots=True, kw_only=True)
class RunProgress:
    """What a worker reports of a run it serves: ``state`` (one of :data:`RUN_STATES`:
    ``joined`` the run, ``gained``/``ready``/``lost`` a vehicle, the run ``ended``, the worker
    ``left`` it, or ``refused`` the request, ``detail`` saying why; for an upload request, a
    vehicle's sortie ``verified`` on it or ``not_verified``, ``detail`` saying what was
    uploaded or why not), the flight log's
    ``run_id`` (None before it is opened) and the vehicle concerned."""

    worker: str
    at_s: float
    state: str
    run_id: int | None = None
    sysid: int | None = None
    detail: str | None = None

    def __post_init__(self) -> None:
        if self.state not in RUN_STATES:
            raise ValueError(f"Expected a state among {', '.join(RUN_STATES)}, got "
                             f"{self.state!r}")

    def to_payload(self) -> bytes:
        """The JSON payload."""
        return dump({"worker": self.worker, "at": self.at_s, "state": self.state,
                     "run_id": self.run_id, "sysid": self.sysid, "detail": self.detail})

    @classmethod
    def from_payload(cls, topic: str, payload: bytes) -> RunProgress:
        """Read a payload (raises :class:`MalformedMessage`)."""
        r = Reader(topic, load_object(topic, payload))
        run_id = r.integer("run_id", low=1) if r.data.get("run_id") is not None else None
        sysid = r.integer("sysid", low=1, high=255) if r.data.get("sysid") is not None \
            else None
        return cls(worker=r.text("worker", max_len=64), at_s=r.number("at"),
                   state=r.choice("state", RUN_STATES), run_id=run_id, sysid=sysid,
                   detail=r.text("detail", max_len=1000, optional=True))
