"""Plan versus flown on synthetic flights: cross-track, AGL, incursions, drops, states."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from planner.flown import FlownFigures, FlownSample, ReleaseEvent, compare_flight
from planner.geo import LocalProjection
from planner.items import Cmd, Frame, MissionItem, MissionType
from planner.plan_model import Sortie, SortieMetrics
from planner.scenario import NoFlyZone
from planner.terrain import Dem, DemTile

HOME = (44.0, -71.0, 100.0)
PROJ = LocalProjection(lat0_deg=HOME[0], lon0_deg=HOME[1])


def at(x_m: float, y_m: float) -> tuple[float, float]:
    """(lat, lon) of a point x_m east and y_m north of home."""
    lon, lat = PROJ.to_lonlat([x_m], [y_m])
    return float(lat[0]), float(lon[0])


def mission() -> list[MissionItem]:
    """Home, take-off to 50 m, 1 km east, descent, gripper release, climb, back, RTL."""
    lat, lon = at(1000.0, 0.0)
    return [MissionItem(command=Cmd.NAV_WAYPOINT, frame=Frame.GLOBAL, lat_deg=HOME[0],
                        lon_deg=HOME[1], alt_m=HOME[2]),
            MissionItem(command=Cmd.NAV_TAKEOFF, alt_m=50.0),
            MissionItem(command=Cmd.NAV_WAYPOINT, lat_deg=lat, lon_deg=lon, alt_m=50.0),
            MissionItem(command=Cmd.NAV_WAYPOINT, lat_deg=lat, lon_deg=lon, alt_m=10.0),
            MissionItem(command=Cmd.DO_GRIPPER, frame=Frame.MISSION, param1=1.0),
            MissionItem(command=Cmd.NAV_WAYPOINT, lat_deg=lat, lon_deg=lon, alt_m=50.0),
            MissionItem(command=Cmd.NAV_WAYPOINT, lat_deg=HOME[0], lon_deg=HOME[1], alt_m=50.0),
            MissionItem(command=Cmd.NAV_RETURN_TO_LAUNCH)]


def sample(t: float, x: float, y: float, alt_rel: float, *, seq: int, armed: bool = True,
           mode: str = "AUTO", used: float | None = None) -> FlownSample:
    """A sample x/y metres from home at alt_rel above it."""
    lat, lon = at(x, y)
    return FlownSample(t_s=t, lat_deg=lat, lon_deg=lon, alt_amsl_m=HOME[2] + alt_rel,
                       ground_speed_m_s=10.0, battery_used_wh=used, battery_remaining_pct=None,
                       mode=mode, armed=armed, mission_seq=seq)


def flight(offset_m: float = 0.0) -> list[FlownSample]:
    """The mission flown with a steady ``offset_m`` north of the track on the way out."""
    out = [sample(0, 0, 0, 0, seq=1, used=0.0)]
    out += [sample(1 + k, 0, 0, 5.0 * k, seq=1, used=0.1 * k) for k in range(1, 11)]
    out += [sample(11 + k, 100.0 * k, offset_m, 50.0, seq=2, used=1 + 0.2 * k)
            for k in range(1, 11)]
    out += [sample(22, 1000, 0, 10.0, seq=3, used=3.5), sample(40, 1000, 0, 10.0, seq=3,
                                                               used=4.0)]
    out += [sample(40 + k, 1000.0 - 100.0 * k, 0, 50.0, seq=6, used=4 + 0.2 * k)
            for k in range(1, 11)]
    out += [sample(60, 0, 0, 0, seq=7, used=7.0), sample(61, 0, 0, 0, seq=7, armed=False,
                                                         used=7.0)]
    return out


def release(x: float, y: float, seq: int | None = 4) -> ReleaseEvent:
    """A release x/y metres from home."""
    lat, lon = at(x, y)
    return ReleaseEvent(t_s=30.0, lat_deg=lat, lon_deg=lon, mission_seq=seq)


def test_a_flight_on_its_track_has_small_figures() -> None:
    """Flown on the planned track: zero cross-track, AGL 50 m, drop in place, completed."""
    f = compare_flight(flight(), [release(1000.4, 0.3)], mission=mission(),
                       reached=[1, 2, 3, 5, 6, 7])
    assert f.cross_track_max_m == pytest.approx(0.0, abs=0.05)
    assert (f.agl_min_m, f.agl_max_m) == pytest.approx((50.0, 50.0), abs=0.01)
    assert (f.agl_min_planned_m, f.agl_max_planned_m) == pytest.approx((50.0, 50.0))
    assert f.agl_reference == "home"
    assert dict(f.drop_errors_m) == {"item 4": pytest.approx(0.5, abs=0.01)}
    assert f.unplanned_releases == 0
    assert (f.duration_flown_s, f.energy_used_wh) == (61.0, 7.0)
    assert (f.items_reached, f.items_total, f.final_state) == (7, 7, "completed")
    assert f.incursions == ()


def test_cross_track_measures_the_distance_from_the_planned_legs() -> None:
    """A 20 m offset over the outbound leg shows as the max; p95 lies between 0 and 20 m."""
    f = compare_flight(flight(offset_m=20.0), [], mission=mission())
    assert f.cross_track_max_m == pytest.approx(20.0, abs=0.1)
    assert f.cross_track_p95_m is not None and 0 < f.cross_track_p95_m <= 20.0 + 1e-6


def test_agl_is_measured_over_the_dem_on_cruise_legs_only() -> None:
    """Ground rising to the east lowers AGL on the cruise legs; the drop descent is not cruise."""
    lon = np.linspace(-71.01, -70.98, 31)
    ground = np.tile(np.clip((lon - HOME[1]) * 1000.0, 0.0, None) + 100.0, (11, 1))
    dem = Dem(tiles=(DemTile(heights_m=ground, west_deg=-71.01, north_deg=44.005,
                             dlon_deg=0.001, dlat_deg=0.001),))
    f = compare_flight(flight(), [], mission=mission(), dem=dem)
    east_ground = float(dem.elevation_amsl_m(at(1000, 0)[1], at(1000, 0)[0])[()])
    assert f.agl_reference == "dem"
    assert f.agl_min_m == pytest.approx(150.0 - east_ground, abs=1.0)
    assert f.agl_max_m == pytest.approx(50.0, abs=0.5)
    assert f.agl_min_planned_m == pytest.approx(150.0 - east_ground, abs=1.0)


def test_a_zone_on_the_track_is_an_incursion_with_its_depth() -> None:
    """A 200 m square zone across the outbound leg: one incursion, 100 m deep, named."""
    corners = [at(400, -100), at(600, -100), at(600, 100), at(400, 100), at(400, -100)]
    zone = NoFlyZone(name="quarry", polygons=(((tuple((lon, lat) for lat, lon in corners)),),))
    f = compare_flight(flight(), [], mission=mission(), zones=[zone])
    names = [i.name for i in f.incursions]
    assert names == ["quarry", "quarry"]  # out and back
    assert f.incursions[0].depth_m == pytest.approx(100.0, abs=1.0)
    assert f.incursions[0].t_s == 16.0  # the first sample strictly inside
    assert f.as_dict()["incursions"][0]["name"] == "quarry"


def test_leaving_an_inclusion_fence_and_entering_an_exclusion_one_are_incursions() -> None:
    """Inclusion polygon ending 800 m east, exclusion circle around the drop."""
    poly = [at(-100, -100), at(800, -100), at(800, 100), at(-100, 100)]
    fence = [MissionItem(command=Cmd.NAV_FENCE_POLYGON_VERTEX_INCLUSION, frame=0, param1=4,
                         lat_deg=lat, lon_deg=lon, mission_type=MissionType.FENCE)
             for lat, lon in poly]
    lat, lon = at(1000, 0)
    fence.append(MissionItem(command=Cmd.NAV_FENCE_CIRCLE_EXCLUSION, frame=0, param1=30.0,
                             lat_deg=lat, lon_deg=lon, mission_type=MissionType.FENCE))
    f = compare_flight(flight(), [], mission=mission(), fence=fence)
    kinds = {i.name for i in f.incursions}
    assert kinds == {"fence inclusion 1", "fence exclusion 1"}
    deepest = max(i.depth_m for i in f.incursions if i.name == "fence inclusion 1")
    assert deepest == pytest.approx(200.0, abs=1.0)


def test_releases_match_by_item_then_in_order_and_missing_ones_are_none() -> None:
    """Two release items: one matched by its item, one never released; extras are counted."""
    items = mission()
    items.insert(5, MissionItem(command=Cmd.DO_GRIPPER, frame=Frame.MISSION, param1=1.0))
    f = compare_flight(flight(), [release(1003, 4, seq=5), release(0, 0, seq=None),
                                  release(0, 0, seq=None)], mission=items,
                       drop_ids=["A", "B"])
    assert f.drop_errors_m["B"] == pytest.approx(5.0, abs=0.01)
    assert f.drop_errors_m["A"] == pytest.approx(1000.0, abs=0.5)
    assert f.unplanned_releases == 1
    g = compare_flight(flight(), [], mission=items, drop_ids=["A", "B"])
    assert dict(g.drop_errors_m) == {"A": None, "B": None}


def test_sortie_gives_predictions_fence_and_drop_ids() -> None:
    """A sortie's metrics are the predictions; its drop ids label the errors."""
    metrics = SortieMetrics(distance_m=2000, duration_s=55.0, energy_wh=6.5, energy_pct=1,
                            reserve_pct=90, min_agl_m=50, max_agl_m=50, payload_kg=1)
    sortie = Sortie(id="S1", depot_id="d", drone_type_id="q", vehicle="d/q/1",
                    drop_ids=("P1",), start_s=0, mission=tuple(mission()), fence=(), rally=(),
                    metrics=metrics)
    f = compare_flight(flight(), [release(1000, 0)], mission=sortie)
    assert (f.duration_planned_s, f.energy_planned_wh) == (55.0, 6.5)
    assert list(f.drop_errors_m) == ["P1"]


