"""Tests of the independent plan verifier (planner.verify.verifier)."""

from __future__ import annotations

import ast
import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyproj
import pytest

from planner.errors import VerificationError
from planner.items import Cmd, Frame, MissionItem, MissionType
from planner.plan_model import Plan, Sortie, SortieMetrics, Unserved
from planner.scenario import (
    Depot,
    DroneType,
    Drop,
    NoFlyZone,
    Scenario,
    TerrainConfig,
    Wind,
)
from planner.terrain import Dem, DemTile
from planner.verify.verifier import (
    Violation,
    ensure_verified,
    format_violations,
    sortie_energy_wh,
    verify_plan,
    verify_sortie,
)
from tests.helpers.shared_data import REPO

LAT0, LON0 = 44.30, -71.60
GEOD = pyproj.Geod(ellps="WGS84")
G = 9.80665
ZONE_BOX = (-0.9, -0.5, 0.8, 1.2)  # x0, x1, y0, y1 in km east/north of the depot
FENCE_BOX = (-2.0, 2.5, -0.5, 2.5)
BASE_ROUTE = ((0.0, 1.0, None), (0.0, 2.0, "A"), (1.5, 1.0, None))
CRUISE_AMSL_M = 400.0

DRONE = DroneType(
    id="quad", empty_mass_kg=9.0, battery_mass_kg=4.5, battery_wh=900.0, reserve_fraction=0.2,
    max_payload_kg=3.0, max_parcels=3, cruise_speed_m_s=15.0, climb_rate_m_s=4.0,
    descent_rate_m_s=3.0, drop_method="gripper", drop_alt_agl_m=10.0, drop_hover_s=10.0,
    turnaround_s=300.0, rotor_disk_area_m2=0.246, rotor_count=8, power_efficiency=0.7)


def at(x_km: float, y_km: float) -> tuple[float, float]:
    """(lon, lat) of the point x_km east and y_km north of the depot (geodesic offsets)."""
    dist = math.hypot(x_km, y_km) * 1000.0
    az = math.degrees(math.atan2(x_km, y_km))
    lon, lat, _ = GEOD.fwd(LON0, LAT0, az, dist)
    return float(lon), float(lat)


def make_dem(*, slope_m_per_km: float = 20.0, hill_m: float = 0.0) -> Dem:
    """Ground 300 m AMSL at the depot rising northwards, optionally a hill 0.5 km north."""
    lons = -71.70 + 0.001 * np.arange(201)
    lats = 44.40 - 0.001 * np.arange(201)
    lon, lat = np.meshgrid(lons, lats)
    x = (lon - LON0) * 111_320.0 * math.cos(math.radians(LAT0))
    y = (lat - LAT0) * 111_320.0
    h = 300.0 + slope_m_per_km * y / 1000.0
    h += hill_m * np.exp(-(x**2 + (y - 500.0) ** 2) / (2 * 150.0**2))
    return Dem(tiles=(DemTile(heights_m=h, west_deg=-71.70, north_deg=44.40, dlon_deg=0.001,
                              dlat_deg=0.001),))


def ground(dem: Dem, lon: float, lat: float) -> float:
    """DEM ground height at one point."""
    return float(dem.elevation_amsl_m(lon, lat)[()])


def box_ring(box: tuple[float, float, float, float]) -> list[tuple[float, float]]:
    """Counter-clockwise corners (lon, lat) of a box given in km."""
    x0, x1, y0, y1 = box
    return [at(x0, y0), at(x1, y0), at(x1, y1), at(x0, y1)]


