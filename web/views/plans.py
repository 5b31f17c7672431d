"""The plan page and its API: scenarios, uploads, map edits, the planner job, downloads, and
the plan's versions (a flown version is read-only; changing the plan then makes a new one)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template, request, send_file

from planner.errors import InputError
from web import replan as replanning
from web.errors import NotFound
from web.plan_view import plan_view, scenario_layers
from web.planning import PlanRecord, PlanService
from web.services import services
from web.views._access import current_user, login_required, require
from web.views._util import field, json_body

bp = Blueprint("plans", __name__)


def record_json(r: PlanRecord) -> dict[str, Any]:
    """A plan's record (one version of it) as the API shows it."""
    return {"id": r.id, "name": r.name, "state": r.state, "error": r.error, "edits": r.edits,
            "created_by": r.created_by, "created_at": r.created_at,
            "finished_at": r.finished_at, "version": r.version, "version_id": r.version_id,
            "flown_at": r.flown_at, "read_only": r.flown_at is not None}


def _audited(action: str, record: PlanRecord, detail: str | None = None) -> None:
    user = current_user()
    assert user is not None
    services().db.audit(username=user.username, action=action, target=f"plan {record.id}",
                        result="ok", detail=f"version {record.version}"
                        + ("" if detail is None else f": {detail}"))


def _username() -> str:
    user = current_user()
    assert user is not None
    return user.username


def _version_json(svc: PlanService, record: PlanRecord) -> dict[str, Any]:
    """One version with its scenario layers and, once planned, sorties and unserved drops."""
    if svc.flown(record) and record.flown_at is None:
        record = svc.version(record.version_id)
    out = record_json(record)
    scenario, dem = svc.scenario_of(record)
    out["scenario"] = scenario_layers(scenario)
    if record.state == "done":
        out["result"] = plan_view(svc.plan_of(record), scenario, dem)
        out["files"] = svc.files_of(record)
    out["versions"] = [record_json(v) for v in svc.versions(record.id)]
    return out


@bp.route("/plans")
@login_required
def page() -> Any:
    """The plan page."""
    return render_template("plan.html")


@bp.route("/api/scenarios")
@login_required
def scenarios() -> Any:
    """Scenario folders to plan from."""
    return {"scenarios": services().plans.scenarios(),
            "sample": current_app.config["SAMPLE_SCENARIO"]}


@bp.route("/api/plans")
@login_required
def list_plans() -> Any:
    """Every plan, newest first, and the one the Plan page opens (``default``): the console's
    ``DEFAULT_PLAN`` (the demo's draft of the district) if it exists, else the newest."""
    records = services().plans.all()
    wanted = current_app.config.get("DEFAULT_PLAN")
    default = next((r.id for r in records if r.id == wanted), records[0].id if records else None)
    return {"plans": [record_json(r) for r in records], "default": default}


@bp.route("/api/plans", methods=["POST"])
@require("plan")
def create() -> Any:
    """A new plan from ``{"scenario": name, "edits": {...}}``."""
    body = json_body()
    edits = body.get("edits") or {}
    if not isinstance(edits, dict):
        raise InputError(f"Expected an object, got {edits!r}", field="edits")
    user = current_user()
    assert user is not None
    record = services().plans.create(field(body, "scenario", str), username=user.username,
                                     edits=edits)
    _audited("plan create", record, record.name)
    return record_json(record), 201


@bp.route("/api/plans/<plan_id>")
@login_required
def show(plan_id: str) -> Any:
    """A plan's newest version: its record, scenario layers and, once planned, sorties and
    unserved drops; and every version of the plan (``versions``, newest first)."""
    svc = services().plans
    return _version_json(svc, svc.get(plan_id))


@bp.route("/api/plans/<plan_id>/versions/<int:number>")
@login_required
def show_version(plan_id: str, number: int) -> Any:
    """One version of a plan (as :func:`show`), read-only once flown."""
    svc = services().plans
    found = next((v for v in svc.versions(plan_id) if v.version == number), None)
    if found is None:
        raise NotFound(f"no version {number} of plan {plan_id}")
    return _version_json(svc, found)


@bp.route("/api/plans/<plan_id>/versions/<int:number>/files/<path:name>")
@login_required
def download_version(plan_id: str, number: int, name: str) -> Any:
    """A file of one planned version of a plan."""
    svc = services().plans
    found = next((v for v in svc.versions(plan_id) if v.version == number), None)
    if found is None:
        raise NotFound(f"no version {number} of plan {plan_id}")
    path = svc.download(found.version_id, name)
    return send_file(path, as_attachment=True, download_name=path.name)


@bp.route("/api/plans/<plan_id>/edits", methods=["PUT"])
@require("plan")
def edit(plan_id: str) -> Any:
    """Replace the plan's depots, zones, drop choice or time limit (in a new version if the
    newest one flew)."""
    record = services().plans.edit(plan_id, json_body(), username=_username())
    _audited("plan edit", record)
    return record_json(record)


@bp.route("/api/plans/<plan_id>/uploads", methods=["POST"])
@require("plan")
def upload(plan_id: str) -> Any:
    """Upload a ``drops`` CSV, ``nofly`` GeoJSON or ``dem`` file (multipart ``kind``, ``file``)."""
    services().plans.get(plan_id)
    kind = request.form.get("kind", "")
    sent = request.files.get("file")
    if sent is None or not sent.filename:
        raise InputError("Expected a file in the 'file' form field", field="file")
    try:
        data = sent.read()
    finally:
        sent.close()
    record = services().plans.upload(plan_id, kind, sent.filename, data,
                                     username=_username())
    _audited("plan upload", record, kind)
    return record_json(record)


@bp.route("/api/plans/<plan_id>/run", methods=["POST"])
@require("plan")
def run(plan_id: str) -> Any:
    """Start the planner in the background; progress arrives as events. Planning a flown
    plan plans a new version and leaves the flown one as it is."""
    record = services().plans.run(plan_id, username=_username())
    _audited("plan run", record)
    return record_json(record), 202


@bp.route("/api/plans/<plan_id>/replan", methods=["POST"])
@require("plan")
def replan(plan_id: str) -> Any:
    """Plan again what is not done yet (``{"cancel": [...], "ground": [...], "add": [...]}``):
    a new version without delivered, on-their-way and cancelled drops and without grounded
    vehicles; planning starts at once."""
    svc = services()
    found = replanning.replan(svc.plans, svc.deliveries, plan_id, json_body(),
                              username=_username())
    _audited("plan replan", found.record,
             f"{len(found.drop_ids)} drops; left out: {len(found.delivered)} delivered, "
             f"{len(found.in_air)} on their way, cancelled "
             f"[{replanning.names(list(found.cancelled))}], grounded "
             f"[{replanning.names(list(found.grounded))}]{replanning.fleet_note(found)}")
    return replanning.replan_json(found, record_json), 202


@bp.route("/api/plans/<plan_id>/files/<path:name>")
@login_required
def download(plan_id: str, name: str) -> Any:
    """A file of a planned plan (plan.json, routes.geojson, sorties/S001.plan...)."""
    path = services().plans.download(plan_id, name)
    return send_file(path, as_attachment=True, download_name=path.name)
