"""Server-side sessions: logout and password changes revoke cookies, admins disable, delete
and reset accounts, the last admin stays, and DROPLINE_ADMIN_PASSWORD recovers ``admin``."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from tests.web.helpers import PASSWORD, Client, services

NEW_PASSWORD = "battery-staple-2"


def _copy(c: Client, app: Flask) -> Client:
    """A second client holding a copy of ``c``'s session cookie."""
    thief = Client(app, None)
    cookie = c.http.get_cookie("session")
    assert cookie is not None
    thief.http.set_cookie("session", cookie.value)
    thief.token = c.token
    return thief


def _user_id(app: Flask, name: str) -> int:
    return next(u.id for u in services(app).users.all() if u.username == name)


def _send(c: Client, method: str, url: str, **kw: Any) -> Any:
    kw.setdefault("headers", {})["X-CSRFToken"] = c.token
    return c.http.open(url, method=method, **kw)


def test_a_copied_cookie_stops_working_after_logout(app: Flask) -> None:
    """Logging out ends the session on the server: a copy of the cookie gets 401."""
    c = Client(app, "operator")
    thief = _copy(c, app)
    assert thief.get("/api/me").json["username"] == "operator"
    assert c.post("/api/logout").status_code == 200
    assert thief.get("/api/me").status_code == 401
    assert thief.get("/api/plans").status_code == 401


def test_form_logout_revokes_too(app: Flask) -> None:
    """The page's Log out button ends the server session as well."""
    c = Client(app, "crew")
    thief = _copy(c, app)
    assert c.post("/logout", data={"csrf_token": c.token}).status_code == 302
    assert thief.get("/api/me").status_code == 401


def test_changing_the_password_ends_the_other_sessions(app: Flask) -> None:
    """A password change needs the current password and ends every other session."""
    c, other = Client(app, "crew"), Client(app, "crew")
    wrong = c.post("/api/me/password", json={"current_password": "nope-nope",
                                               "new_password": NEW_PASSWORD})
    assert wrong.status_code == 400 and wrong.json["field"] == "current_password"
    short = c.post("/api/me/password", json={"current_password": PASSWORD,
                                               "new_password": "short"})
    assert short.status_code == 400 and short.json["field"] == "password"
    r = c.post("/api/me/password", json={"current_password": PASSWORD,
                                           "new_password": NEW_PASSWORD})
    assert r.status_code == 200
    assert c.get("/api/me").status_code == 200
    assert other.get("/api/me").status_code == 401
    fresh = Client(app, None)
    assert fresh.post("/api/login", json={"username": "crew",
                                          "password": PASSWORD}).status_code == 401
    assert fresh.post("/api/login", json={"username": "crew",
                                          "password": NEW_PASSWORD}).status_code == 200


def test_admin_disables_enables_resets_and_deletes(app: Flask) -> None:
    """Disabling ends the user's sessions and refuses logins; a reset sets a new password
    (and ends sessions); deleting removes the account."""
    admin, crew = Client(app, "admin"), Client(app, "crew")
    uid = _user_id(app, "crew")
    r = _send(admin, "PATCH", f"/api/users/{uid}", json={"disabled": True})
    assert r.status_code == 200 and r.json["disabled"] is True
    assert crew.get("/api/me").status_code == 401
    login = Client(app, None).post("/api/login", json={"username": "crew", "password": PASSWORD})
    assert login.status_code == 401 and "disabled" in login.json["error"]
    assert _send(admin, "PATCH", f"/api/users/{uid}",
                 json={"disabled": False}).json["disabled"] is False
    crew = Client(app, "crew")
    reset = admin.post(f"/api/users/{uid}/password", json={"password": NEW_PASSWORD})
    assert reset.status_code == 200
    assert crew.get("/api/me").status_code == 401
    assert Client(app, None).post("/api/login", json={
        "username": "crew", "password": NEW_PASSWORD}).status_code == 200
    crew = Client(app, None)
    crew.post("/api/login", json={"username": "crew", "password": NEW_PASSWORD})
    assert _send(admin, "DELETE", f"/api/users/{uid}").status_code == 200
    assert crew.get("/api/me").status_code == 401
    assert "crew" not in [u.username for u in services(app).users.all()]
    assert _send(admin, "DELETE", f"/api/users/{uid}").status_code == 404


@pytest.mark.parametrize(("method", "suffix", "body"), [
    ("PATCH", "", {"role": "operator"}), ("PATCH", "", {"disabled": True}),
    ("DELETE", "", None)])
def test_the_last_admin_stays(app: Flask, method: str, suffix: str,
                              body: dict[str, Any] | None) -> None:
    """The only enabled admin cannot demote, disable or delete itself (409); with a second
    admin it can."""
    admin = Client(app, "admin")
    uid = _user_id(app, "admin")
    r = _send(admin, method, f"/api/users/{uid}{suffix}", json=body)
    assert r.status_code == 409 and "last enabled admin" in r.json["error"]
    assert services(app).users.get(uid) is not None
    services(app).users.set_role(_user_id(app, "operator"), "admin")
    assert _send(admin, method, f"/api/users/{uid}{suffix}", json=body).status_code == 200


def test_non_admins_cannot_manage_accounts(app: Flask) -> None:
    """Operators get 403 on every account change."""
    op = Client(app, "operator")
    uid = _user_id(app, "crew")
    assert _send(op, "PATCH", f"/api/users/{uid}", json={"disabled": True}).status_code == 403
    assert _send(op, "DELETE", f"/api/users/{uid}").status_code == 403
    assert op.post(f"/api/users/{uid}/password",
                   json={"password": NEW_PASSWORD}).status_code == 403
    assert services(app).users.get(uid) is not None


def test_admin_password_recovers_a_locked_out_admin(app: Flask) -> None:
    """ensure_admin with DROPLINE_ADMIN_PASSWORD re-enables ``admin``, makes it an admin again
    and sets the password (ending its old sessions)."""
    users = services(app).users
    uid = _user_id(app, "admin")
    users.set_role(_user_id(app, "operator"), "admin")
    old = Client(app, "admin")
    users.set_disabled(uid, True)
    users.set_role(uid, "crew")
    assert users.ensure_admin(NEW_PASSWORD) is None
    user = users.get(uid)
    assert user is not None and user.role == "admin" and not user.disabled
    assert old.get("/api/me").status_code == 401
    assert Client(app, None).post("/api/login", json={
        "username": "admin", "password": NEW_PASSWORD}).json["role"] == "admin"


def test_every_user_has_a_password_page(app: Flask) -> None:
    """The account page with the password form is open to every role; the users page is the
    admin's, with the audit log."""
    crew = Client(app, "crew")
    page = crew.get("/account").get_data(as_text=True)
    assert 'id="password-form"' in page and 'id="users"' not in page
    assert crew.get("/users").status_code == 403
    page = Client(app, "admin").get("/users").get_data(as_text=True)
    assert 'id="users"' in page and 'id="audit"' in page and 'id="password-form"' in page