@pytest.mark.parametrize(("cut", "state"), [(None, "completed"), ("airborne", "in_flight"),
                                            ("short", "landed_short"), ("never", "not_flown")])
def test_final_states(cut: str | None, state: str) -> None:
    """Landed after the last item, still armed at the end, landed early, never armed."""
    samples = flight()
    reached: list[int] = [1, 2, 3, 5, 6, 7]
    if cut == "airborne":
        samples = samples[:-1]
    elif cut == "short":
        reached = [1, 2]
        samples = [dataclasses.replace(s, mission_seq=min(s.mission_seq or 0, 3))
                   for s in samples]
    elif cut == "never":
        samples = [dataclasses.replace(s, armed=False) for s in samples]
    f = compare_flight(samples, [], mission=mission(), reached=reached)
    assert f.final_state == state
    if state == "not_flown":
        assert f.cross_track_max_m is None and f.duration_flown_s is None


def test_items_reached_is_read_off_the_samples_without_reports() -> None:
    """Without MISSION_ITEM_REACHED, the items passed come from mission_seq."""
    f = compare_flight(flight(), [], mission=mission())
    assert (f.items_reached, f.final_state) == (7, "completed")


def test_bad_values_are_refused() -> None:
    """A NaN position and an unknown final state are refused with the field named."""
    with pytest.raises(ValueError, match="lat_deg"):
        sample(0, 0, 0, 0, seq=1).__class__(
            t_s=0, lat_deg=float("nan"), lon_deg=0, alt_amsl_m=0, ground_speed_m_s=0,
            battery_used_wh=None, battery_remaining_pct=None, mode="AUTO", armed=True,
            mission_seq=None)
    with pytest.raises(ValueError, match="final_state"):
        FlownFigures(cross_track_max_m=None, cross_track_p95_m=None, agl_min_m=None,
                     agl_max_m=None, agl_min_planned_m=None, agl_max_planned_m=None,
                     agl_reference="home", alt_max_amsl_m=None, incursions=(),
                     final_state="crashed")
