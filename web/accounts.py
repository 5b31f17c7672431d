"""Console accounts, their roles and login sessions, and login rate limiting.

Roles: ``operator`` plans and commands vehicles; ``crew`` watches and acknowledges alerts;
``engineer`` replays flights and injects faults into simulated vehicles (the operator may see
them); ``admin`` manages users and may do everything (:data:`PERMISSIONS`). Passwords are stored
as werkzeug hashes.

Sessions live on the server: the signed cookie holds a random session id whose hash is a row of
the ``sessions`` table, checked on every request. Logging out deletes the row (a copied cookie
stops working), changing a password ends the user's other sessions, disabling or deleting a user
ends all of them. The last enabled admin cannot be demoted, disabled or deleted. Logins of
unknown users take as long as wrong passwords (a dummy hash is checked), and failed logins are
limited per user name and address and per address alone (:class:`LoginLimiter`).

The checks a view makes with these (who is logged in, which role may do what) are in
:mod:`web.views._access`.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from werkzeug.security import check_password_hash, generate_password_hash

from planner.errors import InputError
from web import db as tables
from web.db import Database
from web.errors import Conflict, NotFound, TooManyRequests
from web.i18n import LANGUAGES, language_code

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
MAX_PASSWORD = 1024

@dataclass(frozen=True, slots=True, kw_only=True)
class User:
    """A console account (never its password hash)."""

    id: int
    username: str
    role: str
    disabled: bool = False
    #: The console's language for this user (a code of :data:`web.i18n.LANGUAGES`); None:
    #: the browser's.
    language: str | None = None

    def may(self, permission: str) -> bool:
        """True if this user's role has ``permission``."""
        return self.role in PERMISSIONS[permission]


def _user(row: Any) -> User:
    return User(id=row.id, username=row.username, role=row.role, disabled=bool(row.disabled),
                language=language_code(row.language))


def session_hash(token: str) -> str:
    """The stored form of a session id (its SHA-256, hex)."""
    return hashlib.sha256(token.encode()).hexdigest()


def _check_password(password: object) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise InputError(f"Expected at least {MIN_PASSWORD} characters", field="password")
    if len(password) > MAX_PASSWORD:
        raise InputError(f"Expected at most {MAX_PASSWORD} characters", field="password")
    return password