def make_scenario(*, drone: DroneType = DRONE, zone: bool = True, wind: Wind | None = None,
                  drops: Sequence[Drop] | None = None) -> Scenario:
    """One depot, drops A (2 kg, 2 km north) and B (0.5 kg), optionally one square zone."""
    if drops is None:
        (alon, alat), (blon, blat) = at(0.0, 2.0), at(1.0, 2.0)
        drops = (Drop(id="A", lat_deg=alat, lon_deg=alon, weight_kg=2.0),
                 Drop(id="B", lat_deg=blat, lon_deg=blon, weight_kg=0.5))
    ring = box_ring(ZONE_BOX)
    zones = (NoFlyZone(name="Z", polygons=((tuple([*ring, ring[0]]),),)),) if zone else ()
    return Scenario(
        name="test", root=Path("."), terrain=TerrainConfig(dem_paths=(Path("dem.hgt"),)),
        nofly=zones, buffer_m=50.0,
        depots=(Depot(id="D", lat_deg=LAT0, lon_deg=LON0, drones={drone.id: 2}),),
        drone_types={drone.id: drone}, drops=tuple(drops), wind=wind or Wind())


def make_sortie(dem: Dem, *, route: Sequence[tuple[float, float, str | None]] = BASE_ROUTE,
                method: str = "gripper", terrain: bool = False,
                cruise_amsl_m: float = CRUISE_AMSL_M, zone: bool = True,
                sortie_id: str = "s1") -> Sortie:
    """A valid sortie: take-off, the route at cruise altitude with releases, back, RTL."""
    hlon, hlat = at(0.0, 0.0)
    home = ground(dem, hlon, hlat)
    frame = Frame.GLOBAL_TERRAIN_ALT if terrain else Frame.GLOBAL_RELATIVE_ALT

    def nav(command: int, lon: float, lat: float, amsl: float) -> MissionItem:
        alt = amsl - (ground(dem, lon, lat) if terrain else home)
        return MissionItem(command=command, frame=frame, lat_deg=lat, lon_deg=lon, alt_m=alt)

    def do(command: int, *params: float) -> MissionItem:
        p = (*params, 0.0, 0.0, 0.0, 0.0)[:4]
        return MissionItem(command=command, frame=Frame.MISSION, param1=p[0], param2=p[1],
                           param3=p[2], param4=p[3])

    items = [MissionItem(command=Cmd.NAV_WAYPOINT, frame=Frame.GLOBAL, lat_deg=hlat,
                         lon_deg=hlon, alt_m=home),
             nav(Cmd.NAV_TAKEOFF, hlon, hlat, cruise_amsl_m)]
    drops = []
    for x, y, drop in route:
        lon, lat = at(x, y)
        items.append(nav(Cmd.NAV_WAYPOINT, lon, lat, cruise_amsl_m))
        if drop is None:
            continue
        drops.append(drop)
        if method == "land":
            items += [MissionItem(command=Cmd.NAV_LAND, lat_deg=lat, lon_deg=lon, alt_m=0.0),
                      do(Cmd.DO_GRIPPER, 1, 0), do(Cmd.NAV_DELAY, 10, -1, -1, -1),
                      nav(Cmd.NAV_TAKEOFF, lon, lat, cruise_amsl_m)]
            continue
        items.append(nav(Cmd.NAV_WAYPOINT, lon, lat, ground(dem, lon, lat) + 10.0))
        items.append(do(Cmd.DO_WINCH, 1, 1, 10, 0.5) if method == "winch"
                     else do(Cmd.DO_GRIPPER, 1, 0))
        items += [do(Cmd.NAV_DELAY, 10, -1, -1, -1), nav(Cmd.NAV_WAYPOINT, lon, lat,
                                                         cruise_amsl_m)]
    items += [nav(Cmd.NAV_WAYPOINT, hlon, hlat, cruise_amsl_m),
              MissionItem(command=Cmd.NAV_RETURN_TO_LAUNCH, frame=Frame.MISSION)]
    fence = polygon_items(box_ring(FENCE_BOX), Cmd.NAV_FENCE_POLYGON_VERTEX_INCLUSION)
    if zone:
        fence += polygon_items(box_ring(ZONE_BOX), Cmd.NAV_FENCE_POLYGON_VERTEX_EXCLUSION)
    rally = (MissionItem(command=Cmd.NAV_RALLY_POINT, lat_deg=hlat, lon_deg=hlon,
                         alt_m=cruise_amsl_m - home, mission_type=MissionType.RALLY),)
    metrics = SortieMetrics(distance_m=0.0, duration_s=0.0, energy_wh=0.0, energy_pct=0.0,
                            reserve_pct=100.0, min_agl_m=0.0, max_agl_m=0.0, payload_kg=0.0)
    return Sortie(id=sortie_id, depot_id="D", drone_type_id=DRONE.id, vehicle="D/quad/1",
                  drop_ids=tuple(drops), start_s=0.0, mission=tuple(items), fence=tuple(fence),
                  rally=rally, metrics=metrics)


