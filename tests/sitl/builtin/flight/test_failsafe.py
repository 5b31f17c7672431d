"""Geofence, battery, GCS-heartbeat, GPS and motor failsafes of the built-in simulator."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gcs.mavlink import COPTER_MODES
from gcs.mavlink import dialect as mav
from tests.sitl.helpers import OfflineGcs

Factory = Callable[..., OfflineGcs]
HOME = (0, 16, 0, 0, 0, 0, 303165000, 780322000, 640.0)
TAKEOFF = (6, 22, 0, 0, 0, 0, 0, 0, 30.0)
RTL = (6, 20, 0, 0, 0, 0, 0, 0, 0.0)
NORTH = (6, 16, 0, 0, 0, 0, 303182966, 780322000, 30.0)
NORTH_HOLD = (6, 16, 15, 0, 0, 0, 303182966, 780322000, 30.0)
EAST = (6, 16, 0, 0, 0, 0, 303182966, 780342812, 30.0)
LONG_DELAY = (0, 93, 900, -1, -1, -1, 0, 0, 0)
# exclusion zone across the east leg; rally point south-west (fence_rally_upload.tlog)
ZONE = [(0, 5002, 4, 0, 0, 0, 303179373, 780328244, 0.0),
        (0, 5002, 4, 0, 0, 0, 303179373, 780336569, 0.0),
        (0, 5002, 4, 0, 0, 0, 303186560, 780336569, 0.0),
        (0, 5002, 4, 0, 0, 0, 303186560, 780328244, 0.0)]
AROUND_HOME = [(0, 5002, 4, 0, 0, 0, 303162305, 780318878, 0.0),
               (0, 5002, 4, 0, 0, 0, 303162305, 780325122, 0.0),
               (0, 5002, 4, 0, 0, 0, 303167695, 780325122, 0.0),
               (0, 5002, 4, 0, 0, 0, 303167695, 780318878, 0.0)]
RALLY = [(3, 5100, 0, 0, 0, 0, 303173983, 780318878, 30.0)]


def mode(gcs: OfflineGcs) -> str:
    """Flight mode name."""
    return gcs.vehicle.mode_name


# -- fence ------------------------------------------------------------------------------------
def test_arming_inside_an_exclusion_zone_is_refused(offline: Factory) -> None:
    """Breaching a polygon: FENCE_STATUS breached, PreArm text, arm FAILED with the reason."""
    gcs = offline(params={"FENCE_TYPE": 4})
    gcs.ready()
    gcs.upload(AROUND_HOME, 1)
    start = len(gcs.log)
    gcs.send(mav.MAVLink_param_set_message(1, 1, b"FENCE_ENABLE", 1, 9))
    gcs.run(2)
    assert gcs.of("FENCE_STATUS")[-1].breach_status == 1
    assert "PreArm: Vehicle breaching Polygon fence" in gcs.texts(start)
    start = len(gcs.log)
    assert gcs.set_mode("GUIDED").result == 0
    assert gcs.texts(start) == ["Manual recovery started"]
    assert gcs.arm().result == mav.MAV_RESULT_FAILED
    assert gcs.texts()[-1] == "Arm: Vehicle breaching Polygon fence"


def test_fence_enabled_without_types(offline: Factory) -> None:
    """FENCE_ENABLE with FENCE_TYPE 0 fails the pre-arm check."""
    gcs = offline(params={"FENCE_TYPE": 0, "FENCE_ENABLE": 1})
    gcs.run(5)
    assert gcs.arm().result == mav.MAV_RESULT_FAILED
    assert gcs.texts()[-1] == "Arm: Fences enabled, but none selected"


def test_breach_in_flight_returns_to_rally_point(offline: Factory) -> None:
    """Crossing into a zone: RTL, breach texts, recovery window, landing at the rally point."""
    gcs = offline(params={"FENCE_TYPE": 4, "FENCE_ENABLE": 1})
    gcs.ready()
    gcs.upload(ZONE, 1)
    gcs.upload(RALLY, 2)
    t0 = gcs.fly([HOME, TAKEOFF, NORTH_HOLD, EAST, RTL])
    assert gcs.run_until(lambda: mode(gcs) == "RTL", 200)
    start = len(gcs.log) - 4
    kinds = [(m.get_type(), getattr(m, "text", "")) for m in gcs.since(start)
             if m.get_type() in ("STATUSTEXT", "HEARTBEAT", "FENCE_STATUS")]
    assert ("STATUSTEXT", "Polygon fence breached") in kinds
    i = kinds.index(("STATUSTEXT", "Polygon fence breached"))
    assert kinds[i + 1] == ("STATUSTEXT", "Manual recovery started")
    assert gcs.t - t0 == pytest.approx(69.9, abs=4)  # fence_breach_rtl_to_rally.tlog
    assert gcs.run_until(lambda: "Fence breach cleared" in gcs.texts(start), 30)
    assert not gcs.vehicle.failsafes.breached
    assert gcs.run_until(lambda: not gcs.vehicle.armed, 200)
    lat, lon = gcs.vehicle.position_deg()
    assert (lat, lon) == pytest.approx((30.3173983, 78.0318878), abs=2e-6)
    assert mode(gcs) == "RTL"


def test_deep_breach_lands(offline: Factory) -> None:
    """Enabling a fence more than 100 m outside it lands instead of returning."""
    gcs = offline(params={"FENCE_TYPE": 4})
    gcs.ready()
    inclusion = [(0, 5001, r[2], 0, 0, 0, r[6], r[7], 0.0) for r in AROUND_HOME]
    gcs.upload(inclusion, 1)
    gcs.fly([HOME, TAKEOFF, NORTH, LONG_DELAY, RTL])
    assert gcs.run_until(lambda: gcs.vehicle.body.n_m > 199, 200)
    gcs.vehicle.params.set("FENCE_ENABLE", 1)
    gcs.run(1)
    assert mode(gcs) == "LAND"


def test_max_altitude_fence(offline: Factory) -> None:
    """FENCE_TYPE 1: climbing through FENCE_ALT_MAX triggers "Max Alt fence breached"."""
    gcs = offline(params={"FENCE_TYPE": 1, "FENCE_ALT_MAX": 20, "FENCE_ENABLE": 1})
    gcs.fly([HOME, TAKEOFF, RTL])
    assert gcs.run_until(lambda: mode(gcs) == "RTL", 60)
    assert "Max Alt fence breached" in gcs.texts()
    assert gcs.vehicle.failsafes.breach_type == mav.FENCE_BREACH_MAXALT


def test_report_only_fence_action(offline: Factory) -> None:
    """FENCE_ACTION 0 reports the breach and keeps flying the mission."""
    gcs = offline(params={"FENCE_TYPE": 4, "FENCE_ENABLE": 1, "FENCE_ACTION": 0})
    gcs.ready()
    gcs.upload(ZONE, 1)
    gcs.fly([HOME, TAKEOFF, NORTH, EAST, RTL])
    assert gcs.run_until(lambda: "Polygon fence breached" in gcs.texts(), 200)
    gcs.run(5)
    assert mode(gcs) == "AUTO"


# -- battery ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("level", "action", "expected_mode"), [
    ("LOW", 2, "RTL"), ("LOW", 1, "LAND"), ("LOW", 0, "AUTO"), ("CRT", 1, "LAND"),
])
def test_battery_failsafe(offline: Factory, level: str, action: int,
                          expected_mode: str) -> None:
    """Capacity below BATT_LOW_MAH/BATT_CRT_MAH: texts, CRITICAL status and the action."""
    gcs = offline(params={f"BATT_{level}_MAH": 3000, f"BATT_FS_{level}_ACT": action})
    gcs.fly([HOME, TAKEOFF, NORTH, LONG_DELAY, RTL])
    kind = "low" if level == "LOW" else "critical"
    assert gcs.run_until(lambda: "Battery Failsafe" in gcs.texts(), 200)
    texts = gcs.texts()
    i = texts.index("Battery Failsafe")
    assert texts[i - 1].startswith(f"Battery 1 is {kind} 12.60V used 30")
    assert mode(gcs) == expected_mode
    assert gcs.vehicle.telemetry.heartbeat().system_status == mav.MAV_STATE_CRITICAL
    charge = gcs.vehicle.telemetry.battery_status().charge_state
    assert charge == (mav.MAV_BATTERY_CHARGE_STATE_LOW if level == "LOW"
                      else mav.MAV_BATTERY_CHARGE_STATE_CRITICAL)


def test_battery_sag_triggers_failsafe(offline: Factory) -> None:
    """An injected capacity loss drops the remaining capacity at once."""
    gcs = offline(params={"BATT_LOW_MAH": 1300, "BATT_FS_LOW_ACT": 2})
    gcs.fly([HOME, TAKEOFF, NORTH, LONG_DELAY, RTL])
    gcs.run(30)
    before = gcs.vehicle.battery.remaining_mah
    gcs.vehicle.battery.sag(0.7)
    assert gcs.vehicle.battery.remaining_mah == pytest.approx(before * 0.3, rel=1e-6)
    gcs.run(1)
    assert mode(gcs) == "RTL"


def test_finite_pack_voltage_sags(offline: Factory) -> None:
    """A finite pack starts near 12.2 V under load and sags as it empties."""
    gcs = offline(finite_battery=True)
    gcs.fly([HOME, TAKEOFF, NORTH, LONG_DELAY, RTL])
    gcs.run(6)
    assert gcs.vehicle.battery.voltage_v == pytest.approx(12.2, abs=0.2)
    gcs.run(214)
    assert 10.0 < gcs.vehicle.battery.voltage_v < 11.3


def test_arming_needs_battery_capacity(offline: Factory) -> None:
    """BATT_ARM_MAH above the remaining capacity refuses arming."""
    gcs = offline(params={"BATT_ARM_MAH": 3000})
    gcs.ready = lambda: gcs.run(5)  # type: ignore[method-assign]
    gcs.run(5)
    gcs.vehicle.battery.sag(0.5)
    gcs.run(2)
    assert gcs.arm().result == mav.MAV_RESULT_FAILED
    assert gcs.texts()[-1] == "Arm: Battery 1 below minimum arming capacity"


# -- GCS heartbeat, GPS, motor ----------------------------------------------------------------
def _heartbeats(gcs: OfflineGcs, seconds: float) -> None:
    for _ in range(int(seconds)):
        gcs.send(mav.MAVLink_heartbeat_message(6, 8, 0, 0, 0, 3))
        gcs.run(1.0)


@pytest.mark.parametrize(("enable", "options", "expected_mode", "text"), [
    (1, 0, "RTL", "GCS Failsafe"),
    (5, 0, "LAND", "GCS Failsafe"),
    (1, 2, "AUTO", "GCS Failsafe - Continuing Auto Mode"),
])
def test_gcs_heartbeat_loss(offline: Factory, enable: int, options: int, expected_mode: str,
                            text: str) -> None:
    """No GCS HEARTBEAT for FS_GCS_TIMEOUT: the configured action; recovery is announced."""
    gcs = offline(params={"FS_GCS_ENABLE": enable, "FS_OPTIONS": options})
    gcs.fly([HOME, TAKEOFF, NORTH, LONG_DELAY, RTL])
    _heartbeats(gcs, 30)
    assert mode(gcs) == "AUTO"
    last_heartbeat = gcs.t - 1.0
    assert gcs.run_until(lambda: text in gcs.texts(), 20)
    assert gcs.t - last_heartbeat == pytest.approx(5.0, abs=0.11)  # FS_GCS_TIMEOUT
    assert mode(gcs) == expected_mode
    _heartbeats(gcs, 2)
    assert "GCS Failsafe Cleared" in gcs.texts()


def test_gps_loss_lands_and_blocks_arming(offline: Factory) -> None:
    """Losing GPS in flight: "EKF Failsafe" and LAND; on the ground: Need Position Estimate."""
    gcs = offline()
    gcs.fly([HOME, TAKEOFF, NORTH, LONG_DELAY, RTL])
    gcs.run(30)
    gcs.vehicle.set_gps_lost(True)
    gcs.run(2)
    assert "EKF Failsafe" in gcs.texts() and mode(gcs) == "LAND"
    assert gcs.vehicle.telemetry.gps_raw_int().fix_type <= 1
    assert gcs.run_until(lambda: not gcs.vehicle.armed, 200)
    gcs.run(2)
    assert gcs.set_mode("GUIDED").result == mav.MAV_RESULT_FAILED
    gcs.set_mode("STABILIZE")
    assert gcs.arm().result == mav.MAV_RESULT_FAILED
    assert gcs.texts()[-1] == "Arm: Need Position Estimate"


def test_motor_failure_forces_a_landing(offline: Factory) -> None:
    """A failed motor lands at once and refuses other modes until on the ground."""
    gcs = offline()
    gcs.fly([HOME, TAKEOFF, NORTH, LONG_DELAY, RTL])
    gcs.run(30)
    gcs.vehicle.motor_failure()
    assert mode(gcs) == "LAND"
    assert gcs.set_mode("RTL").result == mav.MAV_RESULT_FAILED
    assert gcs.run_until(lambda: not gcs.vehicle.armed, 60)
    assert gcs.vehicle.mode == COPTER_MODES["LAND"]
