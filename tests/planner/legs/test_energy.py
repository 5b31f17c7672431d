"""Energy model against hand-computed numbers."""

from __future__ import annotations

import math

import pytest

from planner.legs.energy import G_M_S2, DorlingModel, ground_speed_m_s, move_time_s
from tests.planner.helpers import drone_type


def test_power_matches_cheng_constant() -> None:
    """k = sqrt(g^3 / (2 rho zeta n)) is 101.04 with Cheng et al.'s parameters (g = 9.81)."""
    k = math.sqrt(9.81**3 / (2 * 1.204 * 0.0064 * 6))
    assert k == pytest.approx(101.04, abs=0.01)
    model = DorlingModel.of(drone_type(empty_mass_kg=1.5, battery_mass_kg=1.5,
                                       rotor_disk_area_m2=0.0064, rotor_count=6,
                                       air_density_kg_m3=1.204, power_efficiency=1.0))
    # with g = 9.80665 instead of 9.81 the constant is 101.04 * (9.80665 / 9.81) ** 1.5
    assert model.k_w_per_kg15 == pytest.approx(k * (G_M_S2 / 9.81) ** 1.5, rel=1e-12)


@pytest.mark.parametrize("payload_kg", [0.0, 0.5, 1.5])
def test_power_grows_with_payload_as_mass_to_the_1_5(payload_kg: float) -> None:
    """P(payload) = k (W + m + payload)^1.5 / efficiency."""
    dt = drone_type(empty_mass_kg=9.0, battery_mass_kg=4.5, power_efficiency=0.7)
    model = DorlingModel.of(dt)
    k = math.sqrt(G_M_S2**3 / (2 * dt.air_density_kg_m3 * dt.rotor_disk_area_m2 * dt.rotor_count))
    assert model.power_w(payload_kg) == pytest.approx(k * (13.5 + payload_kg) ** 1.5 / 0.7)


def test_climb_energy_is_potential_energy_over_efficiency() -> None:
    """Climbing 100 m with 15 kg at 50 % efficiency costs 15 * g * 100 / 0.5 J."""
    model = DorlingModel.of(drone_type(empty_mass_kg=10, battery_mass_kg=4,
                                       power_efficiency=0.5))
    assert model.climb_energy_wh(1.0, 100.0) == pytest.approx(15 * G_M_S2 * 100 / 0.5 / 3600)
    assert model.climb_energy_wh(1.0, -100.0) == 0.0


@pytest.mark.parametrize(("wind", "track", "expected"), [
    ((0.0, 0.0), (1.0, 0.0), 12.0),          # calm
    ((4.0, 0.0), (1.0, 0.0), 16.0),          # tail wind
    ((-4.0, 0.0), (1.0, 0.0), 8.0),          # head wind
    ((0.0, 12.0), (1.0, 0.0), 0.0),          # crosswind as strong as the airspeed
    ((0.0, 5.0), (3.0, 0.0), math.sqrt(144 - 25)),  # crosswind, track not normalised
])
def test_ground_speed(wind: tuple[float, float], track: tuple[float, float],
                      expected: float) -> None:
    """Ground speed along the track from the wind triangle."""
    assert ground_speed_m_s(12.0, wind, track) == pytest.approx(expected)


def test_move_time_is_the_slowest_part() -> None:
    """A steep climb is limited by the climb rate, a flat move by the ground speed."""
    dt = drone_type(climb_rate_m_s=2.0, descent_rate_m_s=1.0)
    assert move_time_s(dt, 100.0, 10.0, 10.0) == pytest.approx(10.0)
    assert move_time_s(dt, 100.0, 40.0, 10.0) == pytest.approx(20.0)
    assert move_time_s(dt, 100.0, -40.0, 10.0) == pytest.approx(40.0)
    assert move_time_s(dt, 100.0, 0.0, 0.0) == math.inf