def polygon_items(ring: list[tuple[float, float]], command: int) -> tuple[MissionItem, ...]:
    """Fence vertices of one polygon, param1 = vertex count."""
    return tuple(MissionItem(command=command, frame=Frame.GLOBAL, param1=float(len(ring)),
                             lat_deg=lat, lon_deg=lon, mission_type=MissionType.FENCE)
                 for lon, lat in ring)


def make_plan(sorties: Sequence[Sortie], unserved: Sequence[str] = ("B",)) -> Plan:
    """A plan of the given sorties with the given drops listed as unserved."""
    return Plan(scenario="test", altitude_frame="relative", sorties=tuple(sorties),
                unserved=tuple(Unserved(drop_id=d, reason="out of range") for d in unserved))


def with_item(sortie: Sortie, index: int, **changes: float | int) -> Sortie:
    """The sortie with mission item ``index`` changed."""
    mission = list(sortie.mission)
    mission[index] = replace(mission[index], **changes)  # type: ignore[arg-type]
    return replace(sortie, mission=tuple(mission))


def moved(sortie: Sortie, index: int, x_km: float, y_km: float) -> Sortie:
    """The sortie with mission item ``index`` moved to (x_km, y_km)."""
    lon, lat = at(x_km, y_km)
    return with_item(sortie, index, lon_deg=lon, lat_deg=lat)


def kinds(violations: Sequence[Violation]) -> list[tuple[str, int | None]]:
    """(kind, item index) of each violation, sorted."""
    return sorted(((v.kind, v.item_index) for v in violations), key=repr)


def dorling_w(mass_kg: float, drone: DroneType = DRONE) -> float:
    """Electrical Dorling power, written out independently of the verifier."""
    k = math.sqrt(G**3 / (2 * drone.air_density_kg_m3 * drone.rotor_disk_area_m2
                          * drone.rotor_count))
    return mass_kg**1.5 * k / drone.power_efficiency


@pytest.fixture(scope="module")
def dem() -> Dem:
    """The sloping test terrain."""
    return make_dem()


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    """The base scenario with one zone."""
    return make_scenario()


@pytest.fixture(scope="module")
def base(dem: Dem) -> Sortie:
    """The valid base gripper sortie (items: 0 home, 1 takeoff, 2 M, 3-7 drop A, 8 R, 9, 10)."""
    return make_sortie(dem)


@pytest.mark.parametrize(("method", "terrain"), [("gripper", False), ("gripper", True),
                                                 ("winch", False), ("land", False),
                                                 ("land", True)])
def test_valid_sortie_has_no_violation(dem: Dem, scenario: Scenario, method: str,
                                       terrain: bool) -> None:
    """A well-formed sortie of every drop method and altitude frame passes every check."""
    drone = replace(DRONE, drop_method=method)
    scen = replace(scenario, drone_types={drone.id: drone})
    sortie = make_sortie(dem, method=method, terrain=terrain)
    assert verify_plan(make_plan([sortie]), scen, dem) == []


def test_base_layout_is_what_the_mutations_assume(base: Sortie) -> None:
    """The base sortie's item indexes are the ones the mutation tests name."""
    cmds = [it.command for it in base.mission]
    assert cmds == [Cmd.NAV_WAYPOINT, Cmd.NAV_TAKEOFF, Cmd.NAV_WAYPOINT, Cmd.NAV_WAYPOINT,
                    Cmd.NAV_WAYPOINT, Cmd.DO_GRIPPER, Cmd.NAV_DELAY, Cmd.NAV_WAYPOINT,
                    Cmd.NAV_WAYPOINT, Cmd.NAV_WAYPOINT, Cmd.NAV_RETURN_TO_LAUNCH]


