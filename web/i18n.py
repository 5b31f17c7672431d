"""The console's languages: English, Hindi and Simplified Chinese (Flask-Babel).

Templates translate their text with ``{{ _("...") }}``; the message catalogues are
``web/translations/<locale>/LC_MESSAGES/messages.po`` with their compiled ``.mo`` beside them
(both are in the package). Browser code translates with ``dropline.t("...")``: each page embeds
the JSON catalogue of its language (:func:`js_catalogue`: the messages of ``web/static/*.js``,
also served at ``/i18n/<language>.json``).

Which language a request gets (:func:`choose_language`): a valid ``?lang=`` parameter, else the
language set on the user's account, else the best match of the browser's ``Accept-Language``,
else English. Units stay metric; numbers and times follow the language's conventions (Babel's
``format_decimal`` and ``format_datetime`` here, ``Intl`` in the browser).

Adding a language: add it to :data:`LANGUAGES`, run
``pybabel init -i web/translations/messages.pot -d web/translations -l <locale>``, translate
every message, then ``pybabel compile -d web/translations`` (the tests check that every message
of the templates and scripts has a translation in every catalogue).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from babel.messages.mofile import read_mo
from flask import Flask, Response, abort, request
from flask_babel import Babel, format_datetime, format_decimal, get_locale, gettext, lazy_gettext

TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"
#: What a page shows for a missing number or time (an en dash).
NO_VALUE = "\u2013"


@dataclass(frozen=True, slots=True, kw_only=True)
class Language:
    """One language of the console.

    Attributes
    ----------
    code
        The short code stored with an account and taken by ``?lang=`` (``"zh"``).
    locale
        Babel's locale identifier, also the catalogue's folder name (``"zh_Hans_CN"``).
    html_lang
        The BCP 47 tag of ``<html lang>`` and the browser's ``Intl`` (``"zh-CN"``).
    name
        The language's own name, as a menu shows it.
    """

    code: str
    locale: str
    html_lang: str
    name: str


#: The console's languages, English first (the source language of every message).
LANGUAGES: dict[str, Language] = {
    "en": Language(code="en", locale="en", html_lang="en", name="English"),
    "hi": Language(code="hi", locale="hi", html_lang="hi", name="हिन्दी"),
    "zh": Language(code="zh", locale="zh_Hans_CN", html_lang="zh-CN", name="简体中文"),
}
DEFAULT = "en"
#: The roles' names as pages show them (the role itself is stored in English).
ROLE_NAMES = {"operator": lazy_gettext("operator"), "crew": lazy_gettext("crew"),
              "engineer": lazy_gettext("engineer"), "admin": lazy_gettext("admin")}
#: A parcel's state as the public tracking page words it (the service's English wording).
TRACK_STATES = {"planned": lazy_gettext("Scheduled"),
                "queued": lazy_gettext("Waiting for take-off"),
                "en_route": lazy_gettext("On its way"),
                "released": lazy_gettext("Being delivered"),
                "delivered": lazy_gettext("Delivered"),
                "failed": lazy_gettext("Delivery failed")}
#: A failed delivery's reasons as the tracking service words them, in the reader's language.
TRACK_REASONS = {
    "The delivery flight did not take place.":
        lazy_gettext("The delivery flight did not take place."),
    "Nobody collected the parcel at the drop point.":
        lazy_gettext("Nobody collected the parcel at the drop point."),
    "The drone could not reach the drop point.":
        lazy_gettext("The drone could not reach the drop point."),
}
#: Other spellings a ``?lang=`` parameter or an old setting may use.
_ALIASES = {"zh_cn": "zh", "zh-cn": "zh", "zh_hans": "zh", "zh-hans": "zh",
            "zh_hans_cn": "zh", "zh-hans-cn": "zh", "hi_in": "hi", "hi-in": "hi",
            "en_us": "en", "en-us": "en", "en_gb": "en", "en-gb": "en"}


def language_code(value: object) -> str | None:
    """The code of :data:`LANGUAGES` that ``value`` names (any case, ``-`` or ``_``), or None.

    Examples
    --------
    >>> language_code("zh-CN"), language_code("HI"), language_code("fr")
    ('zh', 'hi', None)
    """
    if not isinstance(value, str):
        return None
    key = value.strip().lower()
    if key in LANGUAGES:
        return key
    return _ALIASES.get(key)


def choose_language(user_language: str | None) -> str:
    """The language code of this request: ``?lang=``, the account's setting, the browser's
    ``Accept-Language``, English."""
    asked = language_code(request.args.get("lang"))
    if asked is not None:
        return asked
    saved = language_code(user_language)
    if saved is not None:
        return saved
    return browser_language(request.accept_languages)


def browser_language(accepted: Iterable[tuple[str, float]]) -> str:
    """The code of the first language of an ``Accept-Language`` list (best first) that the
    console speaks, by its primary tag ("zh-TW" reads Simplified Chinese before English); else
    English.

    Examples
    --------
    >>> browser_language([("fr-FR", 1.0), ("zh-TW", 0.8), ("en", 0.5)])
    'zh'
    >>> browser_language([("de", 1.0)])
    'en'
    """
    for tag, quality in accepted:
        if quality <= 0:
            continue
        code = language_code(tag) or language_code(tag.replace("_", "-").split("-")[0])
        if code is not None:
            return code
    return DEFAULT


def current_language() -> Language:
    """The :class:`Language` of this request (English outside one)."""
    locale = get_locale()
    name = str(locale) if locale is not None else DEFAULT
    for lang in LANGUAGES.values():
        if lang.locale == name:
            return lang
    return LANGUAGES[DEFAULT]


@functools.cache
def _js_messages() -> frozenset[str]:
    """The message ids of the browser's scripts, from the catalogue template (.pot)."""
    from babel.messages.pofile import read_po

    pot = TRANSLATIONS_DIR / "messages.pot"
    if not pot.is_file():
        return frozenset()
    with pot.open("rb") as f:
        template = read_po(f)
    return frozenset(m.id for m in template if isinstance(m.id, str) and m.id and
                     any(path.endswith(".js") for path, _ in m.locations))


