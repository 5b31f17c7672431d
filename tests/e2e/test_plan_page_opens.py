"""The Plan page in a real browser opens on the console's default plan: a draft shows its
depots, drops and no-fly zones on the map before any click; a planned one lists its unserved
drops grouped by reason with a hint."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from tests.e2e.helpers import Watched
from tests.web.helpers import make_app, serve, services

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, str, str, str]]:
    """A console with a draft and a planned plan of the district (no vehicles)."""
    app = make_app(tmp_path_factory.mktemp("plan-page"), SAMPLE_SCENARIO="district")
    with app.app_context():
        plans = services(app).plans
        draft = plans.create("district", username="operator", edits={}).id
        done = plans.create("district", username="operator",
                            edits={"drop_ids": ["P008", "P014", "P019", "P037"]}).id
        plans.run(done)
        plans.wait(done, 300.0)
    try:
        for server in serve(app):
            yield app, server.url, draft, done
    finally:
        services(app).close()


def test_draft_is_on_the_map_right_after_login(console: tuple[Flask, str, str, str],
                                               browser: Any) -> None:
    """Log in: the default draft is open, 5 depot markers and every drop and zone drawn."""
    app, url, draft, _ = console
    app.config["DEFAULT_PLAN"] = draft
    w = Watched(browser, url)
    page = w.login("operator")
    page.wait_for_selector("#plan-panel:not([hidden])")
    assert draft in page.text_content("#plan-title")
    assert page.locator("#plan-state").text_content() == "draft"
    page.wait_for_function("document.querySelectorAll('.leaflet-marker-icon').length === 5")
    # drops and zones are drawn on the map's canvas (Leaflet's preferCanvas): count the pixels
    # in the drop marker grey and the zone red
    page.wait_for_timeout(500)
    drawn = page.evaluate("""() => {
      const c = document.querySelector('.leaflet-overlay-pane canvas');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let grey = 0, red = 0;
      for (let i = 0; i < d.length; i += 4) {
        if (d[i + 3] > 200 && d[i] === 0x55 && d[i + 1] === 0x55 && d[i + 2] === 0x55) grey++;
        if (d[i + 3] > 200 && d[i] === 0xb7 && d[i + 1] === 0x1c && d[i + 2] === 0x1c) red++;
      }
      return {grey, red};
    }""")
    assert drawn["grey"] > 49 * 10 and drawn["red"] > 0, drawn
    w.shot("plan-page-draft")
    w.close()


def test_unserved_drops_are_grouped_with_a_hint(console: tuple[Flask, str, str, str],
                                                browser: Any) -> None:
    """A planned default plan lists its unserved drops by reason, each group with its hint."""
    app, url, _, done = console
    app.config["DEFAULT_PLAN"] = done
    w = Watched(browser, url)
    page = w.login("operator")
    page.wait_for_selector("#result:not([hidden])")
    groups = page.locator("#unserved li.unserved-group")
    kinds = [groups.nth(i).get_attribute("data-kind") for i in range(groups.count())]
    assert "range" in kinds, kinds
    text = page.text_content("#unserved") or ""
    assert "out of range from every depot" in text
    assert "add a depot nearer or a longer-range drone type" in text
    assert "P008" in text
    w.shot("plan-page-unserved")
    w.close()
