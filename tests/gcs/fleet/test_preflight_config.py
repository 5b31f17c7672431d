"""Preflight checks (pure) and vehicle configuration (computed, then set on a simulated copter)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from gcs.commands import param_get
from gcs.errors import VehicleNotCapable
from gcs.fleet.config import (
    ConfigOptions,
    capability_problems,
    configure,
    highest_rel_alt_m,
    releases_with,
    sortie_parameters,
)
from gcs.fleet.preflight import (
    PreflightLimits,
    Uploads,
    battery_needed_pct,
    evaluate,
    wait_for_battery,
)
from gcs.link import Link
from gcs.transfer import Target
from planner.items import Cmd, Frame, MissionItem
from planner.plan_model import Sortie
from tests.gcs.helpers import make_snapshot, tutorial_case

ALL_UPLOADED = Uploads(mission=True, fence=True, rally=True)


@pytest.fixture(scope="module")
def sortie() -> Sortie:
    """The three-drop sortie of the three-drone tutorial plan."""
    return max(tutorial_case(3).plan.sorties, key=lambda s: len(s.drop_ids))


def test_healthy_vehicle_passes_every_check(sortie: Sortie) -> None:
    """A ready vehicle at the depot with a full battery and verified lists passes all checks."""
    report = evaluate(make_snapshot(), sortie, uploads=ALL_UPLOADED, fence_enabled=True)
    assert report.ok, report.failures
    assert {c.name for c in report.checks} >= {"heartbeat", "gps", "ekf", "prearm", "battery",
                                               "home", "mission", "fence", "rally",
                                               "fence_enabled"}


@pytest.mark.parametrize(("changes", "uploads", "fence_enabled", "failed"), [
    ({"heartbeat_age_s": 9.0}, ALL_UPLOADED, True, {"heartbeat"}),
    ({"gps_fix_type": 1, "ekf_flags": 0xA7, "ekf_ok": False}, ALL_UPLOADED, True, {"gps", "ekf"}),
    ({"battery_pct": 5}, ALL_UPLOADED, True, {"battery"}),
    ({"battery_pct": None}, ALL_UPLOADED, True, {"battery"}),
    ({"lat_deg": 44.07}, ALL_UPLOADED, True, {"home"}),
    ({"home_lat_deg": 44.07}, ALL_UPLOADED, True, {"home"}),
    ({}, Uploads(mission=True, fence=False, rally=True), False, {"fence", "fence_enabled"}),
    ({"prearm_ok": False}, Uploads(), True, {"prearm", "mission", "fence", "rally"}),
])
def test_every_failed_check_is_named(sortie: Sortie, changes: dict[str, Any], uploads: Uploads,
                                     fence_enabled: bool, failed: set[str]) -> None:
    """Each broken condition fails exactly its own checks, with a detail."""
    report = evaluate(make_snapshot(**changes), sortie, uploads=uploads,
                      fence_enabled=fence_enabled, limits=PreflightLimits(reserve_pct=20))
    assert {c.name for c in report.checks if not c.ok} == failed
    assert all(": " in f and f.split(": ", 1)[1] for f in report.failures)


def test_battery_check_uses_planned_energy_and_reserve(sortie: Sortie) -> None:
    """The battery must hold the sortie's planned energy plus the reserve."""
    need = sortie.metrics.energy_pct + 20
    for pct, ok in ((int(need) + 1, True), (int(need) - 1, False)):
        report = evaluate(make_snapshot(battery_pct=pct), sortie, uploads=ALL_UPLOADED,
                          fence_enabled=True, limits=PreflightLimits(reserve_pct=20))
        assert next(c for c in report.checks if c.name == "battery").ok == ok


def test_unheard_vehicle_fails_preflight(sortie: Sortie) -> None:
    """No telemetry at all is one failed heartbeat check."""
    report = evaluate(None, sortie, uploads=ALL_UPLOADED, fence_enabled=True)
    assert report.failures == ("heartbeat: vehicle never heard",)


def test_sortie_parameters(sortie: Sortie) -> None:
    """Polygon-only fence, enabled; GCS failsafe continuing AUTO; battery failsafes; RTL_ALT."""
    params = sortie_parameters(sortie, {"FS_OPTIONS": 1, "BATT_CAPACITY": 10000,
                                        "MIS_OPTIONS": 0})
    assert params["FENCE_TYPE"] == 4 and params["FENCE_ENABLE"] == 1
    assert params["FS_OPTIONS"] == 3 and params["FS_GCS_ENABLE"] == 1
    assert params["BATT_LOW_MAH"] == 1000 and params["BATT_CRT_MAH"] == 500
    top = highest_rel_alt_m(sortie)
    assert top is not None and params["RTL_ALT"] == pytest.approx(top * 100, abs=1)
    assert "MIS_OPTIONS" not in params


