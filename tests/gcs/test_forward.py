"""Forwarding outputs: a third-party client (dronekit2, or a bare MAVLink socket) watches the
vehicles through an output; a read-only output cannot change them."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from gcs import mavlink as mav
from gcs.forward import Forwarder, OutputSpec, notable, read_only_allows
from gcs.link import Link
from gcs.telemetry import TelemetryHub
from planner.errors import InputError
from tests.gcs.helpers import HOME
from tests.helpers.ports import free_tcp_port, free_udp_port
from tests.helpers.waiting import wait_until

_D = mav.dialect


@pytest.fixture
def watched(sim: Any) -> Iterator[Callable[..., tuple[Any, list[Link], Forwarder]]]:
    """Factory ``watched(vehicles, outputs)``: a simulated fleet, one link per vehicle with a
    telemetry hub asking for streams, and a forwarder to ``outputs``; all closed afterwards."""
    made: list[tuple[list[Link], TelemetryHub, Forwarder]] = []

    def make(vehicles: int, outputs: list[str]) -> tuple[Any, list[Link], Forwarder]:
        fleet = sim(vehicles, speedup=5.0)
        links = [Link(url).open() for url in fleet.connection_strings]
        hub = TelemetryHub(stream_rate_hz=4)
        for link in links:
            hub.attach(link)
        hub.wait_for_vehicles(vehicles, 10.0)
        forwarder = Forwarder(links, [OutputSpec.parse(o) for o in outputs]).open()
        made.append((links, hub, forwarder))
        return fleet, links, forwarder

    yield make
    for links, hub, forwarder in made:
        forwarder.close()
        hub.close()
        for link in links:
            link.close()


@pytest.mark.parametrize(("text", "url", "read_only"), [
    ("udp:127.0.0.1:14550", "udp:127.0.0.1:14550", False),
    ("udp:127.0.0.1:14550,ro", "udp:127.0.0.1:14550", True),
    ("udpout:10.0.0.5:14551", "udpout:10.0.0.5:14551", False),
    ("tcpin:0.0.0.0:5763,ro", "tcpin:0.0.0.0:5763", True),
    ("udpin:0.0.0.0:14552", "udpin:0.0.0.0:14552", False),
])
def test_output_strings_parse(text: str, url: str, read_only: bool) -> None:
    """Output strings keep their URL; a ``,ro`` suffix makes them read-only."""
    spec = OutputSpec.parse(text)
    assert (spec.url, spec.read_only) == (url, read_only)


@pytest.mark.parametrize("text", ["http:127.0.0.1:80", "udp:127.0.0.1", "udp:host:0",
                                  "udp:host:port", "/dev/ttyUSB0,57600", "udp:a:1:2"])
def test_bad_output_strings_are_input_errors(text: str) -> None:
    """An output that is not scheme:HOST:PORT with a known scheme is refused, naming --out."""
    with pytest.raises(InputError, match="--out"):
        OutputSpec.parse(text)


_C = mav.codec(255, 0)


@pytest.mark.parametrize(("msg", "allowed"), [
    (_C.heartbeat_encode(_D.MAV_TYPE_GCS, _D.MAV_AUTOPILOT_INVALID, 0, 0, 0), True),
    (_C.param_request_list_encode(1, 1), True),
    (_C.param_request_read_encode(1, 1, b"FENCE_ENABLE", -1), True),
    (_C.mission_request_list_encode(1, 1, 0), True),
    (_C.mission_request_int_encode(1, 1, 3, 0), True),
    (_C.command_long_encode(1, 1, _D.MAV_CMD_REQUEST_MESSAGE, 0, 148, 0, 0, 0, 0, 0, 0), True),
    (_C.command_long_encode(1, 1, _D.MAV_CMD_COMPONENT_ARM_DISARM, 0, 1, 0, 0, 0, 0, 0, 0),
     False),
    (_C.command_long_encode(1, 1, _D.MAV_CMD_DO_SET_MODE, 0, 1, 4, 0, 0, 0, 0, 0), False),
    (_C.set_mode_encode(1, 1, 4), False),
    (_C.mission_count_encode(1, 1, 5, 0), False),
    (_C.mission_clear_all_encode(1, 1, 0), False),
    (_C.param_set_encode(1, 1, b"FENCE_ENABLE", 0, 9), False),
    (_C.request_data_stream_encode(1, 1, 0, 10, 1), False),
    (_C.rc_channels_override_encode(1, 1, *([1500] * 8)), False),
])
def test_read_only_outputs_pass_requests_only(msg: Any, allowed: bool) -> None:
    """Read-only clients may read (heartbeat, parameters, missions); never command or write."""
    assert read_only_allows(msg) is allowed
    if not allowed:
        assert notable(msg.get_type())


@pytest.mark.sitl
def test_bare_client_sees_every_vehicle_through_udp_output(watched: Any) -> None:
    """A MAVLink socket on an output hears heartbeats and positions of both vehicles."""
    port = free_udp_port()
    client = mav.connect(f"udpin:127.0.0.1:{port}")
    try:
        fleet, _, forwarder = watched(2, [f"udp:127.0.0.1:{port}"])
        beats: set[int] = set()
        positions: dict[int, Any] = {}
        deadline = time.monotonic() + 10
        while (len(beats) < 2 or len(positions) < 2) and time.monotonic() < deadline:
            msg = client.recv_match(type=["HEARTBEAT", "GLOBAL_POSITION_INT"], blocking=True,
                                    timeout=0.5)
            if msg is None:
                continue
            if msg.get_type() == "HEARTBEAT" and msg.autopilot != _D.MAV_AUTOPILOT_INVALID:
                beats.add(msg.get_srcSystem())
            elif msg.get_type() == "GLOBAL_POSITION_INT":
                positions[msg.get_srcSystem()] = msg
        assert beats == {1, 2}
        for sysid, pos in positions.items():
            truth = fleet.vehicle(sysid - 1).snapshot()
            assert pos.lat / 1e7 == pytest.approx(truth.lat_deg, abs=1e-4)
            assert pos.lon / 1e7 == pytest.approx(truth.lon_deg, abs=1e-4)
        [stats] = forwarder.stats()
        assert stats.to_client > 0
    finally:
        client.close()


@pytest.mark.sitl
def test_tcpin_output_serves_a_tcp_client(watched: Any) -> None:
    """A client connecting to a tcpin output hears the vehicle."""
    port = free_tcp_port()
    watched(1, [f"tcpin:127.0.0.1:{port}"])
    client = mav.connect(f"tcp:127.0.0.1:{port}")
    try:
        msg = client.recv_match(type="HEARTBEAT", condition="HEARTBEAT.autopilot==3",
                                blocking=True, timeout=10)
        assert msg is not None and msg.get_srcSystem() == 1
    finally:
        client.close()


def _dronekit_connect(port: int) -> Any:
    dronekit = pytest.importorskip("dronekit")
    return dronekit.connect(f"udp:127.0.0.1:{port}", wait_ready=True, timeout=60,
                            heartbeat_timeout=30)


@pytest.mark.sitl
@pytest.mark.slow
def test_dronekit_script_watches_and_commands_through_an_output(watched: Any) -> None:
    """dronekit2 on a read-write output sees the vehicle's position and can change its mode."""
    dronekit = pytest.importorskip("dronekit")
    port = free_udp_port()
    fleet, _, forwarder = watched(1, [f"udp:127.0.0.1:{port}"])
    vehicle = _dronekit_connect(port)
    try:
        truth = fleet.vehicle(0).snapshot()
        here = vehicle.location.global_frame
        assert (here.lat, here.lon) == pytest.approx((truth.lat_deg, truth.lon_deg), abs=1e-4)
        assert vehicle.last_heartbeat < 5
        vehicle.mode = dronekit.VehicleMode("GUIDED")
        wait_until(lambda: fleet.vehicle(0).snapshot().mode == "GUIDED", 15, "GUIDED")
        wait_until(lambda: vehicle.mode.name == "GUIDED", 10, "dronekit to see GUIDED")
        [stats] = forwarder.stats()
        assert stats.forwarded > 0 and stats.dropped == 0
    finally:
        vehicle.close()


