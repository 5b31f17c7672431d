"""The flights page: recorded flights and their replay against the plan."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from flask import Blueprint, render_template, request

from planner.errors import InputError
from web.services import services
from web.views._access import login_required, require

bp = Blueprint("flights", __name__)


@bp.route("/flights")
@login_required
def page() -> Any:
    """Recorded flights and the replay panel."""
    return render_template("flights.html")


@bp.route("/api/flights")
@login_required
def flights() -> Any:
    """Every recorded flight, newest first."""
    return {"flights": services().flights.all()}


@bp.route("/api/flights/cost")
@login_required
def day_cost() -> Any:
    """What flying cost on one day (``?day=YYYY-MM-DD``, UTC; default today): each run's
    flights priced as flown, and the day's totals (cost per parcel, drone-km and kg)."""
    text = request.args.get("day") or datetime.now(UTC).date().isoformat()
    try:
        day = date.fromisoformat(text[:10]) if len(text) == 10 else None
    except ValueError:
        day = None
    if day is None:
        raise InputError(f"Expected a day as YYYY-MM-DD, got {text[:20]!r}", field="day")
    return services().flights.day_cost(day)


@bp.route("/api/flights/<int:flight_id>/replay")
@require("replay")
def replay(flight_id: int) -> Any:
    """A flight's flown samples, planned route and plan against flown figures."""
    return services().flights.replay(flight_id)