def _insert(sortie: Sortie, index: int, item: MissionItem) -> Sortie:
    mission = list(sortie.mission)
    mission.insert(index, item)
    return replace(sortie, mission=tuple(mission))


MUTATIONS = {
    # waypoint M moved into the zone: the position (and the exclusion fence) at item 2
    "waypoint in zone": (lambda s: moved(s, 2, -0.7, 1.0), [("fence", 2), ("nofly", 2)]),
    # both ends outside, the leg depot -> M cuts the zone's corner
    "segment crosses zone": (lambda s: moved(s, 2, -1.4, 1.6), [("fence", 2), ("nofly", 2)]),
    # 500 m above home over the depot: the leg in and the RTL descent break the ceiling
    "above ceiling": (lambda s: with_item(s, 9, alt_m=200.0), [("agl_high", 9),
                                                               ("agl_high", 10)]),
    # the drop waypoint 5 m above ground instead of 10 m
    "release too low": (lambda s: with_item(s, 4, alt_m=s.mission[4].alt_m - 5.0),
                        [("agl_low", 5)]),
    # the gripper grabs instead of releasing: bad item, and drop A is never released
    "gripper grabs": (lambda s: with_item(s, 5, param2=1.0), [("drop_missing", None),
                                                              ("structure", 5)]),
    "last waypoint 50 m from home": (lambda s: moved(s, 9, 0.05, 0.0), [("structure", 10)]),
    "item 1 is not a takeoff": (lambda s: with_item(s, 1, command=int(Cmd.NAV_WAYPOINT)),
                                [("structure", 1)]),
    "DO_JUMP inserted": (lambda s: _insert(s, 7, MissionItem(command=Cmd.DO_JUMP, param1=2,
                                                            param2=1)), [("structure", 7)]),
    "waypoint frame MISSION": (lambda s: with_item(s, 8, frame=int(Frame.MISSION)),
                               [("structure", 8)]),
    "RTL missing": (lambda s: replace(s, mission=s.mission[:-1]), [("structure", 9)]),
    "fence misses waypoint R": (
        lambda s: replace(s, fence=polygon_items(box_ring((-2.0, 1.2, -0.5, 2.5)),
                                                 Cmd.NAV_FENCE_POLYGON_VERTEX_INCLUSION)
                          + s.fence[4:]), [("fence", 8)]),
    "fence vertex count wrong": (
        lambda s: replace(s, fence=tuple(replace(v, param1=5.0) for v in s.fence[:4])
                          + s.fence[4:]), [("fence", 0), ("fence", None)]),
    "no rally point": (lambda s: replace(s, rally=()), [("rally", None)]),
    "home rally point above the arrival": (
        lambda s: replace(s, rally=(replace(s.rally[0], alt_m=1000.0),)), [("rally", 0)]),
    "waypoint R outside the DEM": (lambda s: moved(s, 8, 9.0, 1.0),
                                   [("coverage", 8), ("coverage", 9), ("fence", 8)]),
}


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_each_mutation_is_caught_exactly(dem: Dem, scenario: Scenario, base: Sortie,
                                         name: str) -> None:
    """Breaking one thing in a valid sortie gives exactly the expected kinds and items."""
    mutate, expected = MUTATIONS[name]
    violations = verify_plan(make_plan([mutate(base)]), scenario, dem)
    assert kinds(violations) == sorted(expected, key=repr)
    assert all(v.sortie_id == "s1" and v.message.startswith("sortie s1") for v in violations)


def test_hill_between_safe_waypoints_is_caught(scenario: Scenario, base: Sortie) -> None:
    """A leg whose two waypoints are safe but whose middle runs below clearance is rejected."""
    hill = make_dem(hill_m=60.0)
    m0, m2 = base.mission[0], base.mission[2]
    for item in (m0, m2):  # both ends of leg 0 -> 2 are inside the band on the hill terrain
        agl = CRUISE_AMSL_M - ground(hill, item.lon_deg, item.lat_deg)
        assert 40.0 <= agl <= 120.0
    violations = verify_plan(make_plan([base]), scenario, hill)
    assert kinds(violations) == [("agl_low", 2)]
    assert "below the clearance 40.0 m AGL" in violations[0].message


