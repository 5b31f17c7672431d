"""Arming, modes and AUTO execution of the built-in simulator, with SITL's measured timings."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from gcs.mavlink import COPTER_MODES
from gcs.mavlink import dialect as mav
from tests.sitl.helpers import OfflineGcs, north_slope_dem

Factory = Callable[..., OfflineGcs]
HOME = (0, 16, 0, 0, 0, 0, 303165000, 780322000, 640.0)
TAKEOFF = (6, 22, 0, 0, 0, 0, 0, 0, 30.0)
RTL = (6, 20, 0, 0, 0, 0, 0, 0, 0.0)
NORTH = (303182966, 780322000)  # 200 m north of home
EAST = (303165000, 780342812)  # 200 m east of home


def wp(x_y: tuple[int, int], alt: float = 30.0, hold: float = 0.0,
       frame: int = 6) -> tuple[float, ...]:
    """A NAV_WAYPOINT row."""
    return (frame, 16, hold, 0, 0, 0, x_y[0], x_y[1], alt)


def reached(gcs: OfflineGcs, start: float) -> dict[int, float]:
    """MISSION_ITEM_REACHED seq -> simulated seconds after ``start``."""
    return {m.seq: t - start for t, m in gcs.log if m.get_type() == "MISSION_ITEM_REACHED"
            and t >= start}


def fly_to_end(gcs: OfflineGcs, limit_s: float = 900.0) -> None:
    """Run until the vehicle disarms."""
    assert gcs.run_until(lambda: not gcs.vehicle.armed, limit_s)


# -- arming -----------------------------------------------------------------------------------
def test_not_ready_before_settle_time(offline: Factory) -> None:
    """Arming is refused until GPS/EKF settle (42 s as SITL); PreArm repeats every 30 s."""
    gcs = offline(settle_s=42.0)
    gcs.run(5)
    ack = gcs.arm()
    assert ack.result == mav.MAV_RESULT_FAILED
    assert gcs.texts()[-1] == "Arm: Need Position Estimate"
    gcs.run(36)
    prearm = [t for t, m in gcs.log if m.get_type() == "STATUSTEXT"
              and m.text.startswith("PreArm")]
    assert len(prearm) == 2 and 29.9 <= prearm[1] - prearm[0] <= 30.1
    assert not gcs.vehicle.prearm_ok_cached
    gcs.run(2)
    assert gcs.vehicle.prearm_ok_cached
    health = gcs.vehicle.telemetry.sys_status().onboard_control_sensors_health
    assert health & mav.MAV_SYS_STATUS_PREARM_CHECK
    assert gcs.vehicle.telemetry.gps_raw_int().fix_type == 6
    assert gcs.vehicle.telemetry.ekf_status_report().flags == 0x33F
    assert gcs.arm().result == 0


@pytest.mark.parametrize(("mode", "mission", "options", "text"), [
    ("AUTO", False, 0, "Arm: Mode requires mission"),
    ("AUTO", True, 0, "Arm: AUTO mode not armable"),
    ("RTL", True, 0, "Arm: Mode not armable"),
    ("LAND", True, 0, "Arm: Mode not armable"),
])
def test_arming_refusals(offline: Factory, mode: str, mission: bool, options: int,
                         text: str) -> None:
    """Modes that cannot arm answer FAILED with ArduCopter's text."""
    gcs = offline(params={"AUTO_OPTIONS": options})
    gcs.ready()
    if mission:
        gcs.upload([HOME, TAKEOFF, RTL])
    assert gcs.set_mode(mode).result == 0
    ack = gcs.arm()
    assert ack.result == mav.MAV_RESULT_FAILED
    assert gcs.texts()[-1] == text


def test_arm_in_auto_with_auto_options_3_starts_the_mission(offline: Factory) -> None:
    """AUTO_OPTIONS 3 arms in AUTO and takes off at once."""
    gcs = offline(params={"AUTO_OPTIONS": 3})
    gcs.ready()
    gcs.upload([HOME, TAKEOFF, RTL])
    gcs.set_mode("AUTO")
    assert gcs.arm().result == 0
    assert "Mission: 1 Takeoff" in gcs.texts()
    assert gcs.run_until(lambda: gcs.vehicle.flying, 10)


