"""What a notification says: the event of one parcel, as JSON for a webhook and as text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

#: The events a recipient is told about.
KINDS = ("out_for_delivery", "eta_changed", "delivered", "failed")
#: Subject line of each event's e-mail.
SUBJECTS = {"out_for_delivery": "Your parcel {parcel} is on its way",
            "eta_changed": "New delivery time for your parcel {parcel}",
            "delivered": "Your parcel {parcel} was delivered",
            "failed": "Your parcel {parcel} could not be delivered"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Notice:
    """One event of one parcel, for its recipient."""

    event_id: str
    kind: str
    lineage_id: str
    parcel: str
    phone: str | None
    email: str | None
    hub: str
    eta_at: float | None = None
    previous_eta_at: float | None = None
    delivered_at: float | None = None
    reason: str | None = None
    next_step: str | None = None
    tracking_url: str | None = None
    at: float

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Expected kind in {KINDS}, got {self.kind!r}")


def clock_text(unix_s: float | None, timezone: str) -> str:
    """Unix seconds as ``HH:MM`` in ``timezone`` (``--:--`` when unknown).

    Examples
    --------
    >>> clock_text(0.0, "Asia/Shanghai")
    '08:00'
    """
    if unix_s is None:
        return "--:--"
    return datetime.fromtimestamp(unix_s, ZoneInfo(timezone)).strftime("%H:%M")


def text_of(notice: Notice, timezone: str) -> str:
    """The message a recipient reads (an SMS or an e-mail body)."""
    n = notice
    track = f" Track it: {n.tracking_url}" if n.tracking_url else ""
    if n.kind == "out_for_delivery":
        when = f" Expected around {clock_text(n.eta_at, timezone)}." if n.eta_at else ""
        return f"Your parcel {n.parcel} is on its way by drone from {n.hub}.{when}{track}"
    if n.kind == "eta_changed":
        return (f"Your parcel {n.parcel} is now expected around "
                f"{clock_text(n.eta_at, timezone)} (was {clock_text(n.previous_eta_at, timezone)})."
                f"{track}")
    if n.kind == "delivered":
        return f"Your parcel {n.parcel} was delivered at {clock_text(n.delivered_at, timezone)}."
    return f"Your parcel {n.parcel} could not be delivered. {n.reason} {n.next_step}{track}"


def subject_of(notice: Notice) -> str:
    """The e-mail subject of a notice."""
    return SUBJECTS[notice.kind].format(parcel=notice.parcel)


def payload_of(notice: Notice, timezone: str) -> dict[str, Any]:
    """The JSON a webhook receives (and what the outbox keeps)."""
    n = notice
    return {"id": n.event_id, "event": n.kind, "plan_id": n.lineage_id, "parcel": n.parcel,
            "recipient": {"phone": n.phone, "email": n.email}, "hub": n.hub,
            "eta_at": n.eta_at, "previous_eta_at": n.previous_eta_at,
            "delivered_at": n.delivered_at, "reason": n.reason, "next_step": n.next_step,
            "tracking_url": n.tracking_url, "at": n.at, "text": text_of(n, timezone),
            "subject": subject_of(n)}