def test_nofly_message_names_zone_and_crossing_point(dem: Dem, scenario: Scenario,
                                                    base: Sortie) -> None:
    """The crossing violation names the zone and a point of entry inside the zone's box."""
    [v] = [v for v in verify_plan(make_plan([moved(base, 2, -1.4, 1.6)]), scenario, dem)
           if v.kind == "nofly"]
    assert "zone 'Z'" in v.message and "enters" in v.message
    lat = float(v.message.split("at (lat ")[-1].split(",")[0])
    assert at(0, 0.8)[1] - 1e-6 <= lat <= at(0, 1.2)[1] + 1e-6


def test_battery_too_small_points_at_the_item_where_reserve_is_reached(
        dem: Dem, scenario: Scenario, base: Sortie) -> None:
    """With usable energy half an RTL descent short, the energy violation points at the RTL."""
    weights = {"A": 2.0, "B": 0.5}
    total = sortie_energy_wh(base, scenario, dem, payload_kg_by_drop=weights)
    rtl_wh = dorling_w(9.0 + 4.5) * (100.0 / 3.0) / 3600.0  # 100 m down at 3 m/s, no payload
    usable = total - rtl_wh / 2
    small = replace(DRONE, battery_wh=usable / (1 - DRONE.reserve_fraction))
    scen = replace(scenario, drone_types={small.id: small})
    violations = verify_plan(make_plan([base]), scen, dem)
    assert kinds(violations) == [("energy", 10)]
    assert f"{total:.1f} Wh" in violations[0].message


@pytest.mark.parametrize(("wind", "t_out_s", "t_back_s"), [
    (Wind(), 2000.0 / 15.0, 2000.0 / 15.0),
    # 5 m/s from the north: 10 m/s over the ground going north, 20 m/s coming back south
    (Wind(speed_m_s=5.0, from_deg=0.0), 2000.0 / 10.0, 2000.0 / 20.0),
])
def test_energy_of_out_and_back_matches_hand_computation(wind: Wind, t_out_s: float,
                                                         t_back_s: float) -> None:
    """Energy of a flat 2 km out-and-back gripper drop equals the Dorling sum written out."""
    flat = make_dem(slope_m_per_km=0.0)
    scen = make_scenario(zone=False, wind=wind)
    sortie = make_sortie(flat, route=((0.0, 2.0, "A"),), cruise_amsl_m=350.0, zone=False)
    loaded, empty = 9.0 + 4.5 + 2.0, 9.0 + 4.5
    p_loaded, p_empty = dorling_w(loaded), dorling_w(empty)
    eff = DRONE.power_efficiency
    joules = (p_loaded * 50.0 / 4.0 + loaded * G * 50.0 / eff  # take-off 0 -> 50 m at 4 m/s
              + p_loaded * t_out_s                            # 2 km north
              + p_loaded * 40.0 / 3.0                         # down to 10 m AGL at 3 m/s
              + p_empty * 10.0                                # 10 s hover after release
              + p_empty * 40.0 / 4.0 + empty * G * 40.0 / eff  # climb back to 50 m
              + p_empty * t_back_s                            # 2 km south
              + p_empty * 50.0 / 3.0)                         # RTL descent to the ground
    got = sortie_energy_wh(sortie, scen, flat, payload_kg_by_drop={"A": 2.0, "B": 0.5})
    assert got == pytest.approx(joules / 3600.0, rel=1e-9)
    assert verify_plan(make_plan([sortie]), scen, flat) == []


