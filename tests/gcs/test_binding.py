"""Vehicles bound to the link and address they were first heard on: spoofed heartbeats on
another link or from another address are flagged and change nothing; new vehicles on a
listening link wait for an operator. Real sockets, the built-in simulator on TCP."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from gcs import mavlink as mav
from gcs.binding import SpoofFlag, VehicleBinding
from gcs.fleet.assign import assign_vehicles
from gcs.link import Link
from gcs.telemetry import TelemetryHub
from tests.gcs.helpers_binding import heartbeat, send
from tests.helpers.ports import free_udp_port
from tests.helpers.waiting import wait_until

_D = mav.dialect


@pytest.fixture
def spoofer() -> Iterator[socket.socket]:
    """A UDP socket on loopback (its own address and port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock


@pytest.mark.sitl
def test_spoofed_vehicle_on_another_link_is_flagged_not_merged(
        sim: Any, spoofer: socket.socket) -> None:
    """Vehicle 1 flies on TCP; HEARTBEATs claiming it (RTL, armed) over a UDP listening link of
    the same fleet are flagged once and leave its state alone; a new system id 77 heard there
    waits for an operator and is no vehicle to assign until accepted."""
    fleet = sim()
    flagged: list[SpoofFlag] = []
    binding = VehicleBinding(confirm_listening=True, on_flag=flagged.append)
    port = free_udp_port()
    udp_url = f"udpin:127.0.0.1:{port}"
    tcp = Link(fleet.connection_strings[0], binding=binding).open()
    udp = Link(udp_url, binding=binding).open()
    hub = TelemetryHub(stream_rate_hz=4.0)
    try:
        hub.attach(tcp)
        hub.attach(udp)
        wait_until(lambda: (s := hub.snapshot(1)) is not None and s.mode != "UNKNOWN", 10,
                   "vehicle 1")
        before = hub.snapshot(1)
        assert before is not None and before.mode != "RTL" and not before.armed
        send(spoofer, port, heartbeat(1, "RTL", armed=True))
        send(spoofer, port, heartbeat(77, "LOITER", armed=False))
        wait_until(lambda: len(flagged) >= 2, 5, "the spoof flagged")
        time.sleep(0.5)  # every spoofed packet has arrived by now
        snap = hub.snapshot(1)
        assert snap is not None and snap.mode == fleet.vehicle(0).snapshot().mode != "RTL"
        assert not snap.armed and snap.link_url == fleet.connection_strings[0]
        where = f"127.0.0.1:{spoofer.getsockname()[1]}"
        other = [f for f in flagged if f.sysid == 1]
        assert [f.kind for f in other] == ["other link"]
        assert other[0].message.startswith(f"system id 1 heard on another link {udp_url}")
        assert other[0].address == where
        assert [f.count for f in binding.flags() if f.sysid == 1] == [5]
        assert [(b.sysid, b.confirmed) for b in binding.unconfirmed()] == [(77, False)]
        assert hub.vehicles == (1,)
        assert assign_vehicles(["hub/quad/1"], hub.vehicles) == {"hub/quad/1": 1}
        binding.accept(77)
        send(spoofer, port, heartbeat(77, "LOITER", armed=False))
        wait_until(lambda: hub.vehicles == (1, 77), 5, "vehicle 77 accepted")
    finally:
        hub.close()
        tcp.close()
        udp.close()


def test_vehicle_on_a_listening_link_keeps_its_first_address(spoofer: socket.socket) -> None:
    """On ``udpin:`` a vehicle belongs to the address it was first heard from: the same system
    id from another address is flagged, and the link answers only the first one."""
    port = free_udp_port()
    link = Link(f"udpin:127.0.0.1:{port}", heartbeat_period_s=0.1).open()
    hub = TelemetryHub(stream_rate_hz=0)
    hub.attach(link)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as vehicle:
        vehicle.bind(("127.0.0.1", 0))
        vehicle.settimeout(2.0)
        try:
            send(vehicle, port, heartbeat(2, "GUIDED", armed=False), 1)
            wait_until(lambda: (s := hub.snapshot(2)) is not None and s.mode == "GUIDED", 5,
                       "vehicle 2")
            send(spoofer, port, heartbeat(2, "LAND", armed=True))
            wait_until(lambda: any(f.kind == "other address" for f in link.binding.flags()),
                       5, "the other address flagged")
            snap = hub.snapshot(2)
            assert snap is not None and snap.mode == "GUIDED" and not snap.armed
            assert vehicle.recvfrom(512) is not None  # the link's heartbeat reaches the vehicle
            spoofer.settimeout(0.5)
            with pytest.raises(TimeoutError):
                spoofer.recvfrom(512)
        finally:
            hub.close()
            link.close()
