"""Payload on board with pickups: the load profile of a sortie and its energy, by hand."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest

from planner.legs.catalogue import LegCatalog
from planner.pipeline import build_scene, route_input
from planner.scenario import Depot, Drop, Scenario, TerrainConfig, Wind
from planner.sorties._trips import solve_small
from planner.sorties.evaluate import SortieEval, evaluate_sortie, load_profile_kg
from planner.terrain import Dem
from tests.planner.helpers import LAT0, LON0, drone_type, hills_dem
from tests.planner.sorties.test_route import CASES

G = 9.80665


@pytest.fixture(scope="module")
def flat() -> Dem:
    """Flat ground at 200 m AMSL."""
    return hills_dem(0, 0.0)


def _catalog(flat: Dem) -> tuple[Scenario, LegCatalog]:
    drops = (Drop(id="d", lat_deg=LAT0 + 0.02, lon_deg=LON0, weight_kg=1.0),
             Drop(id="p", lat_deg=LAT0 + 0.04, lon_deg=LON0, weight_kg=2.5, kind="pickup"))
    sc = Scenario(name="t", root=Path("."),
                  terrain=TerrainConfig(dem_paths=(Path("synthetic.hgt"),)), nofly=(),
                  buffer_m=50.0, depots=(Depot(id="hub", lat_deg=LAT0, lon_deg=LON0,
                                               drones={"quad": 1}),),
                  drone_types={"quad": drone_type()}, drops=drops)
    scene = build_scene(sc)
    return sc, LegCatalog(scenario=sc, dem=flat, proj=scene.proj, zones=scene.zone_map,
                          points_xy_m=scene.points_xy_m)


def test_load_profile_falls_at_deliveries_and_rises_at_pickups() -> None:
    """Every delivery leaves the depot; each release takes its weight off, each grab adds it."""
    weights = {1: 1.0, 2: 2.5, 3: 0.5, 4: 0.25}
    assert load_profile_kg((1, 2, 3, 4), weights, {2, 4}) == (1.5, 0.5, 3.0, 2.5, 2.75)
    assert load_profile_kg((2, 4), weights, {2, 4}) == (0.0, 2.5, 2.75)
    assert load_profile_kg((1, 3), weights) == (1.5, 0.5, 0.0)


def test_energy_follows_the_load_profile_by_hand(flat: Dem) -> None:
    """Deliver 1 kg, then collect 2.5 kg: every move and hover charged with what is on board."""
    sc, cat = _catalog(flat)
    drone = sc.drone_types["quad"]
    ev = evaluate_sortie(cat, drone, 0, (1, 2), {1: 1.0, 2: 2.5}, math.inf, pickups={2})
    assert isinstance(ev, SortieEval)
    assert ev.pickups == frozenset({2})
    assert ev.payload_kg == 2.5  # the most on board: after the grab (1.0 at take-off)

    k = math.sqrt(G**3 / (2 * drone.air_density_kg_m3 * drone.rotor_disk_area_m2
                          * drone.rotor_count))
    mass0 = drone.empty_mass_kg + drone.battery_mass_kg

    def power(m: float) -> float:
        return k * (mass0 + m) ** 1.5 / drone.power_efficiency

    def vertical(m: float, dz: float) -> tuple[float, float]:
        t = abs(dz) / (drone.climb_rate_m_s if dz > 0 else drone.descent_rate_m_s)
        lift = (mass0 + m) * G * max(dz, 0.0) / drone.power_efficiency / 3600
        return t, power(m) * t / 3600 + lift

    def leg(m: float, n: int) -> tuple[float, float]:
        lg = ev.legs[n]
        lift = (mass0 + m) * G * lg.climb_m / drone.power_efficiency / 3600
        return lg.time_s, power(m) * lg.time_s / 3600 + lift

    ground = 200.0
    low = ground + drone.drop_alt_agl_m
    hover = drone.drop_hover_s
    pieces = [vertical(1.0, ev.legs[0].start_alt_amsl_m - ground),    # take-off with 1 kg
              leg(1.0, 0),                                              # to d with 1 kg
              vertical(1.0, low - ev.legs[0].end_alt_amsl_m),           # down to release
              (hover, power(0.0) * hover / 3600),                       # released: empty
              vertical(0.0, ev.legs[1].start_alt_amsl_m - low),         # climb empty
              leg(0.0, 1),                                              # to p empty
              vertical(0.0, low - ev.legs[1].end_alt_amsl_m),           # down to grab, empty
              (hover, power(2.5) * hover / 3600),                       # grabbed 2.5 kg
              vertical(2.5, ev.legs[2].start_alt_amsl_m - low),         # climb with 2.5 kg
              leg(2.5, 2),                                              # home with 2.5 kg
              vertical(2.5, ground - ev.legs[2].end_alt_amsl_m)]        # land with 2.5 kg
    assert ev.energy_wh == pytest.approx(sum(e for _, e in pieces), rel=1e-12)
    assert ev.duration_s == pytest.approx(sum(t for t, _ in pieces), rel=1e-12)
    assert ev.release_offsets_s[1] == pytest.approx(sum(t for t, _ in pieces[:7]), rel=1e-12)

    # the same two parcels both delivered would leave with 3.5 kg, over the 3 kg payload
    both = evaluate_sortie(cat, drone, 0, (1, 2), {1: 1.0, 2: 2.5}, math.inf)
    assert both == "payload 3.50 kg is above the quad limit of 3.00 kg"


def test_capacity_is_checked_at_every_point_of_the_route(flat: Dem) -> None:
    """Collecting 2.5 kg before delivering 1 kg carries 3.5 kg (over 3 kg); the other way fits."""
    sc, cat = _catalog(flat)
    drone = sc.drone_types["quad"]
    assert drone.max_payload_kg == 3.0
    weights = {1: 1.0, 2: 2.5}
    fits = evaluate_sortie(cat, drone, 0, (1, 2), weights, math.inf, pickups={2})
    over = evaluate_sortie(cat, drone, 0, (2, 1), weights, math.inf, pickups={2})
    assert isinstance(fits, SortieEval)
    assert over == "payload 3.50 kg after a pickup is above the quad limit of 3.00 kg"


@pytest.mark.parametrize(("relief", "wind_m_s", "method"), [(0.0, 0.0, "gripper"),
                                                             (400.0, 6.0, "winch"),
                                                             (300.0, 3.0, "land")])
def test_trip_arcs_add_up_to_the_exact_sortie_with_pickups(relief: float, wind_m_s: float,
                                                           method: str) -> None:
    """With every other drop a pickup, the trip solver's per-arc energies and times sum to
    evaluate_sortie's for every trip it flies, over hills and wind."""
    dem = hills_dem(5, relief)
    base = CASES["one_depot_capacity"]
    drops = tuple(dataclasses.replace(d, kind="pickup") if k % 2 else d
                  for k, d in enumerate(base.drops))
    sc = dataclasses.replace(
        base, drops=drops, wind=Wind(speed_m_s=wind_m_s, from_deg=230.0),
        drone_types={"quad": drone_type(max_parcels=3, max_payload_kg=2.6, drop_method=method)})
    inp, _ = route_input(sc, dem, objective="distance")
    assert inp.pickups
    points = tuple(sorted(p for p, o in inp.options.items() if o))
    plan = solve_small(inp, points, seed=0, time_limit_s=10.0, clock=None)
    assert plan is not None and plan.trips
    assert any(any(points[c] in inp.pickups for c in t.customers)
               and not all(points[c] in inp.pickups for c in t.customers) for t in plan.trips)
    drone = sc.drone_types["quad"]
    for trip in plan.trips:
        order = tuple(points[c] for c in trip.customers)
        ev = evaluate_sortie(inp.catalog, drone, 0, order, inp.weights_kg, math.inf,
                             pickups=inp.pickups)
        assert isinstance(ev, SortieEval)
        assert trip.energy_wh == pytest.approx(ev.energy_wh, rel=1e-9)
        assert trip.load_kg == pytest.approx(ev.payload_kg, rel=1e-9)
        assert trip.return_s - trip.depart_s == pytest.approx(ev.duration_s, rel=1e-9)
        released = [t - trip.depart_s for t in trip.service_start_s]
        assert released == pytest.approx(list(ev.release_offsets_s), rel=1e-9)
