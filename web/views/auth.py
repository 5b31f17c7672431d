"""Logging in and out (form and JSON), changing one's password and language, and the user
administration page. Every login, failed login, logout and account change is audited."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_babel import gettext, lazy_gettext

from planner.errors import InputError
from web.accounts import ROLES, User
from web.errors import TooManyRequests, Unauthorized, retry_after
from web.services import services
from web.views._access import current_session, current_user, login_required, require
from web.views._util import field, json_body

bp = Blueprint("auth", __name__)
#: The login form's messages in the page's language.
_LOGIN_ERRORS = {"wrong user name or password": lazy_gettext("wrong user name or password"),
                 "this account is disabled": lazy_gettext("this account is disabled")}


def _address() -> str:
    return request.remote_addr or "?"


def log_in(username: str, password: str) -> User:
    """Check a login against the rate limits and the password; start a server-side session.

    Raises
    ------
    TooManyRequests
        Too many failed logins of this name from this address, or from this address at all.
    Unauthorized
        A wrong name or password, or a disabled account.
    """
    svc = services()
    address = _address()
    svc.limiter.check(username, address)
    user = svc.users.check(username, password)
    if user is None or user.disabled:
        svc.limiter.failed(username, address)
        svc.db.audit(username=username, action="login", target=f"from {address}",
                     result="failed", detail="disabled account" if user else "wrong password "
                     "or unknown user")
        raise Unauthorized("this account is disabled" if user else "wrong user name or password")
    svc.limiter.succeeded(username, address)
    old = current_session()
    if old is not None:
        svc.users.end_session(old)
    session.clear()
    session["sid"] = svc.users.start_session(user, address)
    session.permanent = False
    svc.db.audit(username=user.username, action="login", target=f"from {address}",
                 result="ok")
    return user


def log_out() -> None:
    """End this request's session on the server and in the cookie."""
    token = current_session()
    user = current_user()
    if token is not None and user is not None:
        services().users.end_session(token)
        services().db.audit(username=user.username, action="logout",
                            target=f"from {_address()}", result="ok")
    session.clear()


def landing_page(user: User) -> str:
    """Where ``user`` lands after logging in: crew watch the fleet (they cannot plan), the
    other roles start on the plan page."""
    return url_for("fleet.page") if user.role == "crew" else url_for("plans.page")


def _safe_next(target: str | None, user: User) -> str:
    """The page to go to after the login: ``target`` when it is a path on this site, but the
    user's landing page instead of the console's root or the plan page it redirects to (where
    a visitor goes without asking for a page)."""
    home = landing_page(user)
    if target in ("/", url_for("plans.page")):
        return home
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return home


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """The login form."""
    if request.method == "GET":
        return render_template("login.html", error=None, next=request.args.get("next"))
    username = request.form.get("username", "")
    try:
        user = log_in(username, request.form.get("password", ""))
    except Unauthorized as exc:
        return render_template("login.html", error=_LOGIN_ERRORS.get(exc.message, exc.message),
                               next=request.form.get("next")), exc.status
    except TooManyRequests as exc:
        error = gettext("too many failed logins; try again in %(seconds)s s",
                        seconds=round(exc.retry_after_s))
        return render_template("login.html", error=error,
                               next=request.form.get("next")), exc.status, retry_after(exc)
    return redirect(_safe_next(request.form.get("next"), user))


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    """End the session."""
    log_out()
    return redirect(url_for("auth.login"))


@bp.route("/users")
@require("users", page="Users")
def users_page() -> Any:
    """The user administration page with the audit log (admin)."""
    return render_template("users.html", users=services().users.all(), roles=ROLES,
                           admin=True)


@bp.route("/account")
@login_required
def account_page() -> Any:
    """Changing one's own password (every user)."""
    return render_template("users.html", users=[], roles=ROLES, admin=False)


@bp.route("/account/language", methods=["POST"])
@login_required
def set_language() -> Any:
    """Save the console's language of one's own account from the account page's form
    (``language``: a language code, or empty for the browser's); back to the account page."""
    user = current_user()
    assert user is not None
    svc = services()
    language = request.form.get("language", "")
    try:
        saved = svc.users.set_language(user.id, language)
    except InputError:
        svc.db.audit(username=user.username, action="language",
                     target=f"user {user.username}", result="failed",
                     detail=f"unknown language {language!r}")
        raise
    svc.db.audit(username=user.username, action="language",
                 target=f"user {user.username}", result="ok",
                 detail=saved.language or "the browser's")
    return redirect(url_for("auth.account_page"), code=303)


@bp.route("/api/login", methods=["POST"])
def api_login() -> Any:
    """Log in with ``{"username", "password"}``."""
    body = json_body()
    user = log_in(field(body, "username", str), field(body, "password", str))
    return {"username": user.username, "role": user.role}


@bp.route("/api/logout", methods=["POST"])
def api_logout() -> Any:
    """End the session."""
    log_out()
    return {"ok": True}


@bp.route("/api/me")
def me() -> Any:
    """Who is logged in (401 if nobody)."""
    user = current_user()
    if user is None:
        raise Unauthorized("log in first")
    return {"username": user.username, "role": user.role, "language": user.language,
            "may": sorted(p for p in ("plan", "command", "ack", "replay", "users")
                          if user.may(p))}


@bp.route("/api/me/password", methods=["POST"])
@login_required
def change_password() -> Any:
    """Change one's own password with ``{"current_password", "new_password"}``; the user's
    other sessions end. A wrong current password counts as a failed login."""
    svc = services()
    user, token = current_user(), current_session()
    assert user is not None and token is not None
    body = json_body()
    current = field(body, "current_password", str)
    new = field(body, "new_password", str)
    svc.limiter.check(user.username, _address())
    if svc.users.check(user.username, current) is None:
        svc.limiter.failed(user.username, _address())
        svc.db.audit(username=user.username, action="password change",
                     target=f"user {user.username}", result="failed",
                     detail="wrong current password")
        raise InputError("the current password is wrong", field="current_password")
    svc.users.set_password(user.id, new, keep=token)
    svc.db.audit(username=user.username, action="password change",
                 target=f"user {user.username}", result="ok",
                 detail="other sessions ended")
    return {"ok": True}