@pytest.mark.sitl
@pytest.mark.slow
def test_read_only_output_cannot_change_the_mode(watched: Any,
                                                caplog: pytest.LogCaptureFixture) -> None:
    """dronekit2 on a ``,ro`` output watches, but its mode change is dropped and logged."""
    dronekit = pytest.importorskip("dronekit")
    port = free_udp_port()
    fleet, _, forwarder = watched(1, [f"udp:127.0.0.1:{port},ro"])
    before = fleet.vehicle(0).snapshot().mode
    assert before != "GUIDED"
    vehicle = _dronekit_connect(port)
    try:
        assert vehicle.location.global_frame.lat == pytest.approx(HOME[0], abs=1e-3)
        with caplog.at_level(logging.WARNING, logger="gcs.forward"):
            vehicle.mode = dronekit.VehicleMode("GUIDED")
            wait_until(lambda: forwarder.stats()[0].dropped > 0 and any(
                "read-only" in r.getMessage() and "MODE" in r.getMessage()
                for r in caplog.records), 10, "the dropped mode change to be logged")
        time.sleep(1.0)
        assert fleet.vehicle(0).snapshot().mode == before
        assert vehicle.mode.name == before
    finally:
        vehicle.close()


@pytest.mark.sitl
def test_status_command_forwards_while_it_watches(sim: Any, capsys: Any) -> None:
    """``dropline status --out`` forwards the vehicle to a client for as long as it runs."""
    from dropline.cli import main

    fleet = sim()
    port = free_udp_port()
    client = mav.connect(f"udpin:127.0.0.1:{port}")
    beats: list[Any] = []

    def listen() -> None:
        deadline = time.monotonic() + 6
        while not beats and time.monotonic() < deadline:
            msg = client.recv_match(type="HEARTBEAT", blocking=True, timeout=0.5)
            if msg is not None and msg.autopilot != _D.MAV_AUTOPILOT_INVALID:
                beats.append(msg)

    thread = threading.Thread(target=listen)
    thread.start()
    try:
        code = main(["status", "--connect", fleet.connection_strings[0], "--wait", "1",
                     "--watch", "--timeout", "2", "--out", f"udp:127.0.0.1:{port},ro"])
    finally:
        thread.join()
        client.close()
    assert code == 0
    assert beats and beats[0].get_srcSystem() == 1
    assert capsys.readouterr().out.count("system   1 ") >= 2
