"""Vehicle trust through a worker: a system id first heard on a worker's UDP listening link
waits for an operator (listed as unconfirmed by the console, not a vehicle: no state, no
command) until accepted through the console; HEARTBEATs claiming the worker's TCP vehicle over
that link change nothing. A real Mosquitto, a ``dropline worker`` process, the built-in
simulator, a console in broker mode."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gcs.bus.state import vehicle_id
from tests.gcs.helpers import sim as sim
from tests.gcs.helpers_binding import spoofing
from tests.helpers.mosquitto import running_mosquitto
from tests.helpers.ports import free_udp_port
from tests.helpers.waiting import wait_until
from tests.web.helpers import Client, make_app, services
from tests.web.test_broker import worker_process

pytestmark = [pytest.mark.slow, pytest.mark.sitl]

NEW = 77
#: The console's ids of the hub's TCP vehicle and of the newcomer.
V1, V77 = vehicle_id("north", 1), vehicle_id("north", NEW)


@pytest.fixture
def spoofer() -> Iterator[int]:
    """A UDP port receiving HEARTBEATs twice a second from system 77 (LOITER) and claiming
    system 1 (RTL, armed), until the test ends."""
    port = free_udp_port()
    with spoofing(port, NEW):
        yield port


def _shown(c: Client) -> dict[int, dict[str, Any]]:
    return {v["sysid"]: v for v in c.get("/api/fleet").json["vehicles"]}


def test_a_newcomer_on_a_workers_listening_link_waits_for_an_operator(
        sim: Any, spoofer: int, tmp_path: Path) -> None:
    """System 77 on the worker's UDP link is listed as unconfirmed and is no vehicle (a
    command is 404) until an operator accepts it (a crew login cannot); system 1 stays the
    TCP vehicle whatever the UDP link claims."""
    fleet = sim()
    port = spoofer
    with running_mosquitto(tmp_path / "broker", ["north"]) as broker, \
            worker_process(broker, [fleet.connection_strings[0], f"udpin:127.0.0.1:{port}"],
                           tmp_path) as (proc, log):
        app = make_app(tmp_path / "console", BROKER=broker.url("console"))
        try:
            operator = Client(app, "operator")
            wait_until(lambda: [u["sysid"] for u in operator.get("/api/fleet").json[
                "unconfirmed"]] == [V77] and V1 in _shown(operator), 20,
                "vehicle 1 shown and 77 waiting", period_s=0.2)
            shown = _shown(operator)
            assert set(shown) == {V1}
            assert shown[V1]["mode"] != "RTL" and not shown[V1]["armed"]
            [waiting] = operator.get("/api/fleet").json["unconfirmed"]
            assert (waiting["hub"], waiting["hub_sysid"]) == ("north", NEW)
            assert operator.post(f"/api/fleet/vehicles/{V77}/rtl").status_code == 404
            assert Client(app, "crew").post(
                f"/api/fleet/vehicles/{V77}/accept").status_code == 403
            assert operator.post(f"/api/fleet/vehicles/{V1}/accept").status_code == 404
            r = operator.post(f"/api/fleet/vehicles/{V77}/accept")
            assert r.status_code == 200, r.json
            [result] = r.json["results"]
            assert result["ok"] and f"accepted on udpin:127.0.0.1:{port}" in result["detail"]
            assert "worker w-north" in result["detail"], result
            wait_until(lambda: V77 in _shown(operator), 10, "vehicle 77 shown", period_s=0.2)
            assert operator.get("/api/fleet").json["unconfirmed"] == []
            assert _shown(operator)[V1]["mode"] != "RTL"
            assert proc.poll() is None, log.read_text()
        finally:
            services(app).close()