def test_land_drop_sets_mis_options_bit(sortie: Sortie) -> None:
    """A NAV_LAND followed by a take-off needs MIS_OPTIONS bit 2, added to the present bits."""
    drop = sortie.mission[3]
    land = MissionItem(command=Cmd.NAV_LAND, frame=Frame.GLOBAL_RELATIVE_ALT,
                       lat_deg=drop.lat_deg, lon_deg=drop.lon_deg)
    mission = (*sortie.mission[:3], land, sortie.mission[4],
               MissionItem(command=Cmd.NAV_TAKEOFF, alt_m=30.0), *sortie.mission[6:])
    landing = dataclasses.replace(sortie, mission=mission)
    assert "land" in releases_with(landing)
    assert sortie_parameters(landing, {"MIS_OPTIONS": 1})["MIS_OPTIONS"] == 5


def test_missing_gripper_or_winch_is_named(sortie: Sortie) -> None:
    """A gripper sortie on GRIP_ENABLE 0 and a winch sortie on WINCH_TYPE 0 are refused."""
    assert capability_problems(sortie, {"GRIP_ENABLE": 1}) == []
    assert "GRIP_ENABLE" in capability_problems(sortie, {"GRIP_ENABLE": 0})[0]
    winch = dataclasses.replace(sortie, mission=tuple(
        dataclasses.replace(m, command=Cmd.DO_WINCH) if m.command == Cmd.DO_GRIPPER else m
        for m in sortie.mission))
    assert "WINCH_TYPE" in capability_problems(winch, {"WINCH_TYPE": 0})[0]


def test_options_are_checked() -> None:
    """Battery thresholds outside [0, 100) are refused."""
    with pytest.raises(ValueError, match="battery_low_pct"):
        ConfigOptions(battery_low_pct=150)


@pytest.mark.sitl
def test_configure_sets_and_verifies(sim: Any, link_to: Any, sortie: Sortie) -> None:
    """On a simulated copter every parameter is set and reads back as asked."""
    fleet = sim()
    link: Link = link_to(fleet.connection_strings[0])
    t = Target(sysid=1)
    config = configure(link, t, sortie)
    assert config.params["FENCE_TYPE"] == 4
    for name, value in config.params.items():
        assert param_get(link, t, name) == pytest.approx(value), name


@pytest.mark.sitl
def test_vehicle_without_gripper_is_refused_unchanged(sim: Any, link_to: Any,
                                                      sortie: Sortie) -> None:
    """GRIP_ENABLE 0: VehicleNotCapable names it, and no parameter was changed."""
    fleet = sim(params={"GRIP_ENABLE": 0})
    link: Link = link_to(fleet.connection_strings[0])
    t = Target(sysid=1)
    with pytest.raises(VehicleNotCapable, match="GRIP_ENABLE") as info:
        configure(link, t, sortie)
    assert info.value.sysid == 1 and info.value.sortie_id == sortie.id
    assert param_get(link, t, "FENCE_TYPE") == 7


def test_preflight_reads_the_battery_the_card_shows(sortie: Sortie) -> None:
    """After a turnaround the pack reads 41 % until its reset is reported (100 %, as the
    vehicle card then shows): the checks take the reading of when they run, not the one
    sampled when the vehicle first looked ready."""
    need = battery_needed_pct(sortie, 20.0)
    readings = iter([41, 41, 41, 100])
    seen: list[int | None] = []

    def get() -> Any:
        snap = make_snapshot(battery_pct=next(readings, 100))
        seen.append(snap.battery_pct)
        return snap

    fresh = wait_for_battery(get, need, 5.0)
    assert fresh is not None and fresh.battery_pct == 100
    report = evaluate(fresh, sortie, uploads=ALL_UPLOADED, fence_enabled=True,
                      limits=PreflightLimits(reserve_pct=20.0))
    assert next(c for c in report.checks if c.name == "battery").ok, report.failures
    assert seen[-1] == 100


def test_a_battery_that_stays_short_fails_with_its_reading(sortie: Sortie) -> None:
    """A pack that stays at 41 % fails after the wait, naming the figure it read."""
    clock = iter(float(i) for i in range(100))
    snap = wait_for_battery(lambda: make_snapshot(battery_pct=41), 90.0, 3.0,
                            clock=lambda: next(clock))
    assert snap is not None and snap.battery_pct == 41
    report = evaluate(snap, sortie, uploads=ALL_UPLOADED, fence_enabled=True)
    assert [f for f in report.failures if f.startswith("battery")] == [
        f"battery: 41 %, sortie needs {sortie.metrics.energy_pct:.1f} % + 20 % reserve"]
