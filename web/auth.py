"""Accounts, roles, login rate limiting and the access checks of every view.

Roles: ``operator`` plans and commands vehicles; ``crew`` watches and acknowledges alerts;
``engineer`` replays flights and injects faults into simulated vehicles (the operator may see
them); ``admin`` manages users and may do everything. Passwords are stored as werkzeug hashes.
A request without a login gets 401 (pages redirect to the login form), a login without the
permission 403, and in neither case does anything reach a vehicle.
"""

from __future__ import annotations

import functools
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import g, redirect, request, session, url_for
from werkzeug.security import check_password_hash, generate_password_hash

from planner.errors import InputError
from web import db as tables
from web.db import Database
from web.errors import Forbidden, NotFound, TooManyRequests, Unauthorized

ROLES = ("operator", "crew", "engineer", "admin")
#: What each role may do, beyond watching.
PERMISSIONS: dict[str, frozenset[str]] = {
    "plan": frozenset({"operator", "admin"}),
    "command": frozenset({"operator", "admin"}),
    "ack": frozenset({"crew", "operator", "engineer", "admin"}),
    "replay": frozenset({"engineer", "operator", "admin"}),
    "sim_view": frozenset({"engineer", "operator", "admin"}),
    "simulate": frozenset({"engineer", "admin"}),
    "users": frozenset({"admin"}),
}
_USERNAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MIN_PASSWORD = 8

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True, kw_only=True)
class User:
    """A console account (never its password hash)."""

    id: int
    username: str
    role: str

    def may(self, permission: str) -> bool:
        """True if this user's role has ``permission``."""
        return self.role in PERMISSIONS[permission]


class Users:
    """The accounts of one console database.

    ``hash_method`` is werkzeug's password hashing method (scrypt by default).
    """

    def __init__(self, database: Database, hash_method: str = "scrypt") -> None:
        self.db = database
        self.hash_method = hash_method

    def create(self, username: str, password: str, role: str) -> User:
        """A new account.

        Raises
        ------
        InputError
            A bad user name, a short password, an unknown role or a taken name.
        """
        if not isinstance(username, str) or not _USERNAME.match(username):
            raise InputError("Expected 1-64 letters, digits, '.', '_' or '-'", field="username")
        if not isinstance(password, str) or len(password) < MIN_PASSWORD:
            raise InputError(f"Expected at least {MIN_PASSWORD} characters", field="password")
        if role not in ROLES:
            raise InputError(f"Expected one of {', '.join(ROLES)}, got {role!r}", field="role")
        with self.db.transaction() as conn:
            taken = conn.execute(sa.select(tables.users.c.id)
                                 .where(tables.users.c.username == username)).first()
            if taken is not None:
                raise InputError(f"user {username!r} exists already", field="username")
            result = conn.execute(sa.insert(tables.users).values(
                username=username, role=role,
                password_hash=generate_password_hash(password, method=self.hash_method),
                created_at=time.time()))
        key = result.inserted_primary_key
        assert key is not None
        return User(id=int(key[0]), username=username, role=role)

    def check(self, username: str, password: str) -> User | None:
        """The account if the password is right, else None."""
        rows = self.db.rows(sa.select(tables.users).where(tables.users.c.username == username))
        if not rows or not check_password_hash(rows[0].password_hash, password):
            return None
        return User(id=rows[0].id, username=rows[0].username, role=rows[0].role)

    def get(self, user_id: int) -> User | None:
        """The account with this id, if any."""
        rows = self.db.rows(sa.select(tables.users).where(tables.users.c.id == user_id))
        return User(id=rows[0].id, username=rows[0].username, role=rows[0].role) if rows else None

    def all(self) -> list[User]:
        """Every account, by name."""
        rows = self.db.rows(sa.select(tables.users).order_by(tables.users.c.username))
        return [User(id=r.id, username=r.username, role=r.role) for r in rows]

    def count(self) -> int:
        """How many accounts exist."""
        return len(self.db.rows(sa.select(tables.users.c.id)))

    def ensure_admin(self, password: str | None) -> str | None:
        """Create the account ``admin`` when there is no account at all.

        Its password is ``password``, or a generated one that is returned (to be shown once);
        None when accounts exist already (or the password was given).
        """
        if self.count() > 0:
            return None
        generated = password is None
        secret = password if password is not None else secrets.token_urlsafe(12)
        self.create("admin", secret, "admin")
        return secret if generated else None

    def set_role(self, user_id: int, role: str) -> User:
        """Give an account another role."""
        if role not in ROLES:
            raise InputError(f"Expected one of {', '.join(ROLES)}, got {role!r}", field="role")
        if self.get(user_id) is None:
            raise NotFound(f"no user {user_id}")
        self.db.write(sa.update(tables.users).where(tables.users.c.id == user_id)
                      .values(role=role))
        user = self.get(user_id)
        assert user is not None
        return user


class LoginLimiter:
    """At most ``failures`` failed logins per (user name, address) in ``window_s``.

    Parameters
    ----------
    failures
        Failed attempts allowed in the window.
    window_s
        The sliding window in seconds.
    clock
        Monotonic clock.
    """

    def __init__(self, failures: int = 5, window_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.failures = failures
        self.window_s = window_s
        self.clock = clock
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str], deque[float]] = {}

    def _recent(self, key: tuple[str, str]) -> deque[float]:
        times = self._seen.setdefault(key, deque())
        while times and self.clock() - times[0] > self.window_s:
            times.popleft()
        return times

    def check(self, username: str, address: str) -> None:
        """Raise :class:`TooManyRequests` while the key is over its limit."""
        with self._lock:
            times = self._recent((username, address))
            if len(times) >= self.failures:
                wait_s = self.window_s - (self.clock() - times[0])
                raise TooManyRequests(f"too many failed logins; try again in {wait_s:.0f} s")

    def failed(self, username: str, address: str) -> None:
        """Count one failed attempt."""
        with self._lock:
            self._recent((username, address)).append(self.clock())

    def succeeded(self, username: str, address: str) -> None:
        """Forget the failures of this key."""
        with self._lock:
            self._seen.pop((username, address), None)


def current_user() -> User | None:
    """The user logged in on this request's session."""
    if "user" not in g:
        from web.services import services

        user_id = session.get("user_id")
        g.user = services().users.get(int(user_id)) if isinstance(user_id, int) else None
    user: User | None = g.user
    return user


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


def require(permission: str) -> Callable[[F], F]:
    """Only for users whose role has ``permission`` (401 without a login, else 403)."""
    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None:
                raise Unauthorized("log in first")
            if not user.may(permission):
                raise Forbidden(f"role {user.role!r} may not {permission}")
            return view(*args, **kwargs)
        return login_required(wrapped)  # type: ignore[return-value]
    return decorate