def test_arm_order_and_disarm_delay(offline: Factory) -> None:
    """ACK, GPS_GLOBAL_ORIGIN, HOME_POSITION, "Arming motors"; idle 10 s disarms again."""
    gcs = offline()
    gcs.ready()
    gcs.set_mode("GUIDED")
    start = len(gcs.log)
    assert gcs.arm().result == 0
    kinds = [m.get_type() for m in gcs.since(start) if m.get_type() != "HEARTBEAT"]
    assert kinds[:4] == ["COMMAND_ACK", "GPS_GLOBAL_ORIGIN", "HOME_POSITION", "STATUSTEXT"]
    t0 = gcs.t
    assert gcs.run_until(lambda: not gcs.vehicle.armed, 20)
    assert 9.9 <= gcs.t - t0 <= 10.2
    assert gcs.texts()[-1] == "Disarming motors"


def test_mission_start_while_disarmed_only_switches_to_auto(offline: Factory) -> None:
    """MISSION_START disarmed: ACCEPTED, mode AUTO, no mission texts, nothing moves."""
    gcs = offline()
    gcs.ready()
    gcs.upload([HOME, TAKEOFF, RTL])
    start = len(gcs.log)
    assert gcs.command(300).result == 0
    assert gcs.vehicle.mode == COPTER_MODES["AUTO"]
    gcs.run(5)
    assert not any(t.startswith("Mission") for t in gcs.texts(start))
    assert gcs.vehicle.body.on_ground and not gcs.vehicle.armed


def test_mission_start_says_takeoff_twice_then_acks_first(offline: Factory) -> None:
    """Armed MISSION_START: ACK, HEARTBEAT in AUTO, "Mission: 1 Takeoff" twice."""
    gcs = offline()
    gcs.ready()
    gcs.upload([HOME, TAKEOFF, RTL])
    gcs.set_mode("GUIDED")
    gcs.arm()
    start = len(gcs.log)
    gcs.command(300)
    seq = [m.get_type() for m in gcs.since(start)]
    assert seq[:4] == ["COMMAND_ACK", "HEARTBEAT", "STATUSTEXT", "STATUSTEXT"]
    assert gcs.texts(start) == ["Mission: 1 Takeoff", "Mission: 1 Takeoff"]
    assert gcs.since(start, "HEARTBEAT")[0].custom_mode == COPTER_MODES["AUTO"]


def test_auto_refused_on_ground_without_takeoff(offline: Factory) -> None:
    """Armed on the ground, AUTO needs a mission starting with a takeoff."""
    gcs = offline()
    gcs.ready()
    gcs.upload([HOME, wp(NORTH), RTL])
    gcs.set_mode("GUIDED")
    gcs.arm()
    assert gcs.set_mode("AUTO").result == mav.MAV_RESULT_FAILED
    assert "Auto: Missing Takeoff Cmd" in gcs.texts()


# -- measured phase durations ---------------------------------------------------------------
def test_phase_durations_match_sitl(offline: Factory) -> None:
    """Take-off, 200 m legs, payload place (30 m down and up) and RTL take SITL's times."""
    gcs = offline()
    mission = [HOME, TAKEOFF, wp(NORTH, hold=15), wp((NORTH[0], EAST[1])), wp(EAST),
               (6, 94, 40, 0, 0, 0, *EAST, 30.0), RTL]
    t0 = gcs.fly(mission)
    fly_to_end(gcs)
    got = reached(gcs, t0)
    # SITL, auto_flight_payload_place.tlog: 17.7, 60.1, 85.3, 110.1, 187.8, 258.3 s
    sitl = {1: 17.7, 2: 60.1, 3: 85.3, 4: 110.1, 5: 187.8, 6: 258.3}
    for seq, t in sitl.items():
        assert got[seq] == pytest.approx(t, abs=3.0 + 0.02 * t), (seq, got)
    assert got[5] - got[4] == pytest.approx(77.7, abs=3.0)
    assert gcs.vehicle.gripper_released == 1
    assert gcs.vehicle.battery.remaining_pct == pytest.approx(39, abs=3)