@functools.cache
def js_catalogue(code: str) -> dict[str, str]:
    """The JSON catalogue of the browser's messages in language ``code``: ``{msgid: msgstr}``
    for every message of ``web/static/*.js`` (empty for English, whose text is the msgid)."""
    if code == DEFAULT:
        return {}
    lang = LANGUAGES[code]
    mo = TRANSLATIONS_DIR / lang.locale / "LC_MESSAGES" / "messages.mo"
    if not mo.is_file():
        return {}
    with mo.open("rb") as f:
        catalog = read_mo(f)
    ids = _js_messages()
    return {str(m.id): str(m.string) for m in catalog
            if isinstance(m.id, str) and m.id in ids and m.string}


def _etag(code: str) -> str:
    text = json.dumps(js_catalogue(code), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def format_time_s(epoch_s: float | None) -> str:
    """A Unix time as a date and time in this request's language (UTC), :data:`NO_VALUE` for
    None."""
    if epoch_s is None:
        return NO_VALUE
    return str(format_datetime(datetime.fromtimestamp(epoch_s, UTC), "medium"))


def format_number(value: float | None, digits: int = 1) -> str:
    """A number with at most ``digits`` (up to 3) decimals in this request's language (its
    digit grouping: 1,23,45,678 in Hindi), :data:`NO_VALUE` for None."""
    if value is None:
        return NO_VALUE
    # the language's own pattern (its digit grouping), which shows up to 3 decimals
    return str(format_decimal(round(value, min(digits, 3))))


def translated_track(status: Mapping[str, Any]) -> dict[str, Any]:
    """A parcel's public status (:meth:`web.deliveries.DeliveryService.track`) with its words
    (state, failure reason, next step) in this request's language; the rest as it is."""
    out = dict(status)
    state = str(status.get("state"))
    if state in TRACK_STATES:
        out["status"] = str(TRACK_STATES[state])
    reason = status.get("reason")
    if isinstance(reason, str) and reason in TRACK_REASONS:
        out["reason"] = str(TRACK_REASONS[reason])
    if status.get("next_step"):
        hub = str((status.get("contact") or {}).get("name") or "")
        out["next_step"] = gettext("The parcel is back at the hub: it will be re-sent on the "
                                   "next sortie, or it can be collected at %(hub)s.", hub=hub)
    return out


def init_app(app: Flask, user_language: Callable[[], str | None]) -> None:
    """Attach Flask-Babel to ``app``: the language of each request, the template helpers
    (``_``, ``html_lang``, ``js_messages``, the ``localtime`` and ``localnumber`` filters) and
    the JSON catalogues at ``/i18n/<code>.json``.

    Parameters
    ----------
    app
        The console app.
    user_language
        The language code saved with the logged-in user's account (None: not set, or nobody
        logged in).
    """

    def select() -> str:
        return LANGUAGES[choose_language(user_language())].locale

    Babel(app, locale_selector=select, default_translation_directories=str(TRANSLATIONS_DIR))
    app.jinja_env.filters["localtime"] = format_time_s
    app.jinja_env.filters["localnumber"] = format_number

    @app.context_processor
    def language_globals() -> dict[str, Any]:
        lang = current_language()
        return {"html_lang": lang.html_lang, "language": lang.code, "languages": LANGUAGES,
                "role_names": ROLE_NAMES,
                "js_messages": js_catalogue(lang.code)}

    @app.after_request
    def language_headers(response: Response) -> Response:
        """Pages say their language, and caches keep one copy per ``Accept-Language``."""
        if response.mimetype == "text/html":
            response.headers["Content-Language"] = current_language().html_lang
            response.vary.add("Accept-Language")
            response.vary.add("Cookie")
        return response

    @app.route("/i18n/<code>.json")
    def i18n_catalogue(code: str) -> Response:
        """The browser's messages in one language, cacheable (validated by its ETag)."""
        if code not in LANGUAGES:
            abort(404)
        response = Response(json.dumps(js_catalogue(code), ensure_ascii=False),
                            mimetype="application/json")
        response.set_etag(_etag(code))
        response.headers["Cache-Control"] = "public, max-age=86400"
        response.headers["Content-Language"] = LANGUAGES[code].html_lang
        response.make_conditional(request)
        return response
