"""Endpoints, telemetry, parameters, signing, link faults, speedup and determinism."""

from __future__ import annotations

import itertools
import socket
import time
from collections.abc import Callable
from typing import Any

import pytest

from gcs.mavlink import dialect as mav
from planner.scenario import DroneType
from sitl.errors import SimulatorError
from tests.helpers.ports import free_base_port
from tests.sitl.helpers import TRACE_HOME, OfflineGcs
from tests.sitl.helpers_mavclient import MavClient

Fleet = Callable[..., Any]


def _positions(client: MavClient, seconds: float) -> list[Any]:
    end = time.monotonic() + seconds
    out = []
    while time.monotonic() < end:
        msg = client.recv("GLOBAL_POSITION_INT", end - time.monotonic())
        if msg is not None:
            out.append(msg)
    return out


def _rate_hz(msgs: list[Any]) -> float:
    """Messages received per second of the vehicle's clock (``time_boot_ms``)."""
    boot_ms = [m.time_boot_ms for m in msgs]
    span_s = (max(boot_ms) - min(boot_ms)) / 1000.0
    assert span_s > 1.0, f"only {span_s:.2f} s of vehicle time received"
    return len(msgs) / span_s


def test_one_endpoint_and_sysid_per_vehicle(builtin_fleet: Fleet) -> None:
    """Vehicle i listens on base + 10*i as SYSID i+1: an ArduCopter quad in STABILIZE."""
    fleet = builtin_fleet(3, spacing_m=20.0)
    base = fleet.base_port
    assert fleet.connection_strings == [f"tcp:127.0.0.1:{base + 10 * i}" for i in range(3)]
    for i, url in enumerate(fleet.connection_strings):
        with MavClient(url, target_system=i + 1) as client:
            hb = client.wait_heartbeat()
            assert (hb.get_srcSystem(), hb.get_srcComponent()) == (i + 1, 1)
            assert (hb.type, hb.autopilot) == (mav.MAV_TYPE_QUADROTOR,
                                               mav.MAV_AUTOPILOT_ARDUPILOTMEGA)
            assert (hb.custom_mode, hb.base_mode) == (0, 81)
            assert client.param_get("SYSID_THISMAV") == i + 1
    east = [fleet.vehicle(i).snapshot().lon_deg for i in range(3)]
    assert east[1] - east[0] == pytest.approx(20.0 / 95_900, rel=0.01)


def test_vehicles_start_at_the_homes_given(builtin_fleet: Fleet) -> None:
    """``homes`` puts each vehicle at its own place; one home per vehicle is required."""
    from sitl.builtin import BuiltinFleet

    homes = [(44.30, -71.77), (44.49, -71.57)]
    fleet = builtin_fleet(2, homes=homes)
    for i, (lat, lon) in enumerate(homes):
        snap = fleet.vehicle(i).snapshot()
        assert (snap.lat_deg, snap.lon_deg) == (pytest.approx(lat, abs=1e-6),
                                                pytest.approx(lon, abs=1e-6))
    with pytest.raises(ValueError, match="one home per vehicle"):
        BuiltinFleet(vehicles=3, home=(44.3, -71.77, 300.0), homes=homes)


def test_one_client_at_a_time(builtin_fleet: Fleet) -> None:
    """A second TCP client waits until the first leaves, like SITL's SERIAL0."""
    fleet = builtin_fleet(1)
    url = fleet.connection_strings[0]
    first = MavClient(url)
    first.wait_heartbeat()
    second = MavClient(url)
    assert second.recv("HEARTBEAT", 0.5) is None
    first.close()
    assert second.wait_heartbeat(5.0) is not None
    second.close()


def test_udp_endpoint(builtin_fleet: Fleet) -> None:
    """With udp=True the vehicle answers whoever sends it a datagram (udpout: clients)."""
    fleet = builtin_fleet(2, udp=True)
    assert fleet.connection_strings[1].startswith("udpout:")
    with MavClient(fleet.connection_strings[1], target_system=2) as client:
        client.heartbeat()
        assert client.wait_heartbeat().get_srcSystem() == 2
        assert client.param_get("SYSID_THISMAV") == 2


