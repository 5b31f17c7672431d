"""The fleet page and its API: live state, Server-Sent Events, commands, alert acknowledgement.

The page arrives with the fleet's present state inlined (cards and alerts show before the map
library loads); the crew view's light stream (``/api/fleet/live``: the state, then deltas at a
rate the client picks, compressed when the client accepts it) keeps it current, and a service
worker (``/sw.js``) keeps the page and its last state through a short outage.

Every command (upload, start, pause, resume, RTL, land) is written to the audit log with who
sent it, to which vehicle, and what came back; a command refused for the user's role is logged
as ``forbidden`` and never reaches a vehicle.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    render_template,
    request,
    send_from_directory,
)

from planner.errors import InputError
from web.accounts import User
from web.errors import Conflict, Forbidden, Unauthorized, status_of
from web.events import CompressedStream, pick_coding
from web.fleet_broker import BrokerFleet
from web.fleet_delta import RATE_DEFAULT_HZ, RATE_MAX_HZ, RATE_MIN_HZ
from web.fleet_live import LiveFleet, crew_stream
from web.fleet_run import VehicleResult
from web.fleet_service import MODE_COMMANDS
from web.services import services
from web.views._access import current_session, current_user, login_required, refusal, require
from web.views._util import field, json_body

bp = Blueprint("fleet", __name__)


def commander(action: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Views that command vehicles: 401 without a login, 403 (audited) without the role."""
    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None:
                raise Unauthorized("log in first")
            if not user.may("command"):
                target = kwargs.get("verb") or action
                services().db.audit(username=user.username, action=str(target),
                                    target=request.path, result="forbidden",
                                    detail=f"role {user.role}")
                raise Forbidden(refusal(user, "command"))
            return view(user, *args, **kwargs)
        return wrapped
    return decorate


def _answer(user: User, action: str, results: list[VehicleResult]) -> Any:
    """Audit each vehicle's result; 200 when all succeeded, else the first error's status."""
    db = services().db
    for r in results:
        who = f"vehicle {r.sysid}" + (f" ({r.name})" if r.name else "")
        db.audit(username=user.username, action=action, target=who,
                 result="ok" if r.ok else "failed", detail=r.detail)
    body = {"action": action, "results": [{"sysid": r.sysid, "name": r.name, "ok": r.ok,
                                           "detail": r.detail} for r in results]}
    failed = next((r for r in results if not r.ok), None)
    if failed is not None:
        body["error"] = failed.detail
    response = jsonify(body)
    if failed is not None:
        response.status_code = 409 if failed.error is None else status_of(failed.error)
    return response


