"""Hand-made QGroundControl missions that descend to drop low, flown by ``dropline replay`` on the
built-in simulator over the real SRTM tile with the default tolerances: a drop's descent is held
to its planned drop height, not to the cruise minimum; a low cruise leg or a drop flown below its
planned height still fails."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dropline.cli import main
from planner.io.dem import load_dem
from planner.io.qgc import read_qgc_plan
from planner.items import Cmd, Frame
from tests.helpers.shared_data import DISTRICT_HGT, REPO

pytestmark = pytest.mark.sitl

REGRESSION = REPO / "missions" / "regression"
DEM = load_dem([DISTRICT_HGT])
#: The scenario's "lincoln" depot (a gripper octocopter) and its drop R01 up the hillside.
DEPOT = (44.0454, -71.6707)
DROP = (44.0650, -71.6900)
CRUISE_AGL_M = 50.0
DROP_AGL_M = 15.0
#: The route out: points every ~100 m, the last one ~80 m short of the drop.
ROUTE = np.concatenate([np.arange(1, 26) / 26.0, [0.97]])
SPEEDUP = "50"


def ground_m(lat: float, lon: float) -> float:
    """Terrain height AMSL under a point."""
    return float(DEM.elevation_amsl_m(lon, lat)[()])


HOME_AMSL_M = ground_m(*DEPOT)


def along(f: float) -> tuple[float, float]:
    """The point a fraction ``f`` of the way from the depot to the drop."""
    return DEPOT[0] + f * (DROP[0] - DEPOT[0]), DEPOT[1] + f * (DROP[1] - DEPOT[1])


def item(command: int, lat: float = 0.0, lon: float = 0.0, alt_rel_m: float = 0.0,
         params: tuple[float, ...] = (), frame: int = Frame.GLOBAL_RELATIVE_ALT) -> dict[str, Any]:
    """A QGroundControl SimpleItem as the application saves it."""
    p = [*params, 0, 0, 0, 0][:4]
    obj: dict[str, Any] = {"autoContinue": True, "command": int(command), "doJumpId": 0,
                           "frame": int(frame), "type": "SimpleItem",
                           "params": [*p, lat, lon, alt_rel_m]}
    if frame == Frame.GLOBAL_RELATIVE_ALT:
        obj.update({"AMSLAltAboveTerrain": None, "Altitude": alt_rel_m, "AltitudeMode": 1})
    return obj


def over_ground(f: float, agl_m: float, command: int = Cmd.NAV_WAYPOINT,
                params: tuple[float, ...] = ()) -> dict[str, Any]:
    """A NAV item at fraction ``f`` of the route, ``agl_m`` above the terrain there."""
    lat, lon = along(f)
    return item(command, lat, lon, round(ground_m(lat, lon) + agl_m - HOME_AMSL_M, 2), params)


def do(command: int, *params: float) -> dict[str, Any]:
    """A DO item (no position)."""
    return item(command, params=params, frame=Frame.MISSION)


def write_plan(path: Path, *, drop: str = "gripper", dip_at: float | None = None,
               below_drop_m: float | None = None) -> Path:
    """Take off, cruise at 50 m AGL to R01, drop there (``gripper``: descend along the last leg
    to 15 m AGL and release; ``place``: NAV_PAYLOAD_PLACE; ``land``: land, release, take
    off), climb, cruise back and RTL. ``dip_at`` puts one cruise waypoint at 15 m AGL;
    ``below_drop_m`` sinks to that height at the drop after the release."""
    items = [item(Cmd.NAV_TAKEOFF, alt_rel_m=CRUISE_AGL_M)]
    items += [over_ground(f, DROP_AGL_M if f == dip_at else CRUISE_AGL_M) for f in ROUTE]
    if drop == "gripper":
        items += [over_ground(1.0, DROP_AGL_M, params=(3.0,)), do(Cmd.DO_GRIPPER, 1, 0)]
        if below_drop_m is not None:
            items.append(over_ground(1.0, below_drop_m))
        items.append(over_ground(0.97, CRUISE_AGL_M))  # climbing along the way back
    elif drop == "place":
        items += [over_ground(1.0, 0.0, Cmd.NAV_PAYLOAD_PLACE)]
    else:
        items += [over_ground(1.0, 0.0, Cmd.NAV_LAND), do(Cmd.DO_GRIPPER, 1, 0),
                  item(Cmd.NAV_TAKEOFF, alt_rel_m=round(
                      ground_m(*DROP) + CRUISE_AGL_M - HOME_AMSL_M, 2))]
    items += [over_ground(f, CRUISE_AGL_M) for f in ROUTE[-2::-1]]
    items.append(item(Cmd.NAV_RETURN_TO_LAUNCH, frame=Frame.MISSION))
    for k, obj in enumerate(items, start=1):
        obj["doJumpId"] = k
    doc = {"fileType": "Plan", "groundStation": "QGroundControl", "version": 1,
           "geoFence": {"circles": [], "polygons": [], "version": 2},
           "rallyPoints": {"points": [], "version": 2},
           "mission": {"cruiseSpeed": 15, "firmwareType": 3, "hoverSpeed": 5, "items": items,
                       "plannedHomePosition": [DEPOT[0], DEPOT[1], round(HOME_AMSL_M, 2)],
                       "vehicleType": 2, "version": 2}}
    path.write_text(json.dumps(doc, indent=4))
    return path


def replay(plan: Path, report: Path, capsys: Any) -> tuple[int, dict[str, Any], str]:
    """Fly one .plan with the default tolerances: exit code, its report entry, stderr."""
    code = main(["replay", str(plan), "--scenario", str(REGRESSION), "--backend", "builtin",
                 "--speedup", SPEEDUP, "--report", str(report)])
    captured = capsys.readouterr()
    [entry] = json.loads((report / "report.json").read_text())["missions"]
    assert entry["error"] is None, captured.out + captured.err
    assert entry["figures"]["final_state"] == "completed", captured.out + captured.err
    return code, entry, captured.out + captured.err


def test_the_hand_made_plan_reads_as_cruise_and_a_drop(tmp_path: Path) -> None:
    """The written .plan reads back with the route at 50 m AGL, the drop at 15 m AGL."""
    mission = read_qgc_plan(write_plan(tmp_path / "drop.plan")).mission
    drop = next(k for k, m in enumerate(mission) if m.command == Cmd.DO_GRIPPER) - 1
    d = mission[drop]
    assert d.alt_m + HOME_AMSL_M - ground_m(d.lat_deg, d.lon_deg) == pytest.approx(15.0, abs=0.01)
    before = mission[drop - 1]
    assert before.alt_m + HOME_AMSL_M - ground_m(before.lat_deg, before.lon_deg) \
        == pytest.approx(50.0, abs=0.01)


@pytest.mark.slow
def test_a_descent_to_a_low_drop_passes_the_default_tolerances(tmp_path: Path,
                                                               capsys: Any) -> None:
    """Cruise at 50 m AGL, slope down to a drop at 15 m, release, slope back up: passes with the
    cruise minimum of 20 m, the drop phase measured against its planned 15 m."""
    code, entry, text = replay(write_plan(tmp_path / "drop.plan"), tmp_path / "r", capsys)
    assert code == 0, text
    f = entry["figures"]
    assert f["agl_min_m"] > 40.0 and f["agl_min_planned_m"] > 40.0
    assert f["drop_agl_planned_m"] == {"R01": pytest.approx(15.0, abs=0.1)}
    assert f["drop_agl_min_m"]["R01"] == pytest.approx(15.0, abs=2.0)
    assert f["drop_errors_m"]["R01"] < 5.0


@pytest.mark.slow
def test_a_cruise_leg_dipping_to_15_m_fails_on_agl_min(tmp_path: Path, capsys: Any) -> None:
    """The same mission with one cruise waypoint at 15 m AGL: fails naming agl_min_m."""
    code, entry, text = replay(write_plan(tmp_path / "dip.plan", dip_at=ROUTE[12]),
                               tmp_path / "r", capsys)
    assert code == 1
    assert "FAILED dip: agl_min_m" in text
    assert [b["figure"] for b in entry["breaches"]] == ["agl_min_m"]
    assert entry["figures"]["agl_min_m"] < 20.0


@pytest.mark.slow
def test_a_drop_flown_below_its_planned_height_fails_on_the_drop_figure(tmp_path: Path,
                                                                        capsys: Any) -> None:
    """Sinking to 4 m at a drop planned at 15 m: fails with drop_agl_min_m[R01], not agl."""
    code, entry, text = replay(write_plan(tmp_path / "low.plan", below_drop_m=4.0),
                               tmp_path / "r", capsys)
    assert code == 1
    assert [b["figure"] for b in entry["breaches"]] == ["drop_agl_min_m[R01]"]
    assert "planned drop height 15.00 m" in text
    assert entry["figures"]["drop_agl_min_m"]["R01"] < 10.0
    assert entry["figures"]["agl_min_m"] > 40.0


@pytest.mark.slow
@pytest.mark.parametrize("drop", ["place", "land"])
def test_payload_place_and_landing_drops_pass(drop: str, tmp_path: Path, capsys: Any) -> None:
    """NAV_PAYLOAD_PLACE, and NAV_LAND then release and take-off: the descent to the ground is
    the drop phase (planned 0 m AGL); cruise stays above 40 m."""
    code, entry, text = replay(write_plan(tmp_path / f"{drop}.plan", drop=drop), tmp_path / "r",
                               capsys)
    assert code == 0, text
    f = entry["figures"]
    assert f["agl_min_m"] > 40.0
    assert f["drop_agl_planned_m"] == {"R01": 0.0}
    assert f["drop_agl_min_m"]["R01"] == pytest.approx(0.0, abs=2.0)
