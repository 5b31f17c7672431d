"""The Users and Account pages in a real browser: an admin creates, re-roles, disables, resets
and deletes a user and pages through the audit log; any user changes their own password."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from tests.e2e.helpers import Watched, confirm
from tests.web.helpers import PASSWORD, make_app, serve, services

pytestmark = pytest.mark.slow


@pytest.fixture
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, str]]:
    """A console without vehicles, with 120 audited commands."""
    app = make_app(tmp_path_factory.mktemp("users-page"))
    with app.app_context():
        for i in range(120):
            services(app).db.audit(username="operator", action="rtl", target=f"vehicle {i}",
                                   result="ok")
    try:
        for server in serve(app):
            yield app, server.url
    finally:
        services(app).close()


def _row(page: Any, name: str) -> Any:
    return page.locator("#users tbody tr", has_text=name)


def test_admin_manages_a_user_and_reads_the_audit_log(console: tuple[Flask, str],
                                                      browser: Any) -> None:
    """Create, change role, disable, set a password, delete; the audit log pages back."""
    app, url = console
    w = Watched(browser, url)
    page = w.login("admin")
    page.click("#nav-users")
    page.wait_for_selector("#users select.role")
    page.fill("#new-user input[name=username]", "pilot")
    page.fill("#new-user input[name=password]", "long-enough-1")
    page.select_option("#new-user select[name=role]", "crew")
    page.click("#new-user button[type=submit]")
    _row(page, "pilot").wait_for()
    _row(page, "pilot").locator("select.role").select_option("operator")
    page.wait_for_selector("#users-message:has-text('changed to operator')")
    _row(page, "pilot").locator("button.toggle").click()
    page.wait_for_selector("#users-message:has-text('pilot disabled')")
    assert "disabled" in _row(page, "pilot").text_content()
    _row(page, "pilot").locator("input[type=password]").fill("another-pass-2")
    _row(page, "pilot").locator("button.reset").click()
    page.wait_for_selector("#users-message:has-text('password of pilot set')")
    with app.app_context():
        user = next(u for u in services(app).users.all() if u.username == "pilot")
        assert user.role == "operator" and user.disabled
        assert services(app).users.check("pilot", "another-pass-2") is not None

    page.wait_for_selector("#audit tbody tr")
    assert page.locator("#audit tbody tr").count() == 50
    newest = page.locator("#audit tbody tr").first.text_content()
    page.click("#audit-older")
    page.wait_for_function("() => !document.querySelector('#audit tbody').textContent"
                           f".includes({newest!r})")
    page.fill("#audit-filter input[name=action]", "user")
    page.click("#audit-filter button[type=submit]")
    page.wait_for_function("() => document.querySelectorAll('#audit tbody tr').length === 3")
    assert "user disable" in page.locator("#audit tbody").text_content()

    _row(page, "pilot").locator("button.delete").click()
    confirm(page)
    page.wait_for_selector("#users-message:has-text('pilot deleted')")
    assert _row(page, "pilot").count() == 0
    w.close()


def test_a_crew_member_changes_their_password(console: tuple[Flask, str], browser: Any) -> None:
    """The Account page (the name in the top bar) changes the password with the current one."""
    app, url = console
    w = Watched(browser, url)
    page = w.login("crew")
    assert page.locator("#nav-users").count() == 0
    page.click("#nav-account")
    page.wait_for_selector("#password-form")
    assert page.locator("#users").count() == 0
    w.expect_failure("/api/me/password")
    page.fill("#password-form input[name=current_password]", "not-my-password")
    page.fill("#password-form input[name=new_password]", "a-new-secret-3")
    page.click("#change-password")
    page.wait_for_selector("#password-message.error")
    page.fill("#password-form input[name=current_password]", PASSWORD)
    page.fill("#password-form input[name=new_password]", "a-new-secret-3")
    page.click("#change-password")
    page.wait_for_selector("#password-message:has-text('password changed')")
    with app.app_context():
        assert services(app).users.check("crew", "a-new-secret-3") is not None
    w.close()
