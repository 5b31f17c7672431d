"""Plan versus flown on synthetic flights: cross-track, AGL, incursions, drops, states."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from planner.flown.figures import FlownFigures, FlownSample, ReleaseEvent, compare_flight
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


def test_a_pickup_grab_is_measured_apart_from_the_releases() -> None:
    """With the mission's gripper item a grab (a pickup), the gripper closing 0.5 m from the
    point is its grab error under the pickup's id; a release there is an unplanned release
    (no delivery planned), and a flight without the grab shows the pickup not collected."""
    items = mission()
    items[4] = dataclasses.replace(items[4], param2=1.0)  # DO_GRIPPER grab
    grab = release(1000.4, 0.3)
    f = compare_flight(flight(), [], grabs=[grab], mission=items, drop_ids=["K1"],
                       reached=[1, 2, 3, 5, 6, 7])
    assert dict(f.grab_errors_m) == {"K1": pytest.approx(0.5, abs=0.01)}
    assert dict(f.drop_errors_m) == {} and f.unplanned_grabs == 0
    assert f.as_dict()["grab_errors_m"] == {"K1": pytest.approx(0.5, abs=0.01)}
    missed = compare_flight(flight(), [grab], mission=items, drop_ids=["K1"])
    assert dict(missed.grab_errors_m) == {"K1": None} and missed.unplanned_releases == 1
    delivery = compare_flight(flight(), [grab], grabs=[grab], mission=mission(),
                              drop_ids=["D1"])
    assert dict(delivery.grab_errors_m) == {} and delivery.unplanned_grabs == 1
    assert dict(delivery.drop_errors_m) == {"D1": pytest.approx(0.5, abs=0.01)}


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


# -- drop phases ---------------------------------------------------------------------------------
def wp(x: float, y: float, alt_rel: float, command: int = Cmd.NAV_WAYPOINT) -> MissionItem:
    """A relative-frame NAV item x/y metres from home."""
    lat, lon = at(x, y)
    return MissionItem(command=command, lat_deg=lat, lon_deg=lon, alt_m=alt_rel)


def do(command: int, *params: float) -> MissionItem:
    """A DO item."""
    p = (*params, 0.0, 0.0, 0.0, 0.0)[:4]
    return MissionItem(command=command, frame=Frame.MISSION, param1=p[0], param2=p[1],
                       param3=p[2], param4=p[3])


def sloped_mission(release: MissionItem | None = None, approach_from_m: float = 920.0,
                   ) -> list[MissionItem]:
    """As a hand-made plan: cruise at 50 m, slope down to a drop at 15 m, release, slope up."""
    return [mission()[0], MissionItem(command=Cmd.NAV_TAKEOFF, alt_m=50.0),
            wp(approach_from_m, 0, 50.0), wp(1000, 0, 15.0),
            release or do(Cmd.DO_GRIPPER, 1, 0), wp(1080, 0, 50.0), wp(0, 0, 50.0),
            MissionItem(command=Cmd.NAV_RETURN_TO_LAUNCH)]


def sloped_flight(hover_m: float = 15.0, approach_from_m: float = 920.0) -> list[FlownSample]:
    """``sloped_mission`` flown exactly, hovering at ``hover_m`` over the drop."""
    out = [sample(0, 0, 0, 0, seq=1)]
    out += [sample(1 + k, 0, 0, 5.0 * k, seq=1) for k in range(1, 11)]
    out += [sample(11 + k, approach_from_m * k / 10, 0, 50.0, seq=2) for k in range(1, 11)]
    span = 1000.0 - approach_from_m
    out += [sample(21 + k, approach_from_m + span * k / 10, 0, 50.0 - 3.5 * k, seq=3)
            for k in range(1, 11)]
    out += [sample(32, 1000, 0, hover_m, seq=5), sample(35, 1000, 0, 15.0, seq=5)]
    out += [sample(35 + k, 1000 + 8.0 * k, 0, 15.0 + 3.5 * k, seq=5) for k in range(1, 11)]
    out += [sample(45 + k, 1080.0 - 108.0 * k, 0, 50.0, seq=6) for k in range(1, 11)]
    out += [sample(60, 0, 0, 0, seq=7), sample(61, 0, 0, 0, seq=7, armed=False)]
    return out


def flat_dem(height_m: float = HOME[2]) -> Dem:
    """Level ground at ``height_m`` around home."""
    return Dem(tiles=(DemTile(heights_m=np.full((11, 31), height_m), west_deg=-71.01,
                              north_deg=44.005, dlon_deg=0.001, dlat_deg=0.001),))


def test_a_drop_reached_by_a_sloped_leg_is_a_drop_phase_not_cruise() -> None:
    """Descending along the leg to a drop at 15 m and climbing along the next: cruise stays
    50 m flown and planned; the drop phase is 15 m against a planned 15 m."""
    f = compare_flight(sloped_flight(), [], mission=sloped_mission(), dem=flat_dem())
    assert (f.agl_min_m, f.agl_max_m) == pytest.approx((50.0, 50.0), abs=0.01)
    assert (f.agl_min_planned_m, f.agl_max_planned_m) == pytest.approx((50.0, 50.0), abs=0.01)
    assert dict(f.drop_agl_min_m) == {"item 4": pytest.approx(15.0, abs=0.01)}
    assert dict(f.drop_agl_planned_m) == {"item 4": pytest.approx(15.0, abs=0.01)}
    assert f.as_dict()["drop_agl_min_m"] == {"item 4": pytest.approx(15.0, abs=0.01)}


def test_a_drop_flown_below_its_planned_height_shows_in_the_drop_figure() -> None:
    """Hovering at 4 m over a drop planned at 15 m: the drop figure says 4 m, cruise is
    untouched."""
    f = compare_flight(sloped_flight(hover_m=4.0), [], mission=sloped_mission(), dem=flat_dem())
    assert f.drop_agl_min_m["item 4"] == pytest.approx(4.0, abs=0.01)
    assert f.agl_min_m == pytest.approx(50.0, abs=0.01)


def test_a_long_sloped_approach_is_cruise_until_the_drop_radius() -> None:
    """A descent starting 500 m out: the part farther than the drop radius is cruise, so its
    low end (about 22 m planned 100 m out) is the cruise minimum."""
    items = sloped_mission(approach_from_m=500.0)
    f = compare_flight(sloped_flight(approach_from_m=500.0), [], mission=items, dem=flat_dem())
    assert f.agl_min_planned_m == pytest.approx(50.0 - 35.0 * 400 / 500, abs=1.0)
    assert f.agl_min_m == pytest.approx(50.0 - 35.0 * 0.8, abs=0.01)  # the sample 100 m out
    assert f.drop_agl_min_m["item 4"] == pytest.approx(15.0, abs=0.01)
    wide = compare_flight(sloped_flight(approach_from_m=500.0), [], mission=items,
                          dem=flat_dem(), drop_radius_m=600.0)
    assert wide.agl_min_m == pytest.approx(50.0, abs=0.01)


def test_a_vertical_descent_at_the_drop_is_its_drop_phase() -> None:
    """Our own plans descend straight down at the drop: the 10 m hover is the drop phase."""
    f = compare_flight(flight(), [], mission=mission(), dem=flat_dem(), drop_ids=["P1"])
    assert dict(f.drop_agl_min_m) == {"P1": pytest.approx(10.0, abs=0.01)}
    assert dict(f.drop_agl_planned_m) == {"P1": pytest.approx(10.0, abs=0.01)}
    assert f.agl_min_m == pytest.approx(50.0, abs=0.01)


@pytest.mark.parametrize(("release", "found"), [
    (do(Cmd.DO_WINCH, 1, 1, 15.0, 0.5), True), (do(183, 9, 1900), True), (do(181, 0, 1), True),
    (do(Cmd.DO_GRIPPER, 1, 1), False)])
def test_release_commands_that_make_a_drop(release: MissionItem, found: bool) -> None:
    """Winch, servo and relay after a waypoint are releases; a gripper grab is not."""
    f = compare_flight(sloped_flight(), [], mission=sloped_mission(release), dem=flat_dem())
    assert (list(f.drop_agl_min_m) == ["item 4"]) is found
    assert (f.agl_min_m == pytest.approx(50.0, abs=0.01)) is found


@pytest.mark.parametrize("command", [Cmd.NAV_LAND, Cmd.NAV_PAYLOAD_PLACE])
def test_landing_and_payload_place_drops_are_planned_at_the_ground(command: int) -> None:
    """A drop by landing or payload place: planned 0 m over a DEM, unknown without one."""
    items = [mission()[0], MissionItem(command=Cmd.NAV_TAKEOFF, alt_m=50.0), wp(900, 0, 50.0),
             wp(1000, 0, 0.0, command)]
    if command == Cmd.NAV_LAND:
        items += [do(Cmd.DO_GRIPPER, 1, 0), MissionItem(command=Cmd.NAV_TAKEOFF, alt_m=50.0)]
    items += [wp(0, 0, 50.0), MissionItem(command=Cmd.NAV_RETURN_TO_LAUNCH)]
    seq = 3
    samples = [sample(0, 0, 0, 0, seq=1), sample(10, 0, 0, 50, seq=1),
               sample(20, 900, 0, 50, seq=2), sample(25, 990, 0, 50, seq=seq),
               sample(30, 1000, 0, 20, seq=seq), sample(35, 1000, 0, 0.3, seq=seq),
               sample(40, 1000, 0, 30, seq=len(items) - 3), sample(50, 500, 0, 50,
                                                                   seq=len(items) - 2),
               sample(60, 0, 0, 0, seq=len(items) - 1),
               sample(61, 0, 0, 0, seq=len(items) - 1, armed=False)]
    label = "item 3" if command == Cmd.NAV_PAYLOAD_PLACE else "item 4"
    f = compare_flight(samples, [], mission=items, dem=flat_dem())
    assert dict(f.drop_agl_planned_m) == {label: 0.0}
    assert f.drop_agl_min_m[label] == pytest.approx(0.3, abs=0.01)
    assert f.agl_min_m == pytest.approx(50.0, abs=0.01)
    g = compare_flight(samples, [], mission=items)
    assert dict(g.drop_agl_planned_m) == {label: None}
