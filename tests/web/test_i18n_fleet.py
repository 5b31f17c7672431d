"""The Fleet page in Hindi and Simplified Chinese: its headings and buttons, and the messages
its scripts draw (cards, staleness, alerts) carried in the page's catalogue."""

from __future__ import annotations

import html
import json
import re

import pytest
from flask import Flask

from tests.web.helpers import Client

#: Fleet page text (headings, buttons) and script messages, as each language shows them.
PAGE = {
    "hi": {"Drops": "ड्रॉप", "Alerts": "चेतावनियाँ", "Upload and verify": "अपलोड और सत्यापित करें",
           "Unconfirmed vehicles": "अपुष्ट वाहन"},
    "zh": {"Drops": "投放点", "Alerts": "警报", "Upload and verify": "上传并校验",
           "Unconfirmed vehicles": "未确认的飞行器"},
}
SCRIPT = {
    "hi": {"STALE": "पुराना डेटा", "last heard %(age)s ago": "अंतिम संपर्क %(age)s पहले",
           "offline since %(time)s": "%(time)s से ऑफ़लाइन", "Acknowledge": "स्वीकार करें",
           "CRITICAL": "गंभीर", "battery %(pct)s%%": "बैटरी %(pct)s%%"},
    "zh": {"STALE": "数据过时", "last heard %(age)s ago": "最后收到于 %(age)s前",
           "offline since %(time)s": "自 %(time)s 起离线", "Acknowledge": "确认",
           "CRITICAL": "严重", "battery %(pct)s%%": "电池 %(pct)s%%"},
}


@pytest.mark.parametrize("code", ["hi", "zh"])
def test_the_fleet_page_and_its_scripts_speak_the_language(app: Flask, code: str) -> None:
    """``/fleet?lang=`` has its headings and buttons translated (no English left of them) and
    carries the scripts' card, staleness and alert messages in the language."""
    page = Client(app, "operator").get(f"/fleet?lang={code}").get_data(as_text=True)
    for english, translated in PAGE[code].items():
        assert f">{translated}<" in page, english
        assert f">{english}<" not in page, english
    found = re.search(r"data-messages='([^']*)'", page)
    assert found is not None
    messages = json.loads(html.unescape(found.group(1)))
    for english, translated in SCRIPT[code].items():
        assert messages[english] == translated


def test_the_fleet_page_stays_english_by_default(app: Flask) -> None:
    """An English reader gets the English page and no script catalogue."""
    page = Client(app, "operator").get(
        "/fleet", headers={"Accept-Language": "en-GB"}).get_data(as_text=True)
    assert "<h2>Drops</h2>" in page and ">Upload and verify<" in page
    assert "data-messages='{}'" in page