def test_hover_drains_about_14_percent_per_minute(offline: Factory) -> None:
    """A default quad hovering uses about 465 mAh/min of the 3300 mAh pack."""
    gcs = offline()
    gcs.ready()
    gcs.set_mode("GUIDED")
    gcs.arm()
    gcs.command(mav.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, 0, 0, 0, 20)
    assert gcs.run_until(lambda: gcs.vehicle.body.alt_m > 659.5, 60)
    gcs.run(2)
    used0 = gcs.vehicle.battery.consumed_mah
    gcs.run(60)
    per_min = gcs.vehicle.battery.consumed_mah - used0
    assert per_min == pytest.approx(465, rel=0.03)
    status = gcs.vehicle.telemetry.battery_status()
    assert status.current_battery == pytest.approx(2790, rel=0.03)


def test_battery_count_survives_flights_until_reset(offline: Factory) -> None:
    """mAh are not reset by landing; MAV_CMD_BATTERY_RESET sets the percentage."""
    gcs = offline()
    t0 = gcs.fly([HOME, TAKEOFF, RTL])
    fly_to_end(gcs)
    used = gcs.vehicle.battery.consumed_mah
    assert used > 200 and gcs.t > t0
    gcs.set_mode("GUIDED")
    gcs.arm()
    assert gcs.vehicle.battery.consumed_mah >= used
    assert gcs.command(mav.MAV_CMD_BATTERY_RESET, 255, 100).result == 0
    assert gcs.vehicle.battery.remaining_pct == 100


# -- AUTO commands --------------------------------------------------------------------------
def test_gripper_release_timing_and_texts(offline: Factory) -> None:
    """DO_GRIPPER runs when the previous NAV item completes; released 0.55 s later."""
    gcs = offline()
    gcs.vehicle.payload_kg, gcs.vehicle.parcels = 2.0, 2
    mission = [HOME, TAKEOFF, wp(NORTH, alt=5, hold=2), (0, 211, 1, 0, 0, 0, 0, 0, 0),
               wp(NORTH, alt=30), RTL]
    t0 = gcs.fly(mission)
    fly_to_end(gcs)
    texts = [(t, m.text) for t, m in gcs.log if m.get_type() == "STATUSTEXT" and t >= t0]
    names = [x for _, x in texts]
    i = names.index("Mission: 3 Gripper")
    assert names[i - 1] == "Reached command #2"
    assert names[i + 1:i + 4] == ["Gripper load releasing", "Gripper Released", "Mission: 4 WP"]
    released = next(t for t, x in texts if x == "Gripper load released")
    assert released - texts[i][0] == pytest.approx(0.55, abs=0.06)
    assert gcs.vehicle.gripper_released == 1 and gcs.vehicle.payload_kg == pytest.approx(1.0)
    assert 3 not in reached(gcs, t0)  # DO items are not "reached"


@pytest.mark.parametrize("continue_after_land", [True, False])
def test_land_release_takeoff(offline: Factory, continue_after_land: bool) -> None:
    """NAV_LAND continues with MIS_OPTIONS bit 2; without it the copter disarms there."""
    gcs = offline(params={"MIS_OPTIONS": 4 if continue_after_land else 0})
    mission = [HOME, TAKEOFF, (6, 21, 0, 0, 0, 0, *EAST, 0.0), (0, 211, 1, 0, 0, 0, 0, 0, 0),
               TAKEOFF, RTL]
    t0 = gcs.fly(mission)
    fly_to_end(gcs)
    got = reached(gcs, t0)
    if continue_after_land:
        assert set(got) == {1, 2, 4, 5}
        assert gcs.vehicle.gripper_released == 1
        assert gcs.vehicle.runner.state == "complete"
        lat, lon = gcs.vehicle.position_deg()
        assert math.hypot(lat - 30.3165, lon - 78.0322) < 1e-5  # home, within GPS noise
    else:
        assert set(got) == {1, 2}
        assert gcs.vehicle.gripper_released == 0
        assert math.hypot(*gcs.vehicle.position_deg()) > 0
        assert gcs.vehicle.body.e_m == pytest.approx(200, abs=1)


