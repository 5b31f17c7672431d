"""The Plan page in a real browser shows a planned plan's cost per parcel against the road: the
figures, and per drop two bars (drone, road) with the cheaper way, without script errors or CSP
violations."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from tests.e2e.helpers import Watched
from tests.web.helpers import make_app, serve, services

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, str, str]]:
    """A console with one planned plan of three tutorial drops (no vehicles)."""
    app = make_app(tmp_path_factory.mktemp("plan-cost"), SAMPLE_SCENARIO="tutorial")
    with app.app_context():
        plans = services(app).plans
        done = plans.create("tutorial", username="operator",
                            edits={"drop_ids": ["P014", "P020", "P021"]}).id
        plans.run(done)
        plans.wait(done, 300.0)
    try:
        for server in serve(app):
            yield app, server.url, done
    finally:
        services(app).close()


def test_plan_page_shows_the_cost_per_parcel(console: tuple[Flask, str, str],
                                             browser: Any) -> None:
    """The cost box gives the figures of the plan's summary and one row per delivered drop."""
    app, url, done = console
    app.config["DEFAULT_PLAN"] = done
    w = Watched(browser, url)
    page = w.login("operator")
    page.wait_for_selector("#cost-box:not([hidden])")
    cost = page.evaluate(f"fetch('/api/plans/{done}').then((r) => r.json())"
                         ".then((p) => p.result.summary.cost)")
    figures = page.inner_text("#cost-figures")
    assert f"{cost['cost_per_parcel_yuan']:.2f} yuan per parcel (road 5.00)" in figures
    rows = page.locator("#cost-drops tr[data-cheaper]")
    assert rows.count() == 3
    shown = {rows.nth(i).locator("td").first.text_content(): rows.nth(i).get_attribute(
        "data-cheaper") for i in range(3)}
    assert shown == {d["drop_id"]: d["cheaper"] for d in cost["drops"]}
    widths = page.evaluate("[...document.querySelectorAll('#cost-drops .cost-bar')]"
                           ".map((b) => b.getBoundingClientRect().width)")
    assert len(widths) == 6 and all(width > 0 for width in widths), widths
    page.locator("#cost-box").scroll_into_view_if_needed()
    w.shot("plan-page-cost")
    w.close()
