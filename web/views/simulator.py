"""The simulator API: the attached simulator's vehicles and faults, and fault injection.

Engineers and admins inject faults; operators may look. Every injection is written to the audit
log with who sent it, to which vehicle, and what came back; one refused for the user's role is
logged as ``forbidden`` and never reaches the simulator. Without a simulator both routes
answer 404.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from planner.errors import DroplineError
from web.errors import Forbidden, NotFound, Unauthorized
from web.services import services
from web.simulator import SimulatorControl
from web.views._access import current_user, refusal, require
from web.views._util import field, json_body

bp = Blueprint("simulator", __name__)


def _simulator() -> SimulatorControl:
    found = services().simulator
    if found is None:
        raise NotFound("no simulator is attached to this console")
    return found


@bp.route("/api/simulator")
@require("sim_view")
def state() -> Any:
    """The simulated vehicles and the faults they take."""
    sim = _simulator()
    user = current_user()
    return {"vehicles": sim.vehicles(),
            "faults": [{"name": n, "value": v} for n, v in sim.faults().items()],
            "may_inject": user is not None and user.may("simulate")}


@bp.route("/api/simulator/faults", methods=["POST"])
def inject() -> Any:
    """Inject a fault from ``{"vehicle", "fault", "value"}`` (engineer, admin)."""
    user = current_user()
    if user is None:
        raise Unauthorized("log in first")
    db = services().db
    if not user.may("simulate"):
        db.audit(username=user.username, action="fault", target=request.path,
                 result="forbidden", detail=f"role {user.role}")
        raise Forbidden(refusal(user, "simulate"))
    sim = _simulator()
    body = json_body()
    vehicle = field(body, "vehicle", int)
    fault = field(body, "fault", str)
    value = "" if body.get("value") is None else str(field(body, "value", (str, int, float)))
    action, target = f"fault {fault}"[:32], f"vehicle {vehicle}"
    try:
        detail = sim.inject(vehicle, fault, value)
    except DroplineError as exc:
        db.audit(username=user.username, action=action, target=target, result="failed",
                 detail=f"{value!r}: {exc}")
        raise
    db.audit(username=user.username, action=action, target=target, result="ok", detail=detail)
    return {"vehicle": vehicle, "fault": fault, "value": value, "detail": detail}
