"""A flight's replay carries the cost of what was flown: its measured energy and time priced like
the plan, its released parcels delivered (none for a flight of no known plan)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.web.helpers import Client, services
from tests.web.helpers_flights import record_flights

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def flown(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The flights of :func:`record_flights`."""
    found = record_flights(tmp_path_factory.mktemp("flights-cost"))
    try:
        yield found
    finally:
        services(found["app"]).close()


def test_replay_prices_the_flown_sortie(flown: dict[str, Any]) -> None:
    """Energy used and time flown, as measured, at the default prices; P014 delivered."""
    c = Client(flown["app"], "engineer")
    r = c.get(f"/api/flights/{flown['ids'][0]}/replay").json
    figures, cost = r["figures"], r["cost"]
    assert cost is not None and cost["currency"] == "yuan"
    wh, seconds = figures["energy_used_wh"], figures["duration_flown_s"]
    assert wh is not None and seconds is not None
    assert cost["energy_kwh"] == pytest.approx(wh / 1000, abs=1e-3)
    assert cost["flight_h"] == pytest.approx(seconds / 3600, abs=1e-3)
    released = [d for d, err in figures["drop_errors_m"].items() if err is not None]
    assert released == ["P014"]
    assert cost["parcels"] == 1 and cost["drops"][0]["drop_id"] == "P014"
    # The tutorial's heavy_octo turns around in 300 s; a pack's wear is 1500 yuan/kWh over 500
    # cycles, whatever its size: 3 yuan per kWh drawn.
    expected = wh / 1000 / 0.9 * 0.8 + wh / 1000 * 3 + seconds / 3600 * 25 + 300 / 3600 * 40
    assert cost["cost_yuan"] == pytest.approx(expected, abs=0.01)
    assert cost["cost_per_parcel_yuan"] == pytest.approx(expected, abs=0.01)


def test_replay_without_a_plan_has_no_cost(flown: dict[str, Any]) -> None:
    """A flight of no known plan is not priced."""
    r = Client(flown["app"], "engineer").get(f"/api/flights/{flown['ids'][1]}/replay").json
    assert r["cost"] is None


def test_day_cost_sums_the_runs_flown_that_day(flown: dict[str, Any]) -> None:
    """The day's report prices the run of the known plan as its replay does, counts the flight
    of no known plan as unpriced, and totals the day; another day is empty; a bad day is 400."""
    c = Client(flown["app"], "crew")
    replay = Client(flown["app"], "engineer").get(
        f"/api/flights/{flown['ids'][0]}/replay").json["cost"]
    today = c.get("/api/flights/cost").json
    assert len(today["runs"]) == 1 and today["unpriced_flights"] == 1
    run = today["runs"][0]
    assert run["flights"] == 1 and run["cost"]["cost_yuan"] == replay["cost_yuan"]
    total = today["total"]
    assert total["cost_yuan"] == pytest.approx(replay["cost_yuan"], abs=0.01)
    assert total["parcels"] == 1
    assert total["cost_per_parcel_yuan"] == pytest.approx(replay["cost_yuan"], abs=0.01)
    other = c.get("/api/flights/cost?day=2001-01-01").json
    assert other["runs"] == [] and other["total"]["cost_yuan"] == 0
    assert other["total"]["cost_per_parcel_yuan"] is None
    for bad in ("yesterday", "2026-13-01", "2026-01-01T00"):
        r = c.get(f"/api/flights/cost?day={bad}")
        assert r.status_code == 400 and "YYYY-MM-DD" in r.json["error"]
