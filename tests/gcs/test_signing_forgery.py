"""MAVLink 2 signing against forged and replayed packets: the signature is checked before a
packet may move a stream's timestamp, old timestamps are refused, against the built-in
simulator over a real UDP link."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from gcs import commands
from gcs import mavlink as mav
from gcs.link import Link
from gcs.signing import enable_signing
from gcs.transfer import Target

_D = mav.dialect
KEY = bytes(range(32))
TEN_YEARS = 10 * 365 * 24 * 3600 * 100_000


def signed_codec(key: bytes, timestamp: int, *, sysid: int = 1, compid: int = 1,
                 link_id: int = 0) -> Any:
    """A codec that signs as vehicle ``sysid`` with ``key`` from ``timestamp`` on."""
    codec = mav.codec(sysid, compid)
    codec.signing.secret_key = key
    codec.signing.sign_outgoing = True
    codec.signing.link_id = link_id
    codec.signing.timestamp = timestamp
    return codec


def heartbeat(codec: Any, mode: str = "STABILIZE", armed: bool = False) -> bytes:
    """A copter HEARTBEAT packed (and signed, if the codec signs)."""
    base = _D.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED | (_D.MAV_MODE_FLAG_SAFETY_ARMED if armed else 0)
    return bytes(codec.heartbeat_encode(_D.MAV_TYPE_QUADROTOR, _D.MAV_AUTOPILOT_ARDUPILOTMEGA,
                                        base, mav.COPTER_MODES[mode],
                                        _D.MAV_STATE_STANDBY).pack(codec))


def receiver(key: bytes) -> Any:
    """A ground-station codec checking signatures with ``key``, refusing unsigned packets."""
    codec = mav.codec(mav.GCS_SYSTEM_ID, mav.GCS_COMPONENT_ID)
    codec.signing.secret_key = key
    codec.signing.timestamp = mav.signing_now()
    return codec


def accepted(codec: Any, packet: bytes) -> bool:
    """The codec decoded ``packet`` into a message (not BAD_DATA)."""
    return any(m.get_type() != "BAD_DATA" for m in codec.parse_buffer(packet) or [])


def test_forged_future_packet_moves_no_timestamp() -> None:
    """A wrongly signed packet dated ten years ahead leaves the stream open to genuine ones."""
    rx = receiver(KEY)
    vehicle = signed_codec(KEY, mav.signing_now())
    assert accepted(rx, heartbeat(vehicle))
    local = rx.signing.timestamp
    forged = signed_codec(bytes(32), mav.signing_now() + TEN_YEARS)
    assert not accepted(rx, heartbeat(forged, "RTL", armed=True))
    assert rx.signing.timestamp < local + TEN_YEARS
    assert accepted(rx, heartbeat(vehicle))


@pytest.mark.parametrize("link_id", [0, 9])
def test_forged_packet_on_a_new_stream_opens_nothing(link_id: int) -> None:
    """A forged packet on a stream never heard does not create it with its timestamp."""
    rx = receiver(KEY)
    forged = signed_codec(bytes(32), mav.signing_now() + TEN_YEARS, link_id=link_id)
    assert not accepted(rx, heartbeat(forged))
    assert rx.signing.stream_timestamps == {}
    assert accepted(rx, heartbeat(signed_codec(KEY, mav.signing_now(), link_id=link_id)))


def test_replayed_and_stale_packets_are_refused() -> None:
    """The same packet twice, an older one, and a new stream over a minute old are refused."""
    rx = receiver(KEY)
    vehicle = signed_codec(KEY, mav.signing_now())
    first, second = heartbeat(vehicle), heartbeat(vehicle)
    assert accepted(rx, second)
    assert not accepted(rx, second)
    assert not accepted(rx, first)
    stale = signed_codec(KEY, mav.signing_now() - 2 * mav.SIGNING_MINUTE, link_id=3)
    assert not accepted(rx, heartbeat(stale))
    recent = signed_codec(KEY, mav.signing_now() - mav.SIGNING_MINUTE // 2, link_id=4)
    assert accepted(rx, heartbeat(recent))


def test_genuine_future_packet_moves_the_local_timestamp() -> None:
    """A correctly signed packet ahead of the local clock is taken and followed, as the
    signing rules ask (the sender holds the key)."""
    rx = receiver(KEY)
    ahead = mav.signing_now() + 10 * mav.SIGNING_MINUTE
    assert accepted(rx, heartbeat(signed_codec(KEY, ahead)))
    assert rx.signing.timestamp >= ahead


@pytest.mark.sitl
def test_forged_and_replayed_packets_leave_a_signed_link_working(sim: Any,
                                                                 link_to: Any) -> None:
    """On a signed UDP link to the simulator, a forged far-future packet and a replayed genuine
    one are both ignored; telemetry keeps coming and commands are still acknowledged."""
    fleet = sim(udp=True)
    link: Link = link_to(fleet.connection_strings[0])
    enable_signing(link, [1], KEY)
    old = link.wait(lambda m: m.get_type() == "HEARTBEAT" and m.get_srcSystem() == 1
                    and m.get_signed(), 5.0)
    assert old is not None
    old_packet = bytes(old.get_msgbuf())
    address = link.local_address
    assert address is not None
    forged = signed_codec(bytes(32), mav.signing_now() + TEN_YEARS)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as spoofer, \
            link.subscribe(lambda m: m.get_srcSystem() == 1) as heard:
        spoofer.sendto(heartbeat(forged, "RTL", armed=True), ("127.0.0.1", address[1]))
        spoofer.sendto(old_packet, ("127.0.0.1", address[1]))
        later = [heard.get(2.0) for _ in range(20)]
    assert all(m is not None and m.get_signed() for m in later)
    assert not any(bytes(m.get_msgbuf()) == old_packet for m in later if m is not None)
    assert not any(m.get_type() == "HEARTBEAT" and m.custom_mode == mav.COPTER_MODES["RTL"]
                   for m in later if m is not None)
    assert {m.get_type() for m in later if m is not None} >= {"HEARTBEAT"}
    commands.set_mode(link, Target(sysid=1), "GUIDED")
    assert fleet.vehicle(0).snapshot().mode == "GUIDED"
    with link.subscribe(lambda m: bytes(m.get_msgbuf()) == old_packet) as replays:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as spoofer:
            spoofer.sendto(old_packet, ("127.0.0.1", address[1]))
        assert replays.get(1.0) is None
