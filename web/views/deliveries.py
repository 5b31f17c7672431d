"""The deliveries page, its API, and the public tracking page of each parcel.

The tracking page, its status JSON and its map tile need no login and show one parcel only.
They are light and cache-friendly: the status JSON and the page carry an ``ETag`` (a request
with ``If-None-Match`` gets an empty 304 while nothing changed); a delivered parcel's answers
may be kept an hour, others are checked again on every request. Any unknown or malformed token
gets the same plain 404.
"""

from __future__ import annotations

import hashlib
import io
import json
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, render_template, request
from PIL import Image

from planner.errors import InputError
from web.errors import Conflict, NotFound
from web.i18n import translated_track
from web.notify.outbox import STATES
from web.services import services
from web.views._access import current_user, login_required, require

bp = Blueprint("deliveries", __name__)

#: Seconds a delivered parcel's status may be kept (it never changes again).
DELIVERED_MAX_AGE_S = 3600
#: Colours of the tracking page's map tile (a 256 px hillshade in 64 colours is about 3 kB
#: instead of 30 kB: seconds less on a slow mobile link).
MAP_COLOURS = 64
#: Most notifications one request lists.
NOTIFICATIONS_MAX = 500


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


def _cached(response: Response, delivered: bool) -> Response:
    """``response`` with an ETag, Cache-Control, and as a 304 when the client has it."""
    response.headers["Cache-Control"] = (f"private, max-age={DELIVERED_MAX_AGE_S}"
                                         if delivered else "private, no-cache")
    response.vary.add("Accept-Language")  # its words are in the reader's language
    response.set_etag(hashlib.sha256(response.get_data()).hexdigest()[:32])
    response.make_conditional(request)
    return response


def small_png(png: bytes, colours: int = MAP_COLOURS) -> bytes:
    """A PNG in at most ``colours`` colours (transparency kept), optimised."""
    with Image.open(io.BytesIO(png)) as image:
        reduced = image.convert("RGBA").quantize(colors=colours,
                                                 method=Image.Quantize.FASTOCTREE)
    out = io.BytesIO()
    reduced.save(out, "PNG", optimize=True)
    return out.getvalue()


def _not_found() -> Any:
    response = Response(render_template("track.html", status=None), status=404,
                        mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


def _utc_text(unix_s: float | None) -> str | None:
    """Unix seconds as ``HH:MM UTC`` (the page shows the reader's local time with script)."""
    if unix_s is None:
        return None
    return datetime.fromtimestamp(unix_s, UTC).strftime("%H:%M UTC, %d %b %Y")


@bp.route("/track/<token>")
def track_page(token: str) -> Any:
    """A parcel's public tracking page (no login; only this parcel)."""
    try:
        status = translated_track(services().deliveries.track(token))
    except NotFound:
        return _not_found()
    shown = {**status, "eta_text": _utc_text(status["eta_at"]),
             "delivered_text": _utc_text(status["delivered_at"])}
    response = Response(render_template("track.html", status=shown, token=token),
                        mimetype="text/html")
    return _cached(response, status["state"] == "delivered")


@bp.route("/api/track/<token>")
def track(token: str) -> Any:
    """A parcel's public status: state, ETA, delivery time, failure reason and next step,
    drop point and contact."""
    status = translated_track(services().deliveries.track(token))
    response = Response(json.dumps(status, ensure_ascii=False, separators=(",", ":"),
                                   sort_keys=True),
                        mimetype="application/json")
    return _cached(response, status["state"] == "delivered")


@bp.route("/track/<token>/map.png")
def track_map(token: str) -> Any:
    """The one map tile around a parcel's drop point (the console's own hillshade)."""
    svc = services()
    z, x, y = svc.deliveries.map_tile(token)
    response = Response(small_png(svc.tiles.tile(z, x, y)), mimetype="image/png")
    response.headers["Cache-Control"] = "private, max-age=86400"
    response.set_etag(hashlib.sha256(response.get_data()).hexdigest()[:32])
    return response.make_conditional(request)


@bp.route("/api/notifications")
@require("plan")
def notifications() -> Any:
    """The newest recipient notifications (``?state=pending|sent|dead``, ``?limit=`` up to
    500): event, channel, recipient, attempts and the last error."""
    notify = services().notify
    state = request.args.get("state") or None
    if state is not None and state not in STATES:
        raise InputError(f"Expected state in {', '.join(STATES)}, got {state[:40]!r}",
                         field="state")
    limit_text = request.args.get("limit", "100")
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= NOTIFICATIONS_MAX:
        raise InputError(f"Expected limit in 1..{NOTIFICATIONS_MAX}, got {limit_text[:20]!r}",
                         field="limit")
    if notify is None:
        return {"enabled": False, "channels": [], "notifications": []}
    return {"enabled": True, "channels": list(notify.channels),
            "notifications": notify.outbox.rows(state=state, limit=int(limit_text))}


@bp.route("/api/notifications/<int:notification_id>/retry", methods=["POST"])
@require("plan")
def retry_notification(notification_id: int) -> Any:
    """Queue a dead letter again (audited)."""
    svc = services()
    if svc.notify is None:
        raise Conflict("notifications are not set up (dropline serve --notify FILE)")
    user = current_user()
    assert user is not None
    found = svc.notify.outbox.retry(notification_id)
    svc.db.audit(username=user.username, action="notification retry",
                 target=f"{found['event_id']} ({found['channel']})", result="ok")
    return found
