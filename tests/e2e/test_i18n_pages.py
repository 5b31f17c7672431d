"""The console's languages in a real browser: the login page in the browser's language, a
language chosen on the account page translating the pages and what the scripts draw (buttons,
times in the language's format), without console errors or CSP violations."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.helpers import Watched
from tests.web.helpers import PASSWORD

pytestmark = pytest.mark.slow


def test_a_user_switches_from_the_browsers_hindi_to_chinese(console_url: str,
                                                            browser: Any) -> None:
    """A browser asking for Hindi gets the login page and console in Hindi; after choosing
    Simplified Chinese on the account page the nav, the Users page's script-built buttons and
    the audit log's times are Chinese."""
    w = Watched(browser, console_url)
    page = w.page
    page.set_extra_http_headers({"Accept-Language": "hi-IN,hi;q=0.9,en;q=0.5"})
    page.goto(console_url + "/login")
    assert page.inner_text("h1") == "लॉग इन"
    assert page.get_attribute("html", "lang") == "hi"
    page.fill("#username", "admin")
    page.fill("#password", PASSWORD)
    page.click("#login")
    page.wait_for_url("**/plans")
    assert page.inner_text("#nav-plan") == "योजना"
    assert page.inner_text("#logout") == "लॉग आउट"
    page.click("#nav-account")
    page.select_option("#language", "zh")
    page.click("#save-language")
    page.wait_for_url("**/account")
    assert page.get_attribute("html", "lang") == "zh-CN"
    assert page.inner_text("#nav-plan") == "计划"
    assert page.input_value("#language") == "zh"
    page.click("#nav-users")
    page.wait_for_selector("#users select.role")
    crew = page.locator("#users tbody tr", has_text="crew")
    assert crew.locator("button.delete").inner_text() == "删除"
    assert crew.locator("button.toggle").inner_text() == "停用"
    page.wait_for_selector("#audit tbody tr")
    first = page.locator("#audit tbody tr").first
    assert first.locator("td").nth(2).inner_text() == "language"
    assert re.match(r"\d{4}/\d{1,2}/\d{1,2}", first.locator("td").first.inner_text())
    w.close()
