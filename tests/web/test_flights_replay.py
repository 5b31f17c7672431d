"""The flights API: a flight of a console plan flown on the built-in simulator lists with its
plan, date and duration, and its replay samples carry heights above the plan's DEM (above home
when the flight has no plan)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from tests.web.helpers import Client, services
from tests.web.helpers_flights import record_flights

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def flown(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The flights of :func:`record_flights`."""
    found = record_flights(tmp_path_factory.mktemp("flights"))
    try:
        yield found
    finally:
        services(found["app"]).close()


def test_the_flights_list_names_plan_date_and_duration(flown: dict[str, Any]) -> None:
    """Each flight row has its plan's name, start time and a duration from take-off to end."""
    flights = Client(flown["app"], "crew").get("/api/flights").json["flights"]
    by_id = {f["id"]: f for f in flights}
    planned, unknown = (by_id[i] for i in flown["ids"])
    assert planned["plan"] == "North Conway plan" and unknown["plan"] == "unknown plan"
    assert planned["started_at"] > 1.6e9 and planned["duration_s"] >= 0.0
    assert planned["vehicle"] == "octo 1" and planned["has_log"] is True


def test_replay_samples_carry_heights_above_the_plans_dem(flown: dict[str, Any]) -> None:
    """Over the plan's DEM every sample has alt_agl_m = AMSL less the ground under it."""
    app: Flask = flown["app"]
    r = Client(app, "engineer").get(f"/api/flights/{flown['ids'][0]}/replay").json
    assert r["alt_reference"] == "dem"
    samples = r["samples"]
    assert len(samples) > 50
    for s in samples[:: max(1, len(samples) // 40)]:
        ground = float(flown["dem"].elevation_amsl_m(s["lon_deg"], s["lat_deg"])[()])
        assert s["alt_agl_m"] == pytest.approx(s["alt_amsl_m"] - ground, abs=0.2)
        assert s["alt_rel_m"] == pytest.approx(s["alt_amsl_m"] - flown["home_amsl_m"], abs=0.2)
    assert max(s["alt_agl_m"] for s in samples) > 30.0
    assert min(s["alt_agl_m"] for s in samples) < 5.0  # standing at the depot


def test_replay_without_a_plan_gives_heights_above_home(flown: dict[str, Any]) -> None:
    """A flight of no known plan: no DEM, so alt_agl_m is None and alt_rel_m is above home."""
    r = Client(flown["app"], "engineer").get(f"/api/flights/{flown['ids'][1]}/replay").json
    assert r["alt_reference"] == "home" and r["figures"] is None
    assert all(s["alt_agl_m"] is None and s["alt_rel_m"] is not None for s in r["samples"])
    assert r["samples"][0]["alt_rel_m"] == pytest.approx(0.0, abs=1.0)