def test_loiter_time_delay_and_jump(offline: Factory) -> None:
    """NAV_LOITER_TIME holds, NAV_DELAY waits, DO_JUMP repeats with "Jump n/N" texts."""
    gcs = offline()
    mission = [HOME, TAKEOFF, (6, 19, 8, 0, 0, 0, *NORTH, 30.0), (0, 93, 6, -1, -1, -1, 0, 0, 0),
               wp((NORTH[0], EAST[1])), (0, 177, 3, 2, 0, 0, 0, 0, 0), RTL]
    t0 = gcs.fly(mission)
    fly_to_end(gcs, 2000)
    texts = gcs.texts()
    assert texts.count("Mission: 3 Delay") == 3
    assert "Mission: 5 Jump 1/2" in texts and "Mission: 5 Jump 2/2" in texts
    assert texts.count("Reached command #2") == 1
    times = [t - t0 for t, m in gcs.log if m.get_type() == "MISSION_ITEM_REACHED"
             and m.seq == 3]
    assert len(times) == 3
    loiter_done = reached(gcs, t0)[2]
    assert times[0] - loiter_done == pytest.approx(6.0, abs=0.2)


def test_change_speed_shortens_legs(offline: Factory) -> None:
    """DO_CHANGE_SPEED 5 m/s makes the next 200 m leg take about twice as long."""
    def leg(speed: float | None) -> float:
        gcs = offline()
        rows = [HOME, TAKEOFF]
        if speed is not None:
            rows.append((0, 178, 1, speed, -1, 0, 0, 0, 0))
        rows += [wp(NORTH), RTL]
        t0 = gcs.fly(rows)
        assert gcs.run_until(lambda: len(reached(gcs, t0)) >= 2, 300)
        got = reached(gcs, t0)
        return got[max(got)] - got[1]

    fast, slow = leg(None), leg(5.0)
    assert fast == pytest.approx(27.4, abs=1.5)
    assert slow == pytest.approx(200 / 5 + 4, abs=3)


@pytest.mark.parametrize(("frame", "alt", "expected_amsl", "tol_m"), [
    (6, 30.0, 670.0, 0.3),  # above home
    (0, 700.0, 700.0, 0.3),  # AMSL
    (10, 30.0, 700.0, 1.0),  # above the terrain served: 30 m higher 200 m north (whole metres)
])
def test_altitude_frames(offline: Factory, frame: int, alt: float, expected_amsl: float,
                         tol_m: float) -> None:
    """Relative, AMSL and terrain frames put the vehicle at the right height."""
    gcs = offline()
    gcs.serve_terrain(north_slope_dem(640.0, 30.0 / 0.2))
    target = (303182966, 780322000)
    t0 = gcs.fly([HOME, TAKEOFF, wp(target, alt=alt, frame=frame), RTL])
    assert gcs.run_until(lambda: 2 in reached(gcs, t0), 300)
    assert gcs.vehicle.body.alt_m == pytest.approx(expected_amsl, abs=tol_m)


def test_pause_and_resume(offline: Factory) -> None:
    """BRAKE pauses a leg; back to AUTO re-announces and finishes the same item."""
    gcs = offline()
    t0 = gcs.fly([HOME, TAKEOFF, wp(NORTH), RTL])
    assert gcs.run_until(lambda: gcs.vehicle.body.n_m > 80, 120)
    assert gcs.set_mode("BRAKE").result == 0
    gcs.run(10)
    paused_at = gcs.vehicle.body.n_m
    assert gcs.vehicle.telemetry.mission_current().mission_state == mav.MISSION_STATE_NOT_STARTED
    gcs.run(5)
    assert gcs.vehicle.body.n_m == pytest.approx(paused_at, abs=0.01)
    start = len(gcs.log)
    assert gcs.set_mode("AUTO").result == 0
    assert gcs.texts(start) == ["Mission: 2 WP"]
    fly_to_end(gcs)
    assert set(reached(gcs, t0)) == {1, 2, 3}


def test_pause_continue_command(offline: Factory) -> None:
    """MAV_CMD_DO_PAUSE_CONTINUE holds in AUTO (state PAUSED) and continues."""
    gcs = offline()
    gcs.fly([HOME, TAKEOFF, wp(NORTH), RTL])
    assert gcs.run_until(lambda: gcs.vehicle.body.n_m > 50, 120)
    assert gcs.command(mav.MAV_CMD_DO_PAUSE_CONTINUE, 0).result == 0
    gcs.run(8)
    assert gcs.vehicle.telemetry.mission_current().mission_state == mav.MISSION_STATE_PAUSED
    assert gcs.command(mav.MAV_CMD_DO_PAUSE_CONTINUE, 1).result == 0
    fly_to_end(gcs)


