"""The Fleet page, unchanged, in a browser on a console in broker mode: the worker's vehicles
show as cards, an operator's RTL from a card reaches the simulated vehicle through the worker,
and the page logs no error (real Mosquitto, worker, copters and headless chromium)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gcs.bus.state import vehicle_id
from gcs.bus.url import BrokerUrl
from gcs.bus.worker import HubWorker
from tests.e2e.helpers import Watched, confirm
from tests.helpers.mosquitto import running_mosquitto
from tests.helpers.ports import free_base_port
from tests.helpers.waiting import wait_until
from tests.web.helpers import make_app, serve, services

HOME = (44.0618, -71.1369, 160.0)
#: The cards of north's vehicles 1 and 2 (by the console's id of hub and system id).
CARD1, CARD2 = (f"#vehicle-{vehicle_id('north', s)}" for s in (1, 2))


@pytest.mark.slow
def test_the_fleet_page_works_through_the_broker(tmp_path: Path, browser: Any) -> None:
    """Two vehicle cards naming hub and system id and no offline worker among the links;
    RTL from vehicle 2's card is confirmed by the worker and the simulated vehicle flies
    RTL."""
    from sitl.builtin import BuiltinFleet

    with running_mosquitto(tmp_path / "broker", ["north"]) as broker:
        fleet = BuiltinFleet(vehicles=2, home=HOME, speedup=10.0,
                             base_port=free_base_port(2), settle_s=1.0)
        fleet.start()
        worker = HubWorker(hub="north", worker_id="w-north",
                           broker=BrokerUrl.parse(broker.url("worker-north")),
                           connect=fleet.connection_strings)
        app = make_app(tmp_path / "console", BROKER=broker.url("console"))
        try:
            worker.start()
            for server in serve(app):
                w = Watched(browser, server.url)
                page = w.login("operator")
                page.click("#nav-fleet")
                page.wait_for_selector(CARD2)
                page.wait_for_selector(CARD1)
                page.wait_for_function(   # the hub comes from /api/fleet
                    f"() => document.querySelector('{CARD2}').textContent"
                    ".includes('hub north system 2')")
                assert page.inner_text("#links") == ""   # no worker offline
                page.click(f"{CARD2} button[data-verb='rtl']")
                confirm(page)
                page.wait_for_function(
                    "() => document.querySelector('#fleet-message').textContent"
                    ".includes('worker w-north')")
                wait_until(lambda: fleet.vehicle(1).snapshot().mode == "RTL", 10,
                           "vehicle 2 in RTL")
                page.wait_for_function(
                    f"() => document.querySelector('{CARD2}').textContent"
                    ".includes('RTL')")
                w.shot("broker-fleet")
                w.close()
        finally:
            services(app).close()
            worker.close()
            fleet.stop()
