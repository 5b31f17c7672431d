"""Logging in and out (form and JSON) and the user administration page."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, session, url_for

from web.auth import ROLES, User, current_user, require
from web.errors import Unauthorized
from web.services import services
from web.views._util import field, json_body

bp = Blueprint("auth", __name__)


def log_in(username: str, password: str) -> User:
    """Check a login against the rate limit and the password; start the session."""
    svc = services()
    address = request.remote_addr or "?"
    svc.limiter.check(username, address)
    user = svc.users.check(username, password)
    if user is None:
        svc.limiter.failed(username, address)
        raise Unauthorized("wrong user name or password")
    svc.limiter.succeeded(username, address)
    session.clear()
    session["user_id"] = user.id
    session.permanent = False
    return user


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("plans.page")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """The login form."""
    if request.method == "GET":
        return render_template("login.html", error=None, next=request.args.get("next"))
    username = request.form.get("username", "")
    try:
        log_in(username, request.form.get("password", ""))
    except Unauthorized as exc:
        return render_template("login.html", error=exc.message,
                               next=request.form.get("next")), 401
    return redirect(_safe_next(request.form.get("next")))


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    """End the session."""
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/users")
@require("users")
def users_page() -> Any:
    """The user administration page (admin)."""
    return render_template("users.html", users=services().users.all(), roles=ROLES)


@bp.route("/api/login", methods=["POST"])
def api_login() -> Any:
    """Log in with ``{"username", "password"}``."""
    body = json_body()
    user = log_in(field(body, "username", str), field(body, "password", str))
    return {"username": user.username, "role": user.role}


@bp.route("/api/logout", methods=["POST"])
def api_logout() -> Any:
    """End the session."""
    session.clear()
    return {"ok": True}


@bp.route("/api/me")
def me() -> Any:
    """Who is logged in (401 if nobody)."""
    user = current_user()
    if user is None:
        raise Unauthorized("log in first")
    return {"username": user.username, "role": user.role,
            "may": sorted(p for p in ("plan", "command", "ack", "replay", "users")
                          if user.may(p))}