def test_crosswind_stronger_than_airspeed_is_an_energy_violation(dem: Dem,
                                                                 base: Sortie) -> None:
    """A 20 m/s east wind stops a 15 m/s drone on the northbound legs."""
    scen = make_scenario(wind=Wind(speed_m_s=20.0, from_deg=90.0))
    violations = verify_plan(make_plan([base]), scen, dem)
    assert {v.kind for v in violations} == {"energy"}
    assert {2, 3} <= {v.item_index for v in violations}
    assert sortie_energy_wh(base, scen, dem, payload_kg_by_drop={"A": 2.0}) == math.inf


def test_payload_too_heavy(dem: Dem, base: Sortie) -> None:
    """A 3.5 kg parcel on a 3 kg drone is a payload violation of the sortie."""
    (alon, alat), (blon, blat) = at(0.0, 2.0), at(1.0, 2.0)
    scen = make_scenario(drops=(Drop(id="A", lat_deg=alat, lon_deg=alon, weight_kg=3.5),
                                Drop(id="B", lat_deg=blat, lon_deg=blon, weight_kg=0.5)))
    assert kinds(verify_plan(make_plan([base]), scen, dem)) == [("payload", None)]


def test_too_many_parcels(dem: Dem) -> None:
    """Two drops on a one-parcel drone is a parcels violation; the two releases are fine."""
    one = replace(DRONE, max_parcels=1)
    scen = make_scenario(drone=one)
    sortie = make_sortie(dem, route=((0.0, 1.0, None), (0.0, 2.0, "A"), (1.0, 2.0, "B"),
                                     (1.5, 1.0, None)))
    assert kinds(verify_plan(make_plan([sortie], unserved=()), scen, dem)) == [("parcels", None)]


def test_release_off_its_drop(dem: Dem, base: Sortie) -> None:
    """A drop 30 m away from where the gripper opens is reported at the release item."""
    lon, lat = at(0.03, 2.0)
    scen = make_scenario()
    scen = replace(scen, drops=(replace(scen.drops[0], lon_deg=lon, lat_deg=lat),
                                scen.drops[1]))
    [v] = verify_plan(make_plan([base]), scen, dem)
    assert (v.kind, v.item_index) == ("drop_missing", 5)
    assert "30.0 m from drop A" in v.message


@pytest.mark.parametrize(("sorties", "unserved", "expected"), [
    (1, (), [("drop_missing", None)]),
    (2, ("B",), [("drop_duplicate", None)]),
    (1, ("B", "A"), [("drop_duplicate", None)]),
    (1, ("B", "B"), [("drop_duplicate", None)]),
    (1, ("B", "nowhere"), [("drop_unknown", None)]),
])
def test_drop_accounting(dem: Dem, scenario: Scenario, sorties: int, unserved: tuple[str, ...],
                         expected: list[tuple[str, None]]) -> None:
    """Missing, duplicated, served-and-listed and unknown drops are plan-level violations."""
    plan = make_plan([make_sortie(dem, sortie_id=f"s{k}") for k in range(1, sorties + 1)],
                     unserved=unserved)
    assert kinds(verify_plan(plan, scenario, dem)) == expected


def test_unknown_drop_in_sortie(dem: Dem, scenario: Scenario, base: Sortie) -> None:
    """A sortie serving a drop id the scenario lacks is reported for that sortie."""
    sortie = replace(base, drop_ids=("X",))
    violations = verify_plan(make_plan([sortie], unserved=("A", "B")), scenario, dem)
    assert kinds(violations) == [("drop_unknown", None)]
    assert violations[0].sortie_id == "s1"


def test_verify_sortie_agrees_with_verify_plan(dem: Dem, scenario: Scenario,
                                               base: Sortie) -> None:
    """verify_sortie reports the same sortie violations as verify_plan."""
    bad = with_item(moved(base, 2, -0.7, 1.0), 9, alt_m=200.0)
    alone = verify_sortie(bad, scenario, dem, payload_kg_by_drop={"A": 2.0, "B": 0.5})
    assert alone == verify_plan(make_plan([bad]), scenario, dem)
    assert len(alone) == 4


