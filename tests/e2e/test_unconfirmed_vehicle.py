"""The Fleet page shows vehicles waiting to be accepted and spoofed packets: a sender of
HEARTBEATs for a new system id on the console's UDP listening link is listed as unconfirmed, a
crew login cannot accept it, an operator accepts it (confirmed in a dialog) and it becomes a
vehicle; HEARTBEATs claiming the simulated vehicle over that link are shown as a warning."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.e2e.helpers import Watched, confirm
from tests.gcs.helpers import sim as sim
from tests.gcs.helpers_binding import spoofing
from tests.helpers.ports import free_udp_port
from tests.web.helpers import make_app, serve, services
from web import db as tables

pytestmark = [pytest.mark.slow, pytest.mark.sitl]

NEW_SYSID = 77


@pytest.fixture
def console(sim: Any, tmp_path: Path) -> Iterator[tuple[Any, str, str]]:
    """A console with one simulated vehicle on TCP and a UDP listening link; a spoofer sends
    HEARTBEATs for system id 77 and for the simulated vehicle (1) there twice a second."""
    fleet = sim()
    port = free_udp_port()
    udp_url = f"udpin:127.0.0.1:{port}"
    app = make_app(tmp_path / "data", CONNECT=[fleet.connection_strings[0], udp_url],
                   TIME_SCALE=20.0)
    try:
        with spoofing(port, NEW_SYSID):
            for server in serve(app):
                yield app, server.url, udp_url
    finally:
        services(app).close()


def test_an_operator_accepts_a_new_vehicle_a_crew_cannot(console: tuple[Any, str, str],
                                                         browser: Any) -> None:
    """Unconfirmed system 77 is listed with its link; crew sees Accept disabled; the operator
    confirms the dialog and 77 moves to the vehicle list; the spoof of vehicle 1 is a
    warning; the acceptance is audited."""
    app, url, udp_url = console
    crew = Watched(browser, url)
    try:
        page = crew.login("crew")
        page.goto(url + "/fleet")
        item = page.locator(f"#unconfirmed-{NEW_SYSID}")
        item.wait_for()
        assert page.locator("#unconfirmed-vehicles").is_visible()
        assert f"system {NEW_SYSID} on {udp_url} from 127.0.0.1:" in item.text_content()
        assert item.locator("button.accept").is_disabled()
        warning = page.locator("#link-flags .link-flag", has_text="system id 1 heard")
        warning.wait_for()
        assert f"system id 1 heard on another link {udp_url}" in warning.text_content()
        assert warning.text_content().rstrip().endswith("packets)")
        assert page.locator(f"#vehicle-{NEW_SYSID}").count() == 0
    finally:
        crew.close()

    operator = Watched(browser, url)
    try:
        page = operator.login("operator")
        page.goto(url + "/fleet")
        page.locator("#vehicle-1").wait_for()
        button = page.locator(f"#unconfirmed-{NEW_SYSID} button.accept")
        assert button.is_enabled()
        button.click()
        assert f"Accept system {NEW_SYSID}" in page.locator("#confirm-text").text_content()
        confirm(page, "cancel")
        assert page.locator(f"#unconfirmed-{NEW_SYSID}").is_visible()
        button.click()
        confirm(page)
        page.wait_for_selector(f"#fleet-message:has-text('vehicle {NEW_SYSID}: accepted on')")
        page.locator(f"#vehicle-{NEW_SYSID}").wait_for()
        page.locator(f"#unconfirmed-{NEW_SYSID}").wait_for(state="detached")
        assert page.locator("#unconfirmed-vehicles").is_hidden()
        assert page.locator("#link-flags .link-flag", has_text="system id 1 heard").count() == 1
        operator.shot("fleet-accepted-vehicle")
    finally:
        operator.close()
    rows = services(app).db.rows(sa.select(tables.audit_log).where(
        tables.audit_log.c.action == "accept"))
    assert [(r.username, r.target, r.result) for r in rows] == [
        ("operator", f"vehicle {NEW_SYSID}", "ok")]
