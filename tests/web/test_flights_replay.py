"""The flights API: a flight of a console plan flown on the built-in simulator lists with its
plan, date and duration, and its replay samples carry heights above the plan's DEM (above home
when the flight has no plan)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from sitl.replay.missions import load_missions
from sitl.replay.runner import ReplayOptions, fly_missions
from sitl.replay.tolerances import ToleranceSet
from tests.web.helpers import Client, make_app, plan_done, services

pytestmark = pytest.mark.slow
HUB = {"id": "north_conway", "lat_deg": 44.061813, "lon_deg": -71.136854,
       "drones": {"heavy_octo": 1}}


def record_flights(tmp: Path) -> dict[str, Any]:
    """A console app with a plan of one drop, its sortie flown by the replay runner, and two
    flights of that log in the console's flight log: one of the plan, one of no known plan."""
    app = make_app(tmp / "data")
    plan_id = plan_done(Client(app, "operator"), edits={"depots": [HUB], "drop_ids": ["P014"]},
                        app=app)
    plans = services(app).plans
    scenario, dem = plans.scenario(plan_id)
    plan_json = Path(str(plans.get(plan_id).out_dir)) / "plan.json"
    [mission] = load_missions([str(plan_json)], scenario=scenario, dem=dem)
    [result] = fly_missions([mission], options=ReplayOptions(speedup=50.0), report_dir=tmp / "r",
                            tolerances=ToleranceSet(), scenario=scenario, dem=dem)
    assert result.tlog_path is not None, result.error
    log = services(app).flights.log
    ids = []
    for name, path in (("North Conway plan", str(plan_json)), ("unknown plan", None)):
        run = log.start_run(plan_key=name, plan_name=name, plan_path=path, resume=False)
        flight = log.open_flight(run.id, sortie_id=mission.sortie.id, vehicle="octo 1", sysid=1)
        target = log.tlog_path(run.id, mission.sortie.id, 1)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(result.tlog_path, target)
        log.set_flight_state(flight, "flying")
        log.set_flight_state(flight, "completed")
        ids.append(flight)
    return {"app": app, "dem": dem, "ids": ids, "home_amsl_m": mission.home[2]}


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