def test_unknown_depot_and_drone_type(dem: Dem, scenario: Scenario, base: Sortie) -> None:
    """A sortie naming a depot or drone type the scenario lacks is a structure violation."""
    sortie = replace(base, depot_id="nowhere", drone_type_id="ghost")
    violations = verify_sortie(sortie, scenario, dem, payload_kg_by_drop={"A": 2.0})
    assert kinds(violations) == [("structure", None), ("structure", None)]
    assert math.isnan(sortie_energy_wh(sortie, scenario, dem, payload_kg_by_drop={}))


def test_format_and_ensure(dem: Dem, scenario: Scenario, base: Sortie) -> None:
    """The CLI text lists every violation and ensure_verified raises with all of them."""
    plan = make_plan([with_item(base, 9, alt_m=200.0)])
    violations = verify_plan(plan, scenario, dem)
    text = format_violations(violations)
    assert text.splitlines()[0] == "2 violations:"
    assert "[agl_high] sortie s1 item 9 (NAV_WAYPOINT): height above ground" in text
    with pytest.raises(VerificationError) as err:
        ensure_verified(plan, scenario, dem)
    assert len(err.value.violations) == 2
    ensure_verified(make_plan([base]), scenario, dem)


def test_violation_kind_is_checked() -> None:
    """A Violation with an unknown kind cannot be made."""
    with pytest.raises(ValueError, match="Expected kind one of"):
        Violation(sortie_id=None, item_index=None, kind="oops", message="x")


def test_verifier_imports_no_planning_module() -> None:
    """The verifier's modules import only the data model, terrain, geodesy and errors of planner,
    and the executor helpers (planner.tasks, which import nothing of planner)."""
    allowed = {"planner.scenario", "planner.items", "planner.plan_model", "planner.terrain",
               "planner.geo", "planner.errors", "planner.tasks"}
    root = REPO / "planner" / "verify"
    files = sorted(root.glob("*.py"))
    assert len(files) >= 2
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(
                    "planner"):
                assert node.module in allowed or node.module.startswith("planner.verify."), (
                    f"{path.name} imports {node.module}")
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("planner") for a in node.names)


def test_terrain_frame_follows_the_hill(scenario: Scenario) -> None:
    """In the terrain frame the vehicle follows the hill: no violation, but the climb costs."""
    flat, hill = make_dem(), make_dem(hill_m=60.0)
    weights = {"A": 2.0, "B": 0.5}
    over_hill = make_sortie(hill, terrain=True)
    assert verify_plan(make_plan([over_hill]), scenario, hill) == []
    e_hill = sortie_energy_wh(over_hill, scenario, hill, payload_kg_by_drop=weights)
    e_flat = sortie_energy_wh(make_sortie(flat, terrain=True), scenario, flat,
                              payload_kg_by_drop=weights)
    # at least the potential energy of lifting the loaded drone (15.5 kg) 50 m up the hill
    assert e_hill - e_flat > 15.5 * G * 50.0 / DRONE.power_efficiency / 3600.0


def test_drop_method_mismatch(dem: Dem, scenario: Scenario) -> None:
    """A landing delivery flown by a gripper drone type is reported at the release item."""
    violations = verify_plan(make_plan([make_sortie(dem, method="land")]), scenario, dem)
    assert kinds(violations) == [("structure", 5)]
    assert "drops by gripper" in violations[0].message


def test_vehicle_round_trip_normalisations_are_accepted(dem: Dem, scenario: Scenario,
                                                        base: Sortie) -> None:
    """Items as the vehicle returns them (frame 6 for 3, frame 0 on RTL and DO items, home
    altitude a few cm off) still verify."""
    mission = [replace(it, frame=int(Frame.GLOBAL_RELATIVE_ALT_INT))
               if it.frame == Frame.GLOBAL_RELATIVE_ALT else it for it in base.mission]
    mission = [replace(it, frame=int(Frame.GLOBAL)) if it.frame == Frame.MISSION else it
               for it in mission]
    mission[0] = replace(mission[0], alt_m=mission[0].alt_m + 0.09)
    assert verify_plan(make_plan([replace(base, mission=tuple(mission))]), scenario, dem) == []
