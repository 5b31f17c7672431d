"""Helpers for flight-log tests: a console whose flight log holds flights of a replayed sortie."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from sitl.replay.missions import load_missions
from sitl.replay.runner import ReplayOptions, fly_missions
from sitl.replay.tolerances import ToleranceSet
from tests.web.helpers import Client, make_app, plan_done, services

#: The North Conway hub with one heavy octocopter.
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
