"""The deliveries page, its API, and the public tracking page of each parcel."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request

from web.errors import NotFound
from web.services import services
from web.views._access import login_required

bp = Blueprint("deliveries", __name__)


@bp.route("/deliveries")
@login_required
def page() -> Any:
    """Every drop's state and ETA."""
    return render_template("deliveries.html")


@bp.route("/api/deliveries")
@login_required
def drops() -> Any:
    """Drops of the plan being flown, or of ``?plan_id=``."""
    plan_id = request.args.get("plan_id") or None
    return services().deliveries.drops(plan_id)


@bp.route("/track/<token>")
def track_page(token: str) -> Any:
    """A parcel's public tracking page (no login; only this parcel)."""
    try:
        status = services().deliveries.track(token)
    except NotFound:
        return render_template("track.html", status=None, token=token), 404
    return render_template("track.html", status=status, token=token)


@bp.route("/api/track/<token>")
def track(token: str) -> Any:
    """A parcel's public status: id, state and ETA."""
    return services().deliveries.track(token)