def test_streams_start_at_zero_and_follow_requests(builtin_fleet: Fleet) -> None:
    """Only HEARTBEAT until asked; then REQUEST_DATA_STREAM and SET_MESSAGE_INTERVAL rates."""
    fleet = builtin_fleet(1, settle_s=1.0)
    with MavClient(fleet.connection_strings[0]) as client:
        client.drain(1.0)
        kinds = {m.get_type() for m in client.log}
        assert kinds <= {"HEARTBEAT", "STATUSTEXT", "TIMESYNC"}
        client.request_streams(4)
        msgs = _positions(client, 1.5)
        boot = [m.time_boot_ms for m in msgs]
        gaps = [b - a for a, b in itertools.pairwise(boot)]
        assert sorted(gaps)[len(gaps) // 2] == pytest.approx(250, abs=10)
        ack = client.set_message_interval(mav.MAVLINK_MSG_ID_GLOBAL_POSITION_INT, 10)
        assert ack.result == 0
        client.drain(0.2)
        boot = [m.time_boot_ms for m in _positions(client, 1.0)]
        gaps = [b - a for a, b in itertools.pairwise(boot)]
        assert sorted(gaps)[len(gaps) // 2] == pytest.approx(100, abs=10)
        client.request_streams(0)
        client.set_message_interval(mav.MAVLINK_MSG_ID_GLOBAL_POSITION_INT, -1)
        client.drain(0.3)
        assert not _positions(client, 0.5)
        ack = client.command_long(mav.MAV_CMD_REQUEST_MESSAGE,
                                  mav.MAVLINK_MSG_ID_HOME_POSITION)
        assert ack.result == 0
        home = client.expect("HOME_POSITION", 2.0)
        assert home.latitude == pytest.approx(TRACE_HOME[0] * 1e7, abs=100)


def test_parameters(builtin_fleet: Fleet) -> None:
    """List, read by name and index, set with integer rounding, unknown names ignored."""
    fleet = builtin_fleet(1)
    with MavClient(fleet.connection_strings[0]) as client:
        client.mav.param_request_list_send(1, 1)
        first = client.expect("PARAM_VALUE", 5.0)
        values = {first.param_id: first}
        while len(values) < first.param_count:
            msg = client.expect("PARAM_VALUE", 5.0)
            values[msg.param_id] = msg
        assert sorted(m.param_index for m in values.values()) == list(range(first.param_count))
        for name, value in [("WPNAV_SPEED", 1000), ("WPNAV_SPEED_UP", 250),
                            ("WPNAV_SPEED_DN", 150), ("LAND_SPEED", 50), ("RTL_ALT", 1500),
                            ("BATT_CAPACITY", 3300), ("DISARM_DELAY", 10),
                            ("FENCE_TYPE", 7), ("FENCE_RADIUS", 150), ("GRIP_ENABLE", 1),
                            ("SERVO8_FUNCTION", 28), ("SIM_GRPS_PIN", 8)]:
            assert values[name].param_value == value, name
        assert client.param_set("DISARM_DELAY", 7.6) == 8
        client.mav.param_request_read_send(1, 1, b"", values["RTL_ALT"].param_index)
        assert client.expect("PARAM_VALUE", 2.0).param_id == "RTL_ALT"
        client.mav.param_set_send(1, 1, b"NO_SUCH_PARAM", 1.0, 9)
        assert client.recv("PARAM_VALUE", 0.3, lambda m: m.param_id == "NO_SUCH_PARAM") is None


def test_drone_type_configures_speeds_and_battery(builtin_fleet: Fleet) -> None:
    """A scenario drone type sets WPNAV speeds and BATT_CAPACITY."""
    drone = DroneType(id="x8", empty_mass_kg=6.0, battery_mass_kg=2.0, battery_wh=500.0,
                      reserve_fraction=0.2, max_payload_kg=3.0, max_parcels=2,
                      cruise_speed_m_s=14.0, climb_rate_m_s=3.0, descent_rate_m_s=2.0,
                      drop_method="gripper", drop_alt_agl_m=5.0, drop_hover_s=3.0,
                      turnaround_s=60.0, rotor_disk_area_m2=0.8, rotor_count=8)
    fleet = builtin_fleet(1, drone_type=drone)
    with MavClient(fleet.connection_strings[0]) as client:
        assert client.param_get("WPNAV_SPEED") == 1400
        assert client.param_get("WPNAV_SPEED_UP") == 300
        assert client.param_get("BATT_CAPACITY") == round(500 / 12.6 * 1000)


def test_timesync_and_long_text(offline: Callable[..., OfflineGcs]) -> None:
    """TIMESYNC requests are answered; texts over 50 characters go out in chunks."""
    gcs = offline()
    gcs.run(1.0)
    gcs.send(mav.MAVLink_timesync_message(0, 123456789))
    reply = gcs.of("TIMESYNC")[-1]
    assert reply.ts1 == 123456789 and reply.tc1 > 0
    long_text = "x" * 60 + " end"
    gcs.vehicle.text(6, long_text)
    gcs.run(0.05)
    chunks = [m for m in gcs.of("STATUSTEXT") if m.id]
    assert [c.chunk_seq for c in chunks] == [0, 1]
    assert gcs.texts()[-1] == long_text


def test_signing(builtin_fleet: Fleet) -> None:
    """After SETUP_SIGNING, unsigned commands are refused and signed ones answered."""
    fleet = builtin_fleet(1)
    key = bytes(range(32))
    with MavClient(fleet.connection_strings[0]) as client:
        client.wait_heartbeat()
        client.mav.setup_signing_send(1, 1, list(key), 1)
        client.drain(0.2)
        assert client.recv("COMMAND_ACK", 0.1) is None
        client.command_long(mav.MAV_CMD_REQUEST_MESSAGE, 242, wait_ack=False)
        assert client.recv("COMMAND_ACK", 0.5) is None
        client.conn.setup_signing(key, sign_outgoing=True)
        ack = client.command_long(mav.MAV_CMD_REQUEST_MESSAGE, 242)
        assert ack.result == 0 and ack._signed


@pytest.mark.parametrize(("faults", "low", "high"), [
    ({"loss": 0.5}, 0.35, 0.65),
    ({"duplicate": 1.0}, 1.9, 2.1),
    ({"reorder": 0.5}, 0.9, 1.1),
])
def test_link_fault_rates(builtin_fleet: Fleet, faults: dict[str, float], low: float,
                          high: float) -> None:
    """Loss, duplication and reordering change what arrives in the expected proportion
    (messages per second of the vehicle's own clock, so a loaded machine that slows the
    simulator does not change the ratio)."""
    fleet = builtin_fleet(1, speedup=10.0)
    with MavClient(fleet.connection_strings[0]) as client:
        client.set_message_interval(mav.MAVLINK_MSG_ID_GLOBAL_POSITION_INT, 20)
        clean = _rate_hz(_positions(client, 1.5))
        fleet.vehicle(0).set_link_faults(**faults)
        client.drain(0.3)
        msgs = _positions(client, 1.5)
        assert low <= _rate_hz(msgs) / clean <= high
        if "reorder" in faults:
            boot = [m.time_boot_ms for m in msgs]
            assert boot != sorted(boot)


def test_latency_and_link_cut(builtin_fleet: Fleet) -> None:
    """Latency delays answers both ways (simulated seconds); a cut drops everything."""
    fleet = builtin_fleet(1, speedup=20.0)
    handle = fleet.vehicle(0)
    with MavClient(fleet.connection_strings[0], heartbeat_period_s=0) as client:
        client.wait_heartbeat()
        t = time.monotonic()
        client.param_get("RTL_ALT")
        fast = time.monotonic() - t
        handle.set_link_faults(latency_s=4.0)
        t = time.monotonic()
        client.param_get("RTL_ALT")
        slow = time.monotonic() - t
        assert slow - fast == pytest.approx(8.0 / 20.0, abs=0.15)
        handle.set_link_faults()
        client.drain(0.5)
        handle.cut_link(10.0)
        client.drain(0.05)
        assert client.recv("HEARTBEAT", 0.35) is None
        assert client.recv("HEARTBEAT", 1.0) is not None


def test_speedup_scales_vehicle_timers(builtin_fleet: Fleet) -> None:
    """At 20x the 8 s upload timeout takes about 0.4 s of wall time."""
    fleet = builtin_fleet(1, speedup=20.0)
    with MavClient(fleet.connection_strings[0]) as client:
        client.wait_heartbeat()
        t = time.monotonic()
        client.mav.mission_count_send(1, 1, 3, 0)
        ack = client.expect("MISSION_ACK", 5.0)
        assert ack.type == mav.MAV_MISSION_OPERATION_CANCELLED
        assert 0.3 <= time.monotonic() - t <= 0.9


def test_same_seed_same_flight(offline: Callable[..., OfflineGcs]) -> None:
    """Two vehicles with one seed and the same inputs send byte-identical telemetry."""
    rows = [(0, 16, 0, 0, 0, 0, 303165000, 780322000, 640.0), (6, 22, 0, 0, 0, 0, 0, 0, 20.0),
            (6, 16, 0, 0, 0, 0, 303170000, 780325000, 20.0), (6, 20, 0, 0, 0, 0, 0, 0, 0.0)]

    def run(seed: int) -> list[bytes]:
        gcs = offline(seed=seed)
        gcs.vehicle.telemetry.request_stream(0, 10)
        gcs.fly(rows)
        gcs.run_until(lambda: not gcs.vehicle.armed, 300)
        return [bytes(m.get_msgbuf()) for _, m in gcs.log]

    a, b, c = run(7), run(7), run(8)
    assert a == b
    assert a != c


def test_start_stop_and_port_in_use(builtin_fleet: Fleet) -> None:
    """Stopping frees the ports; a taken port raises SimulatorError."""
    from sitl.builtin import BuiltinFleet

    port = free_base_port()
    with BuiltinFleet(vehicles=1, home=TRACE_HOME, base_port=port) as fleet:
        assert fleet.running
        with pytest.raises(SimulatorError):
            BuiltinFleet(vehicles=1, home=TRACE_HOME, base_port=port).start()
    assert not fleet.running
    with socket.create_server(("127.0.0.1", port)):
        pass


def test_snapshot_and_payload(builtin_fleet: Fleet) -> None:
    """The handle exposes the vehicle's state and loads parcels."""
    fleet = builtin_fleet(1)
    handle = fleet.vehicle(0)
    handle.load_payload(1.5, parcels=3)
    state = handle.snapshot()
    assert (state.sysid, state.mode, state.armed, state.payload_kg) == (1, "STABILIZE", False,
                                                                        1.5)
    assert state.lat_deg == pytest.approx(TRACE_HOME[0]) and state.battery_remaining_pct == 100
    with pytest.raises(ValueError, match="payload"):
        handle.load_payload(-1)

