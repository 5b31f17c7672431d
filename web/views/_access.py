"""The access checks of every view: who is logged in, which role may do what, and CSRF.

A request without a login gets 401 (pages redirect to the login form), a login without the
permission 403, and in neither case does anything reach a vehicle. Every write (POST, PUT,
PATCH, DELETE) must carry the session's CSRF token (a form field or the ``X-CSRFToken``
header), else 400. The accounts, roles and sessions these checks read are in
:mod:`web.accounts`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import g, redirect, request, session, url_for
from flask_wtf.csrf import CSRFProtect

from web.accounts import User
from web.errors import Forbidden, Unauthorized
from web.services import services

F = TypeVar("F", bound=Callable[..., Any])

#: The CSRF check of every write, attached to the app by the app factory.
csrf = CSRFProtect()


def current_user() -> User | None:
    """The user logged in on this request's session (a live server-side session of an
    enabled account)."""
    if "user" not in g:
        token = session.get("sid")
        g.user = services().users.session_user(token) if isinstance(token, str) else None
    user: User | None = g.user
    return user


def current_session() -> str | None:
    """The session id of this request's login, if any."""
    token = session.get("sid")
    return token if isinstance(token, str) and current_user() is not None else None


def _wants_html() -> bool:
    return not request.path.startswith(("/api/", "/tiles/"))


def login_required(view: F) -> F:
    """Only for logged-in users: pages redirect to the login form, the API answers 401."""
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_user() is None:
            if _wants_html() and request.method == "GET":
                return redirect(url_for("auth.login", next=request.path))
            raise Unauthorized("log in first")
        return view(*args, **kwargs)
    return wrapped  # type: ignore[return-value]


#: What each permission lets a user do, in the words a refusal uses.
DOING: dict[str, str] = {
    "plan": "make or change plans",
    "command": "command vehicles",
    "ack": "acknowledge alerts",
    "replay": "replay recorded flights",
    "sim_view": "see the simulator",
    "simulate": "inject simulator faults",
    "users": "manage users",
}


def refusal(user: User, permission: str, page: str | None = None) -> str:
    """A 403's message in plain words: what the user's role cannot do and whom to ask.

    Examples
    --------
    >>> crew = User(id=1, username="kim", role="crew", disabled=False)
    >>> refusal(crew, "users", page="Users")
    'Your role (crew) cannot open the Users page. Ask an admin.'
    >>> refusal(crew, "command")
    'Your role (crew) cannot command vehicles. Ask an admin.'
    """
    doing = f"open the {page} page" if page else DOING.get(permission, f"do this ({permission})")
    return f"Your role ({user.role}) cannot {doing}. Ask an admin."


def require(permission: str, *, page: str | None = None) -> Callable[[F], F]:
    """Only for users whose role has ``permission`` (401 without a login, else 403 with a
    message in plain words; ``page`` names the page a refused page view would have shown)."""
    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None:
                raise Unauthorized("log in first")
            if not user.may(permission):
                raise Forbidden(refusal(user, permission, page))
            return view(*args, **kwargs)
        return login_required(wrapped)  # type: ignore[return-value]
    return decorate
