"""The API's own routes: the OpenAPI document, the CSRF token, users and the audit log."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint
from flask_wtf.csrf import generate_csrf

from web import db as tables
from web.auth import require
from web.openapi import openapi_document
from web.services import services
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


@bp.route("/api/users")
@require("users")
def users() -> Any:
    """Every account (admin)."""
    return {"users": [{"id": u.id, "username": u.username, "role": u.role}
                      for u in services().users.all()]}


@bp.route("/api/users", methods=["POST"])
@require("users")
def create_user() -> Any:
    """A new account from ``{"username", "password", "role"}`` (admin)."""
    body = json_body()
    user = services().users.create(field(body, "username", str), field(body, "password", str),
                                   field(body, "role", str))
    return {"id": user.id, "username": user.username, "role": user.role}, 201


@bp.route("/api/users/<int:user_id>", methods=["PATCH"])
@require("users")
def set_role(user_id: int) -> Any:
    """Give an account another role (admin)."""
    user = services().users.set_role(user_id, field(json_body(), "role", str))
    return {"id": user.id, "username": user.username, "role": user.role}


@bp.route("/api/audit")
@require("users")
def audit() -> Any:
    """The last 500 commands sent to vehicles (admin)."""
    rows = services().db.rows(sa.select(tables.audit_log)
                              .order_by(tables.audit_log.c.id.desc()).limit(500))
    return {"audit": [dict(r._mapping) for r in rows]}
