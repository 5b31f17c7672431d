"""The console's languages: the browser's language before login, a language chosen per user
(saved, CSRF-checked, audited), translated pages and server messages, numbers and times in the
language's conventions, and translations that reach the browser only as text."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from flask import Flask

from tests.web.helpers import PASSWORD, Client, services
from web import db as tables
from web import i18n

#: A few messages in each language, as the catalogues translate them.
EXPECTED = {
    "hi": {"Plan": "योजना", "Fleet": "बेड़ा", "Log out": "लॉग आउट", "Log in": "लॉग इन",
           "New plan": None, "Save": "सहेजें", "Language": "भाषा",
           "wrong user name or password": "गलत उपयोगकर्ता नाम या पासवर्ड",
           "Not allowed": "अनुमति नहीं है"},
    "zh": {"Plan": "计划", "Fleet": "机队", "Log out": "退出登录", "Log in": "登录",
           "New plan": None, "Save": "保存", "Language": "语言",
           "wrong user name or password": "用户名或密码错误", "Not allowed": "不允许"},
}


def _text(response: object) -> str:
    return response.get_data(as_text=True)  # type: ignore[attr-defined, no-any-return]


def _embedded(page: str) -> dict[str, str]:
    """The script messages a page carries (its body's ``data-messages``, single-quoted)."""
    found = re.search(r"data-messages='([^']*)'", page)
    assert found is not None
    messages: dict[str, str] = json.loads(html.unescape(found.group(1)))
    return messages


def _choose(client: Client, language: str, **kw: object) -> object:
    """Post the account page's language form."""
    return client.post("/account/language", data={"language": language}, **kw)


def _language_rows(app: Flask) -> list[tuple[str, str, str | None]]:
    rows = services(app).db.rows(sa.select(tables.audit_log).order_by(tables.audit_log.c.id))
    return [(r.username, r.result, r.detail) for r in rows if r.action == "language"]


def _translated(code: str, message: str) -> str:
    """``message`` in language ``code`` from the compiled catalogue."""
    from babel.support import Translations

    locale = i18n.LANGUAGES[code].locale
    found = Translations.load(str(i18n.TRANSLATIONS_DIR), [locale]).gettext(message)
    assert found != message, f"{message!r} has no {code} translation"
    return str(found)


@pytest.mark.parametrize(("accept", "lang", "heading"), [
    ("hi-IN,hi;q=0.9,en;q=0.5", "hi", "लॉग इन"),
    ("zh-CN,zh;q=0.9", "zh-CN", "登录"),
    ("zh-TW", "zh-CN", "登录"),
    ("fr-FR,fr;q=0.9", "en", "Log in"),
    ("", "en", "Log in"),
])
def test_the_login_page_follows_the_browser(app: Flask, accept: str, lang: str,
                                            heading: str) -> None:
    """Before login the browser's Accept-Language picks the language (English otherwise);
    the page says so and caches keep one copy per language."""
    r = Client(app, None).get("/login", headers={"Accept-Language": accept})
    page = _text(r)
    assert r.status_code == 200
    assert f'<html lang="{lang}">' in page
    assert f"<h1>{heading}</h1>" in page
    assert r.headers["Content-Language"] == lang
    assert "Accept-Language" in r.headers["Vary"]


@pytest.mark.parametrize("code", ["hi", "zh"])
def test_a_chosen_language_translates_every_page(app: Flask, code: str) -> None:
    """After choosing a language on the account page, the nav, buttons and headings of every
    page are in it, whatever the browser asks for."""
    c = Client(app, "operator")
    r = _choose(c, code)
    assert r.status_code == 303 and r.headers["Location"] == "/account"
    english = {"Accept-Language": "en-US,en;q=0.9"}
    lang = i18n.LANGUAGES[code].html_lang
    for url in ("/plans", "/deliveries", "/flights", "/account", "/fleet"):
        page = _text(c.get(url, headers=english))
        assert f'<html lang="{lang}">' in page, url
        for message in ("Plan", "Fleet", "Log out"):
            assert f">{EXPECTED[code][message]}<" in page, (url, message)
        assert ">Log out<" not in page and ">Deliveries<" not in page, url
    plans = _text(c.get("/plans", headers=english))
    assert f">{_translated(code, 'New plan')}</button>" in plans
    account = _text(c.get("/account", headers=english))
    assert f"<h2>{EXPECTED[code]['Language']}</h2>" in account
    assert f'<option value="{code}" lang="{lang}" selected>' in account
    assert c.get("/api/me").json["language"] == code


def test_the_choice_persists_across_logins(app: Flask) -> None:
    """The language is saved with the account: a new session (another browser asking for
    English) gets it at once, and going back to the browser's language clears it."""
    first = Client(app, "crew")
    assert _choose(first, "zh").status_code == 303
    first.post("/api/logout")
    login_page = _text(first.get("/login", headers={"Accept-Language": "en"}))
    assert "<h1>Log in</h1>" in login_page  # nobody logged in: the browser's language
    second = Client(app, "crew")
    page = _text(second.get("/fleet", headers={"Accept-Language": "en"}))
    assert '<html lang="zh-CN">' in page and f">{EXPECTED['zh']['Log out']}<" in page
    assert second.get("/api/me").json["language"] == "zh"
    assert _choose(second, "").status_code == 303
    assert second.get("/api/me").json["language"] is None
    page = _text(second.get("/fleet", headers={"Accept-Language": "hi"}))
    assert '<html lang="hi">' in page and f">{EXPECTED['hi']['Log out']}<" in page
    other = Client(app, "operator")  # another account keeps its own (none: the browser's)
    assert '<html lang="en">' in _text(other.get("/plans", headers={"Accept-Language": "en"}))


@pytest.mark.parametrize("code", ["hi", "zh"])
def test_server_messages_are_translated(app: Flask, code: str) -> None:
    """A failed login's message and an error page's heading come in the reader's language."""
    c = Client(app, None)
    accept = {"Accept-Language": i18n.LANGUAGES[code].html_lang}
    form = _text(c.get("/login", headers=accept))
    token = form.split('name="csrf_token" value="')[1].split('"')[0]
    r = c.http.post("/login", headers=accept, data={"username": "crew", "password": "wrong-1",
                                                    "csrf_token": token})
    assert r.status_code == 401
    assert (f'<p class="error" id="login-error">{EXPECTED[code]["wrong user name or password"]}'
            "</p>") in _text(r)
    crew = Client(app, "crew")
    r = crew.get("/users", headers=accept)
    assert r.status_code == 403
    assert f"<h1>{EXPECTED[code]['Not allowed']}</h1>" in _text(r)


@pytest.mark.parametrize(("code", "number", "time_mark"), [
    ("en", "12,345,678.9", "Dec"),
    ("hi", "1,23,45,678.9", "दिस॰"),
    ("zh", "12,345,678.9", "年"),
])
def test_numbers_and_times_follow_the_language(app: Flask, code: str, number: str,
                                               time_mark: str) -> None:
    """Server-side numbers and times use the language's conventions (Indian digit grouping in
    Hindi, year-month-day in Chinese); a missing value is a dash."""
    with app.test_request_context(f"/?lang={code}"):
        assert i18n.format_number(12345678.94, 1) == number
        assert i18n.format_number(None) == i18n.NO_VALUE
        when = i18n.format_time_s(datetime(2026, 12, 7, 13, 5, tzinfo=UTC).timestamp())
        assert time_mark in when and "2026" in when
        assert i18n.format_time_s(None) == i18n.NO_VALUE


@pytest.mark.parametrize("code", ["hi", "zh"])
def test_pages_carry_the_scripts_catalogue(app: Flask, code: str) -> None:
    """Each page embeds the browser messages of its language (the same as /i18n/<code>.json),
    so units and labels drawn by the scripts are translated too."""
    c = Client(app, "operator")
    page = _text(c.get(f"/flights?lang={code}"))
    messages = _embedded(page)
    assert messages["%(n)s min"] == _translated(code, "%(n)s min")
    assert messages["Hillshade (offline)"] == _translated(code, "Hillshade (offline)")
    served = c.get(f"/i18n/{code}.json")
    assert served.status_code == 200 and served.json == messages
    again = c.get(f"/i18n/{code}.json", headers={"If-None-Match": served.headers["ETag"]})
    assert again.status_code == 304
    assert c.get("/i18n/en.json").json == {}
    assert c.get("/i18n/xx.json").status_code == 404


@pytest.mark.parametrize("value", ["fr", "klingon", "<script>alert(1)</script>", "e" * 500])
def test_an_unknown_language_is_a_clear_400(app: Flask, value: str) -> None:
    """A language the console does not speak is refused with a 400 naming the choices (shown
    as text), the saved language stays, and the refusal is audited."""
    c = Client(app, "engineer")
    assert _choose(c, "hi").status_code == 303
    r = _choose(c, value)
    assert r.status_code == 400
    page = _text(r)
    assert "Expected one of en, hi, zh" in page
    assert "<script>alert(1)" not in page
    assert c.get("/api/me").json["language"] == "hi"
    rows = _language_rows(app)
    assert rows[0] == ("engineer", "ok", "hi")
    assert rows[-1][:2] == ("engineer", "failed") and len(rows) == 2


def test_the_language_change_is_csrf_checked_and_audited(app: Flask) -> None:
    """Without the CSRF token the change is refused and nothing is saved; with it the change
    is audited with the language chosen; nobody logged in cannot change anything."""
    c = Client(app, "operator")
    r = c.http.post("/account/language", data={"language": "hi"})
    assert r.status_code == 400
    assert c.get("/api/me").json["language"] is None
    assert _language_rows(app) == []
    assert _choose(c, "zh").status_code == 303
    assert _choose(c, "").status_code == 303
    assert _language_rows(app) == [("operator", "ok", "zh"), ("operator", "ok", "the browser's")]
    nobody = Client(app, None)
    r = _choose(nobody, "hi")
    assert r.status_code in (302, 401)
    assert len(_language_rows(app)) == 2


def test_a_bad_lang_parameter_is_ignored(app: Flask) -> None:
    """``?lang=`` with a language the console does not speak (or markup) falls back to the
    browser's language and never reaches the page."""
    c = Client(app, None)
    r = c.get("/login?lang=%22%3E%3Cscript%3Ealert(1)%3C/script%3E",
              headers={"Accept-Language": "hi"})
    page = _text(r)
    assert r.status_code == 200 and '<html lang="hi">' in page
    assert "<script>alert(1)" not in page


def test_translations_reach_the_page_as_text(app: Flask, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    """A script message that looks like markup stays inside the page's JSON attribute
    (escaped), never opening an element; pages carry no inline script."""
    evil = {"Online map": "</script><script>alert(1)</script><b>x</b>"}
    monkeypatch.setattr(i18n, "js_catalogue", lambda code: evil)
    page = _text(Client(app, "operator").get("/plans?lang=hi"))
    assert "<script>alert(1)" not in page and "<b>x</b>" not in page
    assert _embedded(page) == evil
    assert "<script>" not in page and page.count("<script") == page.count("<script src=")


def _placeholders(text: str) -> list[str]:
    return sorted(re.findall(r"%\(\w+\)s|%%", text))


@pytest.mark.parametrize("code", ["hi", "zh"])
def test_every_message_is_translated_safely(code: str) -> None:
    """Every message of the templates, views and scripts has a translation in the compiled
    catalogue, with the same placeholders and no markup (templates do not escape their own
    text); the compiled .mo matches the .po."""
    from babel.messages.extract import extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg
    from babel.messages.mofile import read_mo
    from babel.messages.pofile import read_po

    with (i18n.TRANSLATIONS_DIR / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f)
    keywords = {"_": None, "gettext": None, "lazy_gettext": None, "t": None}
    found = {msg for _, _, msg, _, _ in extract_from_dir(
        str(i18n.TRANSLATIONS_DIR.parent), method_map, options_map, keywords=keywords)}
    assert len(found) > 150
    folder = i18n.TRANSLATIONS_DIR / i18n.LANGUAGES[code].locale / "LC_MESSAGES"
    with (folder / "messages.po").open("rb") as f:
        po = {m.id: m.string for m in read_po(f) if m.id}
    with (folder / "messages.mo").open("rb") as f:
        mo = {m.id: m.string for m in read_mo(f) if m.id}
    missing = sorted(m for m in found if not po.get(m))
    assert missing == []
    assert mo == {k: v for k, v in po.items() if v}
    for msgid in found:
        text = po[msgid]
        assert _placeholders(text) == _placeholders(msgid), (msgid, text)
        assert not re.search(r"[<>&]", text), (msgid, text)


def test_the_password_still_works_after_a_language_change(app: Flask) -> None:
    """Choosing a language changes nothing else of the account (role, password, sessions)."""
    c = Client(app, "admin")
    assert _choose(c, "hi").status_code == 303
    me = c.get("/api/me").json
    assert me["role"] == "admin" and me["username"] == "admin"
    assert services(app).users.check("admin", PASSWORD) is not None
    assert c.get("/users").status_code == 200
