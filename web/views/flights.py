"""The flights page: recorded flights and their replay against the plan."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

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


@bp.route("/api/flights/<int:flight_id>/replay")
@require("replay")
def replay(flight_id: int) -> Any:
    """A flight's flown samples, planned route and plan against flown figures."""
    return services().flights.replay(flight_id)
