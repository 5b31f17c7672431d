"""The API's own routes: the OpenAPI document, the CSRF token, users and the audit log.

Every change to an account is audited with the admin who made it.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request
from flask_wtf.csrf import generate_csrf

from planner.errors import InputError
from web.accounts import User
from web.db import AUDIT_PAGE_MAX
from web.openapi import openapi_document
from web.services import services
from web.views._access import current_user, require
from web.views._util import field, json_body

bp = Blueprint("api", __name__)


@bp.route("/api/openapi.json")
def openapi() -> Any:
    """The OpenAPI 3 document of this API."""
    return openapi_document()


@bp.route("/api/csrf")
def csrf_token() -> Any:
    """The CSRF token to send as ``X-CSRFToken`` with this session's writes."""
    return {"csrf_token": generate_csrf()}


def _json(user: User) -> dict[str, Any]:
    return {"id": user.id, "username": user.username, "role": user.role,
            "disabled": user.disabled}


def _audit(action: str, target: User, detail: str | None = None) -> None:
    admin = current_user()
    assert admin is not None
    services().db.audit(username=admin.username, action=action,
                        target=f"user {target.username}", result="ok", detail=detail)


@bp.route("/api/users")
@require("users")
def users() -> Any:
    """Every account (admin)."""
    svc = services()
    return {"users": [{**_json(u), "sessions": svc.users.sessions_of(u.id)}
                      for u in svc.users.all()]}


@bp.route("/api/users", methods=["POST"])
@require("users")
def create_user() -> Any:
    """A new account from ``{"username", "password", "role"}`` (admin)."""
    body = json_body()
    user = services().users.create(field(body, "username", str), field(body, "password", str),
                                   field(body, "role", str))
    _audit("user create", user, f"role {user.role}")
    return _json(user), 201


@bp.route("/api/users/<int:user_id>", methods=["PATCH"])
@require("users")
def update_user(user_id: int) -> Any:
    """Change an account's ``role`` and/or ``disabled`` flag (admin); disabling ends its
    sessions. The last enabled admin cannot be demoted or disabled (409)."""
    body = json_body()
    if "role" not in body and "disabled" not in body:
        raise InputError("Expected 'role' and/or 'disabled'")
    users_ = services().users
    user = users_.get(user_id)
    if "role" in body:
        user = users_.set_role(user_id, field(body, "role", str))
        _audit("user role", user, f"role {user.role}")
    if "disabled" in body:
        user = users_.set_disabled(user_id, field(body, "disabled", bool))
        _audit("user disable" if user.disabled else "user enable", user)
    assert user is not None
    return _json(user)


@bp.route("/api/users/<int:user_id>", methods=["DELETE"])
@require("users")
def delete_user(user_id: int) -> Any:
    """Delete an account and end its sessions (admin; never the last enabled admin)."""
    user = services().users.delete(user_id)
    _audit("user delete", user)
    return _json(user)


@bp.route("/api/users/<int:user_id>/password", methods=["POST"])
@require("users")
def reset_password(user_id: int) -> Any:
    """Set an account's password from ``{"password"}`` (admin); its sessions end."""
    user = services().users.set_password(user_id, field(json_body(), "password", str))
    _audit("password reset", user, "sessions ended")
    return _json(user)


def _int_arg(name: str, default: int | None, low: int, high: int) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19 or not low <= int(raw) <= high:
        raise InputError(f"Expected an integer in {low}..{high}, got {raw[:40]!r}", field=name)
    return int(raw)


@bp.route("/api/audit")
@require("users")
def audit() -> Any:
    """The audit log newest first, a page at a time (admin).

    Query: ``limit`` (1-500, default 100), ``before`` (the ``next_before`` of the previous
    page), ``user`` (one user name), ``action`` (actions starting with it).
    """
    page = services().db.audit_page(
        before=_int_arg("before", None, 1, 2**63 - 1),
        limit=_int_arg("limit", 100, 1, AUDIT_PAGE_MAX) or 100,
        username=request.args.get("user") or None,
        action=request.args.get("action") or None)
    return {"audit": page.rows, "next_before": page.next_before}