class Users:
    """The accounts and login sessions of one console database.

    Parameters
    ----------
    database
        The console database.
    hash_method
        werkzeug's password hashing method (scrypt by default).
    session_max_s
        How long a login session lasts at most.
    clock
        Wall clock (Unix seconds).
    """

    def __init__(self, database: Database, hash_method: str = "scrypt", *,
                 session_max_s: float = 7 * 86400.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.db = database
        self.hash_method = hash_method
        self.session_max_s = session_max_s
        self.clock = clock
        self._dummy_hash: str | None = None

    def _hash(self, password: str) -> str:
        return generate_password_hash(password, method=self.hash_method)

    def create(self, username: str, password: str, role: str) -> User:
        """A new account.

        Raises
        ------
        InputError
            A bad user name, a short password, an unknown role or a taken name.
        """
        if not isinstance(username, str) or not _USERNAME.match(username):
            raise InputError("Expected 1-64 letters, digits, '.', '_' or '-'", field="username")
        _check_password(password)
        if role not in ROLES:
            raise InputError(f"Expected one of {', '.join(ROLES)}, got {role!r}", field="role")
        with self.db.transaction() as conn:
            taken = conn.execute(sa.select(tables.users.c.id)
                                 .where(tables.users.c.username == username)).first()
            if taken is not None:
                raise InputError(f"user {username!r} exists already", field="username")
            result = conn.execute(sa.insert(tables.users).values(
                username=username, role=role, password_hash=self._hash(password),
                created_at=self.clock(), disabled=False))
        key = result.inserted_primary_key
        assert key is not None
        return User(id=int(key[0]), username=username, role=role)

    def check(self, username: str, password: str) -> User | None:
        """The account if the password is right (disabled or not), else None.

        Unknown users cost the same time as known ones: a dummy hash made with the same method
        is checked.
        """
        rows = self.db.rows(sa.select(tables.users).where(tables.users.c.username == username))
        if not rows:
            if self._dummy_hash is None:
                self._dummy_hash = self._hash(secrets.token_urlsafe(16))
            check_password_hash(self._dummy_hash, password)
            return None
        if not check_password_hash(rows[0].password_hash, password):
            return None
        return _user(rows[0])

    def get(self, user_id: int) -> User | None:
        """The account with this id, if any."""
        rows = self.db.rows(sa.select(tables.users).where(tables.users.c.id == user_id))
        return _user(rows[0]) if rows else None

    def _existing(self, user_id: int) -> User:
        user = self.get(user_id)
        if user is None:
            raise NotFound(f"no user {user_id}")
        return user

    def all(self) -> list[User]:
        """Every account, by name."""
        rows = self.db.rows(sa.select(tables.users).order_by(tables.users.c.username))
        return [_user(r) for r in rows]

    def count(self) -> int:
        """How many accounts exist."""
        return len(self.db.rows(sa.select(tables.users.c.id)))

    def _other_admins(self, user_id: int) -> int:
        u = tables.users.c
        return len(self.db.rows(sa.select(u.id).where(u.role == "admin", u.id != user_id,
                                                      u.disabled.is_(False))))

    def _keep_an_admin(self, user: User, what: str) -> None:
        if user.role == "admin" and not user.disabled and self._other_admins(user.id) == 0:
            raise Conflict(f"cannot {what} {user.username!r}: it is the last enabled admin")

    def ensure_admin(self, password: str | None) -> str | None:
        """Create the account ``admin`` when there is no account at all; with ``password``
        (from ``DROPLINE_ADMIN_PASSWORD``), recover an existing ``admin``.

        A new account's password is ``password``, or a generated one that is returned (to be
        shown once). Recovery makes ``admin`` an enabled admin again whose password is
        ``password`` (its sessions end if the password changed). None unless generated.
        """
        if self.count() == 0:
            generated = password is None
            secret = password if password is not None else secrets.token_urlsafe(12)
            self.create("admin", secret, "admin")
            return secret if generated else None
        if password is None:
            return None
        rows = self.db.rows(sa.select(tables.users).where(tables.users.c.username == "admin"))
        if not rows:
            self.create("admin", password, "admin")
            return None
        values: dict[str, Any] = {"role": "admin", "disabled": False}
        if not check_password_hash(rows[0].password_hash, password):
            values["password_hash"] = self._hash(_check_password(password))
            self.end_sessions(rows[0].id)
        self.db.write(sa.update(tables.users).where(tables.users.c.id == rows[0].id)
                      .values(**values))
        return None

    def set_role(self, user_id: int, role: str) -> User:
        """Give an account another role (never the last enabled admin's)."""
        if role not in ROLES:
            raise InputError(f"Expected one of {', '.join(ROLES)}, got {role!r}", field="role")
        user = self._existing(user_id)
        if role != "admin":
            self._keep_an_admin(user, "demote")
        self.db.write(sa.update(tables.users).where(tables.users.c.id == user_id)
                      .values(role=role))
        return self._existing(user_id)

    def set_disabled(self, user_id: int, disabled: bool) -> User:
        """Disable an account (ending its sessions) or enable it again."""
        user = self._existing(user_id)
        if disabled:
            self._keep_an_admin(user, "disable")
        self.db.write(sa.update(tables.users).where(tables.users.c.id == user_id)
                      .values(disabled=disabled))
        if disabled:
            self.end_sessions(user_id)
        return self._existing(user_id)

    def delete(self, user_id: int) -> User:
        """Delete an account and its sessions (never the last enabled admin)."""
        user = self._existing(user_id)
        self._keep_an_admin(user, "delete")
        with self.db.transaction() as conn:
            conn.execute(sa.delete(tables.sessions).where(tables.sessions.c.user_id == user_id))
            conn.execute(sa.delete(tables.users).where(tables.users.c.id == user_id))
        return user

    def set_language(self, user_id: int, language: str | None) -> User:
        """Save the console's language of an account (None or "": the browser's).

        Raises
        ------
        InputError
            A language the console does not speak.
        """
        code = None
        if language not in (None, ""):
            code = language_code(language)
            if code is None:
                raise InputError(f"Expected one of {', '.join(LANGUAGES)} or an empty value, "
                                 f"got {language!r}", field="language")
        self._existing(user_id)
        self.db.write(sa.update(tables.users).where(tables.users.c.id == user_id)
                      .values(language=code))
        return self._existing(user_id)

    def set_password(self, user_id: int, password: str, *, keep: str | None = None) -> User:
        """A new password; every session of the account ends except the one ``keep``."""
        user = self._existing(user_id)
        hashed = self._hash(_check_password(password))
        self.db.write(sa.update(tables.users).where(tables.users.c.id == user_id)
                      .values(password_hash=hashed))
        self.end_sessions(user_id, keep=keep)
        return user

    # -- sessions -------------------------------------------------------------------------------
    def start_session(self, user: User, address: str) -> str:
        """A new session of ``user``: its id, for the cookie (only its hash is stored)."""
        token = secrets.token_urlsafe(32)
        now = self.clock()
        with self.db.transaction() as conn:
            conn.execute(sa.delete(tables.sessions)
                         .where(tables.sessions.c.created_at < now - self.session_max_s))
            conn.execute(sa.insert(tables.sessions).values(
                id_hash=session_hash(token), user_id=user.id, created_at=now,
                address=address[:64]))
        return token

    def session_user(self, token: str) -> User | None:
        """The enabled account of a live session, else None."""
        s, u = tables.sessions.c, tables.users.c
        rows = self.db.rows(
            sa.select(tables.users).join(tables.sessions, s.user_id == u.id)
            .where(s.id_hash == session_hash(token), u.disabled.is_(False),
                   s.created_at >= self.clock() - self.session_max_s))
        return _user(rows[0]) if rows else None

    def end_session(self, token: str) -> None:
        """End one session (logging out)."""
        self.db.write(sa.delete(tables.sessions)
                      .where(tables.sessions.c.id_hash == session_hash(token)))

    def end_sessions(self, user_id: int, *, keep: str | None = None) -> None:
        """End every session of an account, except the one ``keep``."""
        stmt = sa.delete(tables.sessions).where(tables.sessions.c.user_id == user_id)
        if keep is not None:
            stmt = stmt.where(tables.sessions.c.id_hash != session_hash(keep))
        self.db.write(stmt)

    def sessions_of(self, user_id: int) -> int:
        """How many sessions of an account are open."""
        return len(self.db.rows(sa.select(tables.sessions.c.id_hash)
                                .where(tables.sessions.c.user_id == user_id)))


class LoginLimiter:
    """At most ``failures`` failed logins per (user name, address) and ``address_failures`` per
    address in ``window_s``.

    Parameters
    ----------
    failures
        Failed attempts allowed in the window for one user name from one address.
    window_s
        The sliding window in seconds.
    address_failures
        Failed attempts allowed in the window from one address, whatever the user names.
    clock
        Monotonic clock.
    """

    def __init__(self, failures: int = 5, window_s: float = 60.0, address_failures: int = 20,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.failures = failures
        self.window_s = window_s
        self.address_failures = address_failures
        self.clock = clock
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str], deque[float]] = {}

    def _recent(self, key: tuple[str, str]) -> deque[float]:
        times = self._seen.setdefault(key, deque())
        while times and self.clock() - times[0] > self.window_s:
            times.popleft()
        return times

    def _over(self, key: tuple[str, str], limit: int) -> float | None:
        times = self._recent(key)
        if len(times) >= limit:
            return self.window_s - (self.clock() - times[0])
        return None

    def check(self, username: str, address: str) -> None:
        """Raise :class:`TooManyRequests` while the user name and address, or the address
        alone, is over its limit."""
        with self._lock:
            waits = [w for w in (self._over((username, address), self.failures),
                                 self._over(("", address), self.address_failures))
                     if w is not None]
            if waits:
                raise TooManyRequests(f"too many failed logins; try again in {max(waits):.0f} s",
                                      retry_after_s=max(waits))

    def failed(self, username: str, address: str) -> None:
        """Count one failed attempt."""
        with self._lock:
            if len(self._seen) > 10000:
                for key in [k for k in self._seen if not self._recent(k)]:
                    del self._seen[key]
            now = self.clock()
            self._recent((username, address)).append(now)
            self._recent(("", address)).append(now)

    def succeeded(self, username: str, address: str) -> None:
        """Forget the failures of this user name and address (not those of the address)."""
        with self._lock:
            self._seen.pop((username, address), None)