def test_guided_takeoff_goto_and_land(offline: Factory) -> None:
    """GUIDED: NAV_TAKEOFF climbs, SET_POSITION_TARGET_GLOBAL_INT flies, LAND disarms."""
    gcs = offline()
    gcs.ready()
    assert gcs.command(mav.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, 0, 0, 0, 20).result == \
        mav.MAV_RESULT_FAILED
    gcs.set_mode("GUIDED")
    gcs.arm()
    assert gcs.command(mav.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, 0, 0, 0, 20).result == 0
    assert gcs.run_until(lambda: gcs.vehicle.body.alt_m > 659.7, 60)
    gcs.send(mav.MAVLink_set_position_target_global_int_message(
        0, 1, 1, mav.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT, 0b110111111000, 303174000, 780322000,
        25.0, 0, 0, 0, 0, 0, 0, 0, 0))
    assert gcs.run_until(lambda: gcs.vehicle.body.n_m > 99.5, 60)
    gcs.run(3)
    assert gcs.vehicle.body.alt_m == pytest.approx(665.0, abs=0.2)
    assert gcs.set_mode("LAND").result == 0
    fly_to_end(gcs, 120)
    assert gcs.texts()[-1] == "Disarming motors"


def test_rtl_goes_to_the_nearest_rally_point(offline: Factory) -> None:
    """RTL lands at a rally point nearer than home."""
    gcs = offline()
    gcs.ready()
    gcs.upload([(3, 5100, 0, 0, 0, 0, 303185000, 780322000, 30.0)], 2)
    gcs.fly([HOME, TAKEOFF, wp(NORTH), (0, 93, 600, -1, -1, -1, 0, 0, 0), RTL])
    assert gcs.run_until(lambda: gcs.vehicle.body.n_m > 199, 120)
    assert gcs.set_mode("RTL").result == 0
    fly_to_end(gcs)
    north, _ = gcs.vehicle.frame.to_ne(30.3185, 78.0322)
    assert gcs.vehicle.body.n_m == pytest.approx(north, abs=0.5)


def test_reboot_resets_battery_and_settles_again(offline: Factory) -> None:
    """PREFLIGHT_REBOOT_SHUTDOWN (disarmed): battery count reset, GPS/EKF settle again."""
    gcs = offline(settle_s=5.0)
    gcs.fly([HOME, TAKEOFF, RTL])
    fly_to_end(gcs)
    assert gcs.vehicle.battery.remaining_pct < 100
    assert gcs.command(mav.MAV_CMD_PREFLIGHT_REBOOT_SHUTDOWN, 1).result == 0
    assert gcs.vehicle.battery.remaining_pct == 100
    assert gcs.vehicle.mode_name == "STABILIZE"
    gcs.run(1.5)
    assert gcs.arm().result == mav.MAV_RESULT_FAILED
    gcs.ready()
    assert gcs.arm().result == 0


def test_battery_swapped_after_standing_disarmed_at_home(offline: Factory) -> None:
    """With battery_swap, a vehicle back home and disarmed gets a full pack a minute later
    (the crew's swap during the turnaround), announced by a STATUSTEXT; not before."""
    from sitl.builtin.copter.vehicle import BATTERY_SWAP_S

    gcs = offline(battery_swap=True)
    gcs.fly([HOME, TAKEOFF, RTL])
    fly_to_end(gcs)
    assert gcs.vehicle.battery.remaining_pct < 100
    gcs.run(BATTERY_SWAP_S - 5.0)
    assert gcs.vehicle.battery.remaining_pct < 100 and gcs.vehicle.battery_swaps == 0
    gcs.run(6.0)
    assert gcs.vehicle.battery.remaining_pct == 100 and gcs.vehicle.battery_swaps == 1
    assert "Battery swapped: full pack" in gcs.texts()


def test_no_battery_swap_away_from_home(offline: Factory) -> None:
    """A vehicle landing away from its home keeps its pack (no crew there)."""
    gcs = offline(battery_swap=True)
    gcs.fly([HOME, TAKEOFF, wp(NORTH), (3, 21, 0, 0, 0, 0, *NORTH, 0.0)])
    fly_to_end(gcs)
    assert gcs.vehicle.home_distance_m() > 150
    gcs.run(120.0)
    assert gcs.vehicle.battery.remaining_pct < 100 and gcs.vehicle.battery_swaps == 0
