"""The ``[costs]`` table of scenario.toml: defaults, and bad values named by file, line, key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from planner.cost import CostTable
from planner.errors import ScenarioError
from planner.io.costs import load_costs
from planner.io.scenario import load_scenario

MINIMAL = Path(__file__).resolve().parents[1] / "data" / "scenarios" / "minimal"
#: The minimal scenario has 44 lines; an appended table's header is line 46, its keys follow.
_HEADER_LINE = 46


def _with_costs(tmp_path: Path, table: str) -> Path:
    folder = tmp_path / "scn"
    shutil.copytree(MINIMAL, folder)
    toml = folder / "scenario.toml"
    text = toml.read_text()
    assert len(text.splitlines()) == _HEADER_LINE - 2, "test setup: minimal scenario changed"
    toml.write_text(text.rstrip("\n") + "\n\n" + table)
    return folder


def test_no_table_gives_the_defaults() -> None:
    """A scenario without [costs] loads and prices with the defaults."""
    load_scenario(MINIMAL)
    assert load_costs(MINIMAL) == CostTable()


def test_given_prices_are_read_and_the_rest_default(tmp_path: Path) -> None:
    """Integers and floats are read as numbers; keys left out keep their defaults."""
    folder = _with_costs(tmp_path, "[costs]\nelectricity_yuan_per_kwh = 1.2\n"
                                   "road_yuan_per_km = 3\ncrew_yuan_per_h = 0\n")
    load_scenario(folder)
    assert load_costs(folder) == CostTable(electricity_yuan_per_kwh=1.2, road_yuan_per_km=3.0,
                                           crew_yuan_per_h=0.0)


@pytest.mark.parametrize(("table", "line", "field", "reason"), [
    ("[costs]\ncrew_yuan_per_h = -5\n", _HEADER_LINE + 1, "crew_yuan_per_h",
     "Expected crew_yuan_per_h >= 0, got -5"),
    ("[costs]\nroad_yuan_per_parcel = \"five\"\n", _HEADER_LINE + 1, "road_yuan_per_parcel",
     "Expected a number, got string 'five'"),
    ("[costs]\nelectricity_yuan_per_kwh = true\n", _HEADER_LINE + 1, "electricity_yuan_per_kwh",
     "Expected a number, got boolean True"),
    ("[costs]\nroad_yuan_per_km = 2\nfuel_yuan = 3\n", _HEADER_LINE + 2, "fuel_yuan",
     "unknown key 'fuel_yuan' in [costs]"),
    ("[costs]\ncrew_yuan_per_hour = 30\n", _HEADER_LINE + 1, "crew_yuan_per_hour",
     "did you mean 'crew_yuan_per_h'?"),
    ("[costs]\ncharger_efficiency = 1.2\n", _HEADER_LINE + 1, "charger_efficiency",
     "Expected charger_efficiency <= 1, got 1.2"),
    ("[costs]\nbattery_cycle_life = nan\n", _HEADER_LINE + 1, "battery_cycle_life",
     "Expected battery_cycle_life to be a finite number"),
])
def test_bad_cost_tables_name_file_line_and_key(tmp_path: Path, table: str, line: int,
                                                field: str, reason: str) -> None:
    """Loading the scenario and loading its costs both refuse the bad value, pointing at it."""
    folder = _with_costs(tmp_path, table)
    for load in (load_scenario, load_costs):
        with pytest.raises(ScenarioError) as caught:
            load(folder)
        err = caught.value
        assert err.path is not None and Path(err.path).name == "scenario.toml"
        assert err.line == line, str(err)
        assert err.field == field
        assert err.item == "[costs]"
        assert reason in str(err)
        assert f"scenario.toml:{line}, [costs], field '{field}'" in str(err)


def test_costs_must_be_a_table(tmp_path: Path) -> None:
    """``costs = 5`` at the top level is refused as not a table."""
    folder = tmp_path / "scn"
    shutil.copytree(MINIMAL, folder)
    toml = folder / "scenario.toml"
    toml.write_text(toml.read_text().replace('name = "minimal"\n', 'name = "minimal"\ncosts = 5\n'))
    with pytest.raises(ScenarioError, match=r"Expected a \[costs\] table, got integer 5") as caught:
        load_costs(folder)
    assert caught.value.line == 3 and caught.value.field == "costs"
    with pytest.raises(ScenarioError, match=r"Expected a \[costs\] table"):
        load_scenario(folder)


def test_unreadable_scenario_file_is_a_scenario_error(tmp_path: Path) -> None:
    """A folder without scenario.toml gives a ScenarioError naming the file."""
    with pytest.raises(ScenarioError, match="cannot read the cost table") as caught:
        load_costs(tmp_path)
    assert caught.value.path == str(tmp_path / "scenario.toml")
