"""``dropline plan`` prints the cost report and writes it to summary.json."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pytest

from dropline.commands.plan import plan_command
from planner.errors import ScenarioError
from tests.helpers.shared_data import DISTRICT_HGT, TUTORIAL


def _tutorial_with_costs(tmp_path: Path, costs: str) -> Path:
    folder = tmp_path / "tutorial"
    shutil.copytree(TUTORIAL, folder)
    toml = folder / "scenario.toml"
    text = toml.read_text().replace('"../district/terrain/N44W072.hgt"', f'"{DISTRICT_HGT}"')
    toml.write_text(text + "\n" + costs)
    return folder


def _args(scenario: Path, out: Path) -> argparse.Namespace:
    return argparse.Namespace(scenario=str(scenario), out=str(out), seed=None, time_limit=5.0,
                              frame=None, no_progress=True, objective=None)


def test_plan_prints_and_writes_the_cost_report(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """The scenario's prices give summary.json's cost figures, printed per parcel/km/kg."""
    folder = _tutorial_with_costs(tmp_path, "[costs]\nelectricity_yuan_per_kwh = 1.0\n"
                                  "charger_efficiency = 1.0\nbattery_yuan_per_kwh = 0\n"
                                  "depreciation_yuan_per_flight_h = 60\ncrew_yuan_per_h = 36\n"
                                  "road_yuan_per_parcel = 4\n")
    assert plan_command(_args(folder, tmp_path / "out")) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    plan = json.loads((tmp_path / "out" / "plan.json").read_text())
    cost = summary["cost"]
    sorties = plan["sorties"]
    # 1 yuan per kWh drawn, 1 yuan per flight minute, 3 yuan per 300 s turnaround.
    expected = sum(s["metrics"]["energy_wh"] / 1000 + s["metrics"]["duration_s"] / 60 + 3.0
                   for s in sorties)
    assert cost["cost_yuan"] == pytest.approx(expected, abs=0.01)
    assert cost["battery_wear_yuan"] == 0
    assert cost["parcels"] == summary["served"] == 7
    assert cost["cost_per_parcel_yuan"] == pytest.approx(expected / 7, abs=0.01)
    assert cost["road_yuan"] == 28.0 and cost["road_basis"] == "per_parcel"
    assert cost["table"]["crew_yuan_per_h"] == 36.0
    out = capsys.readouterr().out
    assert (f"cost {cost['cost_yuan']:.2f} yuan for 7 parcels: "
            f"{cost['cost_per_parcel_yuan']:.2f} yuan/parcel, "
            f"{cost['cost_per_drone_km_yuan']:.2f} yuan/drone-km, "
            f"{cost['cost_per_kg_yuan']:.2f} yuan/kg (road 4.00 yuan/parcel") in out
    by_drone = ", ".join(cost["cheaper_by_drone"]) or "none"
    by_road = ", ".join(cost["cheaper_by_road"]) or "none"
    assert f"cheaper by drone: {by_drone}\n" in out
    assert f"cheaper by road: {by_road}\n" in out


def test_plan_refuses_a_bad_cost_table_before_planning(tmp_path: Path) -> None:
    """A negative price stops the plan with an error naming the file, line and key."""
    folder = _tutorial_with_costs(tmp_path, "[costs]\nroad_yuan_per_km = -1\n")
    with pytest.raises(ScenarioError, match="Expected road_yuan_per_km >= 0") as caught:
        plan_command(_args(folder, tmp_path / "out"))
    assert caught.value.field == "road_yuan_per_km"
    assert caught.value.path == str(folder / "scenario.toml")
    assert not (tmp_path / "out").exists()
