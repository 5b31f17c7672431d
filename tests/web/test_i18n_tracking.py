"""The public tracking page and its status JSON in the reader's language (Accept-Language),
kept apart per language by caches, with the hub's own name left as text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from tests.web.helpers import Client, make_app, services
from tests.web.helpers_tracking import fly, two_parcel_plan

IMG = "<img src=x onerror=window.__xss=1>"
CONTACTS = {"north_conway": {"name": f"North Conway hub {IMG}", "phone": "+1 603 555 0100"}}
#: The failed parcel's words, per reader's language.
WORDS = {
    "hi": {"status": "डिलीवरी विफल", "reason": "ड्रोन ड्रॉप बिंदु तक नहीं पहुँच सका।",
           "next": "इसे अगली उड़ान में फिर से भेजा जाएगा", "heading": "पार्सल P020",
           "questions": "कोई प्रश्न?", "lang": "hi"},
    "zh-CN": {"status": "投递失败", "reason": "无人机无法到达投放点。",
              "next": "将在下一架次重新发出", "heading": "包裹 P020", "questions": "有疑问\uff1f",
              "lang": "zh-CN"},
    "en": {"status": "Delivery failed", "reason": "The drone could not reach the drop point.",
           "next": "re-sent on the next sortie", "heading": "Parcel P020",
           "questions": "Questions?", "lang": "en"},
}


@pytest.fixture
def failed_token(tmp_path: Path) -> Iterator[tuple[Flask, str]]:
    """A console with one failed parcel (its hub's name carries markup) and its token."""
    app = make_app(tmp_path / "data", HUB_CONTACTS=CONTACTS)
    c = Client(app, "operator")
    plan_id = two_parcel_plan(app, c)
    _run, tokens = fly(app, plan_id, {"P020": ("failed", {"detail": "vehicle 3 landed away"})})
    yield app, tokens["P020"]
    services(app).close()


@pytest.mark.parametrize("accept", ["hi", "zh-CN", "en"])
def test_the_tracking_page_follows_the_reader(failed_token: tuple[Flask, str],
                                              accept: str) -> None:
    """Page and status JSON say the state, reason and next step in the reader's language;
    the hub's name stays as given and as text."""
    app, token = failed_token
    words = WORDS[accept]
    public = Client(app, None)
    headers = {"Accept-Language": f"{accept},en;q=0.1"}
    r = public.get(f"/track/{token}", headers=headers)
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and f'<html lang="{words["lang"]}">' in page
    assert r.headers["Content-Language"] == words["lang"]
    for key in ("status", "reason", "next", "heading", "questions"):
        assert words[key] in page, key
    assert IMG not in page and "&lt;img src=x" in page
    s = public.get(f"/api/track/{token}", headers=headers).json
    assert s["status"] == words["status"] and s["reason"] == words["reason"]
    assert words["next"] in s["next_step"] and f"North Conway hub {IMG}" in s["next_step"]
    assert s["state"] == "failed"


def test_caches_keep_one_copy_per_language(failed_token: tuple[Flask, str]) -> None:
    """The page and the JSON vary by Accept-Language: another language's ETag never matches,
    the same language's does."""
    app, token = failed_token
    public = Client(app, None)
    for url in (f"/track/{token}", f"/api/track/{token}"):
        hindi = public.get(url, headers={"Accept-Language": "hi"})
        assert "Accept-Language" in hindi.headers["Vary"]
        etag = hindi.headers["ETag"]
        chinese = public.get(url, headers={"Accept-Language": "zh", "If-None-Match": etag})
        assert chinese.status_code == 200 and chinese.headers["ETag"] != etag
        again = public.get(url, headers={"Accept-Language": "hi", "If-None-Match": etag})
        assert again.status_code == 304


def test_an_unknown_link_is_in_the_readers_language(failed_token: tuple[Flask, str]) -> None:
    """A bad tracking link's page is a 404 in the reader's language."""
    app, _token = failed_token
    r = Client(app, None).get("/track/" + "x" * 22, headers={"Accept-Language": "zh-CN"})
    assert r.status_code == 404
    assert "<h1>未知包裹</h1>" in r.get_data(as_text=True)