@bp.route("/fleet")
@login_required
def page() -> Any:
    """The live fleet page (with the simulator panel when a simulator is attached)."""
    user = current_user()
    shown = services().simulator is not None and user is not None and user.may("sim_view")
    state = LiveFleet(services().fleet).state()
    state.update(rate_hz=RATE_DEFAULT_HZ)
    response = Response(render_template("fleet.html", simulator=shown, state=state))
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.route("/sw.js")
def service_worker() -> Any:
    """The service worker that keeps the fleet page (and its last state) through an outage;
    served from the root so that it may look after the console's pages."""
    response = send_from_directory(current_app.static_folder or "static", "sw.js",
                                   mimetype="text/javascript", max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.route("/api/fleet")
@login_required
def state() -> Any:
    """Vehicles, tracks, the run in progress, drops and alerts."""
    return services().fleet.state()


@bp.route("/api/events")
@login_required
def events() -> Response:
    """Server-Sent Events from the event after ``Last-Event-ID`` (header or query)."""
    raw = request.headers.get("Last-Event-ID") or request.args.get("last_event_id") or ""
    try:
        last_id = max(0, int(raw)) if raw else services().events.last_id
    except ValueError:
        last_id = services().events.last_id
    user = current_user()
    stream = services().events.open_stream(
        session=current_session() or "", user=str(user.id if user else ""), last_id=last_id,
        max_s=float(current_app.config["SSE_MAX_S"]))
    response = Response(stream, mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"
    return response


def _rate_hz(raw: str | None) -> float:
    """The ``rate_hz`` query parameter: ticks per second, within the allowed bounds."""
    if raw is None or raw == "":
        return RATE_DEFAULT_HZ
    try:
        rate = float(raw)
    except ValueError:
        rate = float("nan")
    if not RATE_MIN_HZ <= rate <= RATE_MAX_HZ:
        raise InputError(f"Expected rate_hz between {RATE_MIN_HZ:g} and {RATE_MAX_HZ:g}, "
                         f"got {raw!r}", field="rate_hz")
    return rate


@bp.route("/api/fleet/live")
@login_required
def live() -> Response:
    """The crew view's stream (Server-Sent Events): the present state, then ``rate_hz``
    times a second the vehicle fields that changed; gzip or deflate when accepted."""
    rate_hz = _rate_hz(request.args.get("rate_hz"))
    svc = services()
    user = current_user()
    max_s = float(current_app.config["SSE_MAX_S"])
    stream = svc.events.open_counted(
        session=current_session() or "", user=str(user.id if user else ""),
        make=lambda: crew_stream(LiveFleet(svc.fleet), svc.events, rate_hz=rate_hz,
                                 max_s=max_s))
    coding = pick_coding(request.headers.get("Accept-Encoding", ""))
    response = Response(stream if coding is None else CompressedStream(stream, coding),
                        mimetype="text/event-stream")
    if coding is not None:
        response.headers["Content-Encoding"] = coding
    response.headers["Vary"] = "Accept-Encoding"
    response.headers["Cache-Control"] = "no-cache, no-transform"
    response.headers["X-Accel-Buffering"] = "no"
    return response


@bp.route("/api/fleet/upload", methods=["POST"])
@commander("upload")
def upload(user: User) -> Any:
    """Upload and verify a planned plan's first sorties on the vehicles (``{"plan_id"}``).

    Parcels a run of the plan delivered are not flown again (their sorties are skipped, a plan
    whose every parcel was delivered is refused with 409) unless ``"resend_delivered": true``,
    which is audited as ``upload (re-send delivered)``.
    """
    body = json_body()
    plan_id = field(body, "plan_id", str)
    resend = bool(field(body, "resend_delivered", bool)) if "resend_delivered" in body \
        else False
    svc = services()
    plan = svc.plans.plan(plan_id)
    scenario, dem = svc.plans.scenario(plan_id)
    action = "upload (re-send delivered)" if resend else "upload"
    try:
        results = svc.fleet.upload(plan_id, plan, scenario, dem,
                                   svc.plans.plan_json_path(plan_id), resend_delivered=resend,
                                   delivered_before=svc.deliveries.delivered_before(plan_id))
    except Conflict as exc:
        svc.db.audit(username=user.username, action=action, target=f"plan {plan_id}",
                     result="refused", detail=str(exc))
        raise
    svc.deliveries.issue_tokens(plan_id)
    run = svc.fleet.live_run()
    skipped = {} if run is None else run.skipped
    if skipped:
        svc.db.audit(username=user.username, action=action, target=f"plan {plan_id}",
                     result="skipped", detail="; ".join(skipped.values()))
    response = _answer(user, action, results)
    body_out = response.get_json()
    body_out["skipped"] = skipped
    response.set_data(json.dumps(body_out))
    return response


@bp.route("/api/fleet/start", methods=["POST"])
@commander("start")
def start(user: User) -> Any:
    """Fly the uploaded plan: every vehicle's sortie queue (in broker mode: the run request
    sent to the workers of the plan's hub)."""
    fleet = services().fleet
    if isinstance(fleet, BrokerFleet):
        sent = fleet.start_broker_run()
        return _answer(user, "start", [
            VehicleResult(sysid=s, name=n, ok=True,
                          detail=f"plan {sent.plan_id} sent to the workers of hub {sent.hub}")
            for n, s in sent.manager.assignment.items()])
    run = fleet.start_run()
    results = [VehicleResult(sysid=s, name=n, ok=True, detail=f"plan {run.plan_id} started")
               for n, s in run.manager.assignment.items()]
    return _answer(user, "start", results)


@bp.route("/api/fleet/vehicles/<int:sysid>/<verb>", methods=["POST"])
@commander("command")
def command(user: User, sysid: int, verb: str) -> Any:
    """Pause (LOITER), resume (AUTO), RTL or land one vehicle; ``accept`` a vehicle waiting to
    be confirmed (first heard on a listening link)."""
    if verb == "accept":
        return _answer(user, verb, [services().fleet.accept(sysid)])
    return _answer(user, verb, [services().fleet.command(verb, sysid)])


@bp.route("/api/fleet/all/<verb>", methods=["POST"])
@commander("command")
def command_all(user: User, verb: str) -> Any:
    """The same command to every vehicle heard."""
    fleet = services().fleet
    if verb not in MODE_COMMANDS:
        raise InputError(f"Expected one of {', '.join(MODE_COMMANDS)}, got {verb!r}",
                         field="command")
    return _answer(user, verb, [fleet.command(verb, s) for s in fleet.vehicle_ids()])


@bp.route("/api/alerts/<int:alert_id>/ack", methods=["POST"])
@require("ack")
def ack(alert_id: int) -> Any:
    """Acknowledge an alert."""
    user = current_user()
    assert user is not None
    return services().fleet.acknowledge(alert_id, user.username)
