"""Scenario loading: every bad input gives one clear ScenarioError; the sample scenarios load."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from planner.errors import ScenarioError
from planner.io.dem import load_dem
from planner.io.scenario import load_scenario
from planner.scenario import NoFlyZone
from planner.terrain import Dem, DemTile
from planner.validate import check_coverage, check_depots_clear, check_scenario

REPO = Path(__file__).resolve().parents[3]
MINIMAL = REPO / "tests" / "data" / "scenarios" / "minimal"
MISSIONS = REPO / "missions"

_TERRAIN_TABLE = (
    '[terrain]\ndem = "terrain/littleton.tif"\nclearance_agl_m = 40\nceiling_agl_m = 120\n')
_DEPOT_TABLE = ('[[depot]]\nid = "littleton"\nlat_deg = 44.317934\nlon_deg = -71.825559\n'
                'drones = { quad = 2 }\n')
_SECOND_DEPOT = ('\n[[depot]]\nid = "littleton"\nlat_deg = 44.3\nlon_deg = -71.8\n'
                 'drones = { quad = 1 }\n')
_SECOND_TYPE = ('\n[[drone_type]]\nid = "quad"\n' + "\n".join(
    (MINIMAL / "scenario.toml").read_text().split('id = "quad"\n')[1].splitlines()) + "\n")


@dataclass(frozen=True)
class Case:
    """A one-edit corruption of the minimal scenario and where its error must point."""

    file: str
    old: str
    new: str
    line: int | None
    field: str | None
    reason: str
    feature: int | None = None


def _scenario_copy(tmp_path: Path, case: Case | None = None) -> Path:
    folder = tmp_path / "scn"
    shutil.copytree(MINIMAL, folder)
    if case is not None:
        target = folder / case.file
        text = target.read_text()
        if case.old == "<ALL>":
            text = case.new
        elif case.old == "<END>":
            text += case.new
        else:
            assert case.old in text, f"test setup: {case.old!r} not in {case.file}"
            text = text.replace(case.old, case.new, 1)
        target.write_text(text)
    return folder


def _assert_error(err: ScenarioError, case: Case) -> None:
    message = str(err)
    assert err.path is not None and Path(err.path).name == case.file, message
    assert case.file in message
    assert err.line == case.line, message
    if case.line is not None:
        assert f"{case.file}:{case.line}" in message
    assert err.field == case.field, message
    if case.field is not None:
        assert f"field '{case.field}'" in message
    if case.feature is not None:
        assert err.item is not None and err.item.startswith(f"feature {case.feature}"), message
    assert case.reason in message


TOML_CASES = {
    "syntax error": Case("scenario.toml", "seed = 1", "seed = = 1", 20, None,
                         "TOML syntax error: Invalid value (column 8)"),
    "unknown top-level key": Case("scenario.toml", 'name = "minimal"', 'nmae = "minimal"', 2,
                                  "nmae", "unknown key 'nmae' in the top level; did you mean "
                                  "'name'?"),
    "unknown key in [terrain]": Case("scenario.toml", "clearance_agl_m = 40",
                                     "clearence_agl_m = 40",
                                     7, "clearence_agl_m",
                                     "in [terrain]; did you mean 'clearance_agl_m'?"),
    "unknown key in drone_type": Case("scenario.toml", "turnaround_s = 180.0",
                                      "turnaround = 180.0", 42, "turnaround",
                                      "drone_type 'quad'; did you mean 'turnaround_s'?"),
    "unknown key in [planner]": Case("scenario.toml", "seed = 1", "sead = 1", 20, "sead",
                                     "did you mean 'seed'?"),
    "missing required drone_type key": Case("scenario.toml", "battery_wh = 100.0\n", "", 28,
                                            "battery_wh", "missing required key 'battery_wh'"),
    "missing required terrain dem": Case("scenario.toml", 'dem = "terrain/littleton.tif"\n', "",
                                         5, "dem", "missing required key 'dem' in [terrain]"),
    "misspelt [[depot]]": Case("scenario.toml", "[[depot]]", "[[depot_]]", 22, "depot_",
                               "unknown key 'depot_' in the top level; did you mean 'depot'?"),
    "no [[depot]]": Case("scenario.toml", _DEPOT_TABLE, "", None, "depot",
                         "missing required key 'depot' in the top level"),
    "[depot] written as a table": Case("scenario.toml", "[[depot]]", "[depot]", 22, "depot",
                                       "Expected [[depot]] entries (an array of tables)"),
    "number given as string": Case("scenario.toml", "ceiling_agl_m = 120", 'ceiling_agl_m = "120"',
                                   8, "ceiling_agl_m", "Expected a number, got string '120'"),
    "number given as boolean": Case("scenario.toml", "speed_m_s = 3.0", "speed_m_s = true", 15,
                                    "speed_m_s", "Expected a number, got boolean True"),
    "integer given as float": Case("scenario.toml", "rotor_count = 4", "rotor_count = 4.5", 44,
                                   "rotor_count", "Expected an integer, got number 4.5"),
    "name not a string": Case("scenario.toml", 'name = "minimal"', "name = 5", 2, "name",
                              "Expected a string, got integer 5"),
    "negative battery": Case("scenario.toml", "battery_wh = 100.0", "battery_wh = -100.0", 32,
                             "battery_wh", "Expected battery_wh > 0, got -100.0"),
    "negative buffer": Case("scenario.toml", "buffer_m = 50", "buffer_m = -5", 12, "buffer_m",
                            "Expected buffer_m to be a finite number >= 0"),
    "negative clearance": Case("scenario.toml", "clearance_agl_m = 40", "clearance_agl_m = -1", 7,
                               "clearance_agl_m", "Expected clearance_agl_m >= 0"),
    "clearance above ceiling": Case("scenario.toml", "clearance_agl_m = 40",
                                    "clearance_agl_m = 130", 7, "clearance_agl_m",
                                    "Expected clearance_agl_m < ceiling_agl_m"),
    "negative wind": Case("scenario.toml", "speed_m_s = 3.0", "speed_m_s = -3.0", 15, "speed_m_s",
                          "Expected speed_m_s >= 0"),
    "bad altitude frame": Case("scenario.toml", 'altitude_frame = "relative"',
                               'altitude_frame = "absolute"', 19, "altitude_frame",
                               "Expected altitude_frame 'relative' or 'terrain'"),
    "bad drop method": Case("scenario.toml", 'drop_method = "winch"', 'drop_method = "chute"', 39,
                            "drop_method", "Expected drop_method one of gripper, winch, land"),
    "reserve fraction of 1": Case("scenario.toml", "reserve_fraction = 0.25",
                                  "reserve_fraction = 1.0", 33, "reserve_fraction",
                                  "Expected reserve_fraction in [0, 1)"),
    "depot latitude out of range": Case("scenario.toml", "lat_deg = 44.317934", "lat_deg = 144.3",
                                        24, "lat_deg", "Expected lat_deg in [-90, 90], got 144.3"),
    "unknown drone type in depot": Case("scenario.toml", "drones = { quad = 2 }",
                                        "drones = { qaud = 2 }", 26, "drones",
                                        "unknown drone type 'qaud'; did you mean 'quad'?"),
    "negative drone count": Case("scenario.toml", "drones = { quad = 2 }",
                                 "drones = { quad = -1 }", 26, "drones",
                                 "Expected drones.quad to be an integer in [0, 1000], got -1"),
    "drone count of 10^30": Case("scenario.toml", "drones = { quad = 2 }",
                                 "drones = { quad = 1000000000000000000000000000000 }", 26,
                                 "drones", "Expected drones.quad to be an integer in [0, 1000]"),
    "more than 1000 drones in all": Case("scenario.toml", "\n[[drone_type]]", _SECOND_DEPOT.replace(
        '"littleton"', '"bethlehem"').replace("quad = 1", "quad = 999") + "\n[[drone_type]]",
        32, "drones", "Expected at most 1000 drones over every depot, got 1001"),
    "depot id with a slash": Case("scenario.toml", 'id = "littleton"', 'id = "../littleton"', 23,
                                  "id", "Expected id to be 1 to 64 characters: letters, digits"),
    "drone type id too long": Case("scenario.toml", 'id = "quad"', f'id = "{"q" * 65}"', 29, "id",
                                   "Expected id to be 1 to 64 characters"),
    "scenario name with a control character": Case("scenario.toml", 'name = "minimal"',
                                                   'name = "mini\\u0007mal"', 2, "name",
                                                   "Expected name without control characters"),
    "scenario name too long": Case("scenario.toml", 'name = "minimal"', f'name = "{"m" * 201}"',
                                   2, "name", "Expected name of at most 200 characters, got 201"),
    "cruise speed of 10^9": Case("scenario.toml", "cruise_speed_m_s = 12.0",
                                 "cruise_speed_m_s = 1e9", 36, "cruise_speed_m_s",
                                 "Expected cruise_speed_m_s <= 100, got 1e+09"),
    "battery of 10^30 Wh": Case("scenario.toml", "battery_wh = 100.0", "battery_wh = 1e30", 32,
                                "battery_wh", "Expected battery_wh <= 1e+06"),
    "a million parcels": Case("scenario.toml", "max_parcels = 2", "max_parcels = 1000000", 35,
                              "max_parcels", "Expected max_parcels to be an integer in [1, 100]"),
    "a hurricane": Case("scenario.toml", "speed_m_s = 3.0", "speed_m_s = 1e6", 15, "speed_m_s",
                        "Expected speed_m_s <= 60"),
    "wind direction of 10^9 degrees": Case("scenario.toml", "from_deg = 270.0",
                                           "from_deg = 1e9", 16, "from_deg",
                                           "Expected from_deg in [-360, 360]"),
    "ceiling in space": Case("scenario.toml", "ceiling_agl_m = 120", "ceiling_agl_m = 1e9", 8,
                             "ceiling_agl_m", "Expected ceiling_agl_m <= 10000"),
    "buffer around the world": Case("scenario.toml", "buffer_m = 50", "buffer_m = 1e12", 12,
                                    "buffer_m", "Expected buffer_m <= 100000"),
    "time limit of a year": Case("scenario.toml", "seed = 1", "seed = 1\ntime_limit_s = 3.2e7",
                                 21, "time_limit_s", "Expected time_limit_s <= 3600"),
    "negative seed": Case("scenario.toml", "seed = 1", "seed = -1", 20, "seed",
                          "Expected seed to be an integer in [0, 1000000000]"),
    "depot with zero drones": Case("scenario.toml", "drones = { quad = 2 }",
                                   "drones = { quad = 0 }", 26, "drones",
                                   "the depot has no drones"),
    "depot without drones key": Case("scenario.toml", "drones = { quad = 2 }\n", "", 22, "drones",
                                     "the depot has no drones"),
    "duplicate depot id": Case("scenario.toml", "\n[[drone_type]]",
                               _SECOND_DEPOT + "\n[[drone_type]]", 29, "id",
                               "duplicate depot id 'littleton': already defined on line 22"),
    "duplicate drone type id": Case("scenario.toml", "<END>", _SECOND_TYPE, 47, "id",
                                    "duplicate drone_type id 'quad': already defined on line 28"),
    "missing DEM file": Case("scenario.toml", 'dem = "terrain/littleton.tif"',
                             'dem = "terrain/nowhere.hgt"', 6, "dem", "DEM file not found"),
    "DEM list with a non-string": Case("scenario.toml", 'dem = "terrain/littleton.tif"',
                                       'dem = ["terrain/littleton.tif", 5]', 6, "dem",
                                       "Expected a non-empty path string, got integer 5"),
    "DEM of an unknown kind": Case("scenario.toml", 'dem = "terrain/littleton.tif"',
                                   'dem = "drops.csv"', 6, "dem",
                                   "Expected a DEM file ending in .hgt, .tif, .tiff, "
                                   "got drops.csv"),
    "empty DEM list": Case("scenario.toml", 'dem = "terrain/littleton.tif"', "dem = []", 6, "dem",
                           "Expected a DEM path or a non-empty list of paths"),
    "missing drops file": Case("scenario.toml", 'drops = "drops.csv"', 'drops = "nope.csv"', 3,
                               "drops", "drops file not found"),
    "missing no-fly file": Case("scenario.toml", 'nofly = "nofly.geojson"',
                                'nofly = "nope.geojson"', 11, "nofly", "no-fly file not found"),
    "[terrain] not a table": Case("scenario.toml", _TERRAIN_TABLE, "terrain = 3\n", 5, "terrain",
                                  "Expected a [terrain] table, got integer 3"),
}

CSV_CASES = {
    "missing column": Case("drops.csv", "weight_kg,earliest_s", "weight,earliest_s", 2,
                           "weight_kg",
                           "missing required column 'weight_kg'; did you mean 'weight'?"),
    "wrong number of fields": Case("drops.csv", "D3,west,44.32000,-71.85000,0.5,,,0",
                                   "D3,west,44.32000,-71.85000,0.5,,0", 6, None,
                                   "Expected 8 fields as in the header (line 2), got 7"),
    "non-numeric latitude": Case("drops.csv", "44.30500", "44.3o5", 5, "lat_deg",
                                 "Expected a number, got '44.3o5'"),
    "empty weight": Case("drops.csv", "-71.83000,1.2,", "-71.83000,,", 5, "weight_kg",
                         "Expected a number, got an empty value"),
    "latitude out of range": Case("drops.csv", "44.30500", "94.305", 5, "lat_deg",
                                  "Expected lat_deg in [-90, 90], got 94.305"),
    "longitude out of range": Case("drops.csv", "-71.83000", "-191.83", 5, "lon_deg",
                                   "Expected lon_deg in [-180, 180], got -191.83"),
    "zero weight": Case("drops.csv", "-71.83000,1.2,", "-71.83000,0,", 5, "weight_kg",
                        "Expected weight_kg > 0, got 0.0"),
    "negative weight": Case("drops.csv", "-71.83000,1.2,", "-71.83000,-1.2,", 5, "weight_kg",
                            "Expected weight_kg > 0, got -1.2"),
    "weight of a car": Case("drops.csv", "-71.83000,1.2,", "-71.83000,1500,", 5, "weight_kg",
                            "Expected weight_kg <= 1000, got 1500"),
    "window a year away": Case("drops.csv", ",0,3600,", ",0,3.2e7,", 5, "latest_s",
                               "Expected latest_s <= 604800"),
    "priority of 10^30": Case("drops.csv", "3600,1", "3600,1000000000000000000000000000000", 5,
                              "priority", "Expected priority to be an integer in [-1000000, "
                              "1000000]"),
    "drop id with a slash": Case("drops.csv", "D3,west", "a/b,west", 6, "id",
                                 "Expected id to be 1 to 64 characters"),
    "drop id starting with a dot": Case("drops.csv", "D3,west", "..,west", 6, "id",
                                        "starting with a letter or digit, got '..'"),
    "drop id of 100 characters": Case("drops.csv", "D3,west", "D" * 100 + ",west", 6, "id",
                                      "Expected id to be 1 to 64 characters"),
    "duplicate drop id": Case("drops.csv", "D3,west", "D2,west", 6, "id",
                              "duplicate drop id 'D2': already used on line 5"),
    "empty drop id": Case("drops.csv", "D3,west", ",west", 6, "id",
                          "Expected a non-empty drop id"),
    "priority not an integer": Case("drops.csv", "3600,1", "3600,high", 5, "priority",
                                    "Expected an integer, got 'high'"),
    "window closes before it opens": Case("drops.csv", ",0,3600,", ",4000,3600,", 5,
                                          "earliest_s", "Expected earliest_s <= latest_s"),
    "empty file": Case("drops.csv", "<ALL>", "", None, None, "got an empty file"),
    "header only": Case("drops.csv", "<ALL>", "# nothing yet\nid,lat_deg,lon_deg,weight_kg\n", 2,
                        None, "Expected at least one drop after the header, got none"),
    "duplicate column": Case("drops.csv", "id,name,", "id,id,", 2, "id",
                             "column 'id' appears twice in the header"),
}

_SQUARE = "[[-71.80, 44.30], [-71.79, 44.30], [-71.79, 44.31], [-71.80, 44.31], [-71.80, 44.30]]"
GEOJSON_CASES = {
    "not parseable": Case("nofly.geojson", '"features": [', '"features": [,', 1, None,
                          "not valid JSON: Expecting value"),
    "not a FeatureCollection": Case("nofly.geojson", '"FeatureCollection"', '"GeometryCollection"',
                                    None, "type", "Expected a GeoJSON FeatureCollection"),
    "features not an array": Case("nofly.geojson", "<ALL>",
                                  '{"type": "FeatureCollection", "features": {}}', None,
                                  "features", "Expected 'features' to be an array"),
    "not a Feature": Case("nofly.geojson", '{"type": "Feature", "properties": {"name": "square"}',
                          '{"type": "Thing", "properties": {"name": "square"}', None, None,
                          "Expected a GeoJSON Feature object", feature=0),
    "LineString geometry": Case("nofly.geojson", '"type": "Polygon"', '"type": "LineString"', None,
                                "geometry", "Expected a Polygon or MultiPolygon geometry, got a "
                                "LineString geometry", feature=0),
    "null geometry": Case("nofly.geojson", '"geometry": {"type": "Polygon", "coordinates": [\n   '
                          + _SQUARE + "]}", '"geometry": null', None, "geometry",
                          "got no geometry", feature=0),
    "self-intersecting polygon": Case("nofly.geojson", "[-71.79, 44.31], [-71.80, 44.31]",
                                      "[-71.80, 44.31], [-71.79, 44.31]", None, "geometry",
                                      "polygon is invalid: Self-intersection at lon -71.795, "
                                      "lat 44.305", feature=0),
    "hole outside its shell": Case("nofly.geojson", _SQUARE, _SQUARE + ", [[-71.70, 44.30], "
                                   "[-71.69, 44.30], [-71.69, 44.31], [-71.70, 44.30]]", None,
                                   "geometry", "polygon is invalid: Hole lies outside shell",
                                   feature=0),
    "unclosed ring": Case("nofly.geojson", "[-71.80, 44.31], [-71.80, 44.30]]",
                          "[-71.80, 44.31], [-71.80, 44.301]]", None, "geometry",
                          "polygon ring 0 is not closed: Expected the last position to repeat "
                          "the first [-71.8, 44.3], got [-71.8, 44.301]", feature=0),
    "ring of three positions": Case("nofly.geojson",
                                    "[[-71.84, 44.34], [-71.83, 44.34], [-71.83, 44.35], "
                                    "[-71.84, 44.34]]", "[[-71.84, 44.34], [-71.83, 44.35], "
                                    "[-71.84, 44.34]]", None, "geometry",
                                    "polygon 1 ring 0: Expected at least 4 positions", feature=1),
    "overlapping MultiPolygon parts": Case("nofly.geojson",
                                           "[[-71.84, 44.34], [-71.83, 44.34], [-71.83, 44.35], "
                                           "[-71.84, 44.34]]", "[[-71.86, 44.34], [-71.85, 44.34],"
                                           " [-71.85, 44.35], [-71.86, 44.34]]", None, "geometry",
                                           "MultiPolygon is invalid", feature=1),
    "position out of range": Case("nofly.geojson", "[[-71.80, 44.30], [-71.79",
                                  "[[-191.80, 44.30], [-71.79", None, "geometry",
                                  "polygon ring 0 position 0: Expected [lon, lat]", feature=0),
    "position not numeric": Case("nofly.geojson", "[[-71.80, 44.30], [-71.79",
                                 '[["-71.80", 44.30], [-71.79', None, "geometry",
                                 "Expected a position [lon, lat]", feature=0),
    "name not a string": Case("nofly.geojson", '"name": "pair"', '"name": 7', None, "name",
                              "Expected a string, got 7", feature=1),
    "name with a newline": Case("nofly.geojson", '"name": "pair"', '"name": "pa\\nir"', None,
                                "name", "Expected name without control characters", feature=1),
    "name of 300 characters": Case("nofly.geojson", '"name": "pair"', f'"name": "{"p" * 300}"',
                                   None, "name", "Expected name of at most 200 characters",
                                   feature=1),
}


@pytest.mark.parametrize("case", TOML_CASES.values(), ids=TOML_CASES.keys())
def test_toml_errors_name_file_line_and_field(tmp_path: Path, case: Case) -> None:
    """A bad scenario.toml raises one ScenarioError naming the file, the line and the key."""
    folder = _scenario_copy(tmp_path, case)
    with pytest.raises(ScenarioError) as info:
        load_scenario(folder)
    _assert_error(info.value, case)


@pytest.mark.parametrize("case", CSV_CASES.values(), ids=CSV_CASES.keys())
def test_drops_csv_errors_name_file_line_and_column(tmp_path: Path, case: Case) -> None:
    """A bad drops CSV raises one ScenarioError naming the file, the line and the column."""
    folder = _scenario_copy(tmp_path, case)
    with pytest.raises(ScenarioError) as info:
        load_scenario(folder)
    _assert_error(info.value, case)


@pytest.mark.parametrize("case", GEOJSON_CASES.values(), ids=GEOJSON_CASES.keys())
def test_nofly_errors_name_file_feature_and_field(tmp_path: Path, case: Case) -> None:
    """A bad no-fly GeoJSON raises one ScenarioError naming the file, the feature and the field."""
    folder = _scenario_copy(tmp_path, case)
    with pytest.raises(ScenarioError) as info:
        load_scenario(folder)
    _assert_error(info.value, case)


def test_error_item_names_the_drop(tmp_path: Path) -> None:
    """A drop's error names the drop id as its item."""
    case = CSV_CASES["non-numeric latitude"]
    with pytest.raises(ScenarioError) as info:
        load_scenario(_scenario_copy(tmp_path, case))
    assert info.value.item == "drop 'D2'"
    assert "drops.csv:5, drop 'D2', field 'lat_deg'" in str(info.value)


def _missing_folder(folder: Path) -> Path:
    return folder.parent / "missing"


def _file_not_folder(folder: Path) -> Path:
    return folder / "drops.csv"


def _folder_without_toml(folder: Path) -> Path:
    (folder / "scenario.toml").unlink()
    return folder


@pytest.mark.parametrize("setup, reason", [
    (_missing_folder, "scenario folder not found"),
    (_file_not_folder, "Expected a scenario folder, got a file"),
    (_folder_without_toml, "no scenario.toml"),
], ids=["missing folder", "file instead of folder", "no scenario.toml"])
def test_missing_folder_or_toml(tmp_path: Path, setup: Callable[[Path], Path],
                                reason: str) -> None:
    """A missing folder or scenario.toml is a ScenarioError naming the path."""
    folder = _scenario_copy(tmp_path)
    target = setup(folder)
    with pytest.raises(ScenarioError, match=reason) as info:
        load_scenario(target)
    assert info.value.path is not None and info.value.path.startswith(str(tmp_path))


def test_default_drops_file_missing(tmp_path: Path) -> None:
    """Without a drops key the loader reads drops.csv and names it when it is missing."""
    edit = Case("scenario.toml", 'drops = "drops.csv"\n', "", 0, None, "")
    folder = _scenario_copy(tmp_path, edit)
    (folder / "drops.csv").rename(folder / "other.csv")
    with pytest.raises(ScenarioError, match="drops file not found") as info:
        load_scenario(folder)
    assert info.value.path == str(folder / "drops.csv")


def test_minimal_scenario_values() -> None:
    """The minimal scenario loads with its values, CSV lines, depot line and zone indices."""
    s = load_scenario(MINIMAL)
    assert s.name == "minimal" and s.root == MINIMAL
    assert s.terrain.dem_paths == (MINIMAL / "terrain" / "littleton.tif",)
    assert (s.terrain.clearance_agl_m, s.terrain.ceiling_agl_m) == (40.0, 120.0)
    assert s.buffer_m == 50.0
    assert (s.wind.speed_m_s, s.wind.from_deg) == (3.0, 270.0)
    assert s.params.seed == 1 and s.params.altitude_margin_m == 5.0
    assert [(d.id, d.line) for d in s.drops] == [("P017", 3), ("D2", 5), ("D3", 6)]
    d2 = s.drops[1]
    assert (d2.lat_deg, d2.lon_deg, d2.weight_kg) == (44.305, -71.83, 1.2)
    assert (d2.earliest_s, d2.latest_s, d2.priority) == (0.0, 3600.0, 1)
    assert s.drops[0].earliest_s is None and s.drops[0].priority == 0
    (depot,) = s.depots
    assert (depot.id, depot.line, dict(depot.drones)) == ("littleton", 22, {"quad": 2})
    quad = s.drone_types["quad"]
    assert quad.rotor_count == 4 and quad.power_efficiency == 1.0
    assert [(z.name, z.feature_index, len(z.polygons)) for z in s.nofly] == [
        ("square", 0, 1), ("pair", 1, 2)]
    assert s.nofly[0].polygons[0][0][0] == (-71.80, 44.30)


def test_defaults_and_optional_tables(tmp_path: Path) -> None:
    """Name, drops file, airspace, wind and planner tables all have defaults."""
    folder = tmp_path / "valley_run"
    shutil.copytree(MINIMAL, folder)
    toml = folder / "scenario.toml"
    text = toml.read_text()
    start, end = text.index('name = "minimal"'), text.index("[[depot]]")
    toml.write_text(text[:start] + '[terrain]\ndem = "terrain/littleton.tif"\n\n' + text[end:])
    s = load_scenario(folder)
    assert s.name == "valley_run"
    assert len(s.drops) == 3 and s.nofly == () and s.buffer_m == 50.0
    assert s.wind.speed_m_s == 0.0 and s.params.seed == 0
    assert s.depots[0].line == 5


def test_zone_without_name_gets_default(tmp_path: Path) -> None:
    """A zone without a name property is called 'zone N' after its feature index."""
    edit = Case("nofly.geojson", '{"name": "pair"}', "null", 0, None, "")
    folder = _scenario_copy(tmp_path, edit)
    assert [z.name for z in load_scenario(folder).nofly] == ["square", "zone 1"]


def test_csv_comments_blank_lines_and_column_order(tmp_path: Path) -> None:
    """Comment and blank lines are skipped, columns may come in any order, extras are ignored."""
    folder = _scenario_copy(tmp_path, Case("drops.csv", "<ALL>", (
        "# comment\n\nweight_kg , lon_deg,extra,lat_deg,id\n"
        "  # indented comment\n1.0,-71.81,x,44.33,A\n\n0.5,-71.82,y,44.32,B\n"), 0, None, ""))
    drops = load_scenario(folder).drops
    assert [(d.id, d.line, d.weight_kg, d.lat_deg) for d in drops] == [
        ("A", 5, 1.0, 44.33), ("B", 7, 0.5, 44.32)]


@pytest.mark.parametrize("name, depots, types, drops, zones", [
    ("district", 5, 2, 49, 14),
    ("tutorial", 1, 1, 7, 1),
    ("edge", 2, 2, 7, 9),
])
def test_sample_missions_load(name: str, depots: int, types: int, drops: int, zones: int) -> None:
    """The three sample scenarios load, lie inside their DEM and keep depots clear of zones."""
    s = load_scenario(MISSIONS / name)
    assert (len(s.depots), len(s.drone_types), len(s.drops), len(s.nofly)) == (
        depots, types, drops, zones)
    assert all(d.line is not None for d in s.drops + s.depots)
    assert all(z.name and not z.name.startswith("zone ") for z in s.nofly)
    check_scenario(s, load_dem(s.terrain.dem_paths))


def test_sample_missions_share_the_district_tile() -> None:
    """Tutorial and edge use the district's copy of the SRTM tile."""
    tile = (MISSIONS / "district" / "terrain" / "N44W072.hgt").resolve()
    assert tile.stat().st_size == 1201 * 1201 * 2
    for name in ("tutorial", "edge"):
        (path,) = load_scenario(MISSIONS / name).terrain.dem_paths
        assert path.resolve() == tile


def test_edge_mission_has_one_drop_per_unservable_reason() -> None:
    """The edge scenario holds a too-heavy drop that the loader accepts and a drop in a zone."""
    s = load_scenario(MISSIONS / "edge")
    small, heavy = s.drone_types["small_quad"], s.drone_types["heavy_octo"]
    by_id = {d.id: d for d in s.drops}
    assert small.max_payload_kg < by_id["E04"].weight_kg <= heavy.max_payload_kg
    heliport = next(z for z in s.nofly if z.name == "Lancaster Heliport")
    lons, lats = zip(*heliport.polygons[0][0], strict=True)
    assert min(lons) < by_id["E06"].lon_deg < max(lons)
    assert min(lats) < by_id["E06"].lat_deg < max(lats)


def _dem(west: float, south: float) -> Dem:
    tile = DemTile(heights_m=np.full((3, 3), 300.0), west_deg=west, north_deg=south + 1.0,
                   dlon_deg=0.5, dlat_deg=0.5)
    return Dem(tiles=(tile,))


@pytest.mark.parametrize("target, lat, lon, file, line, swapped", [
    ("drop", 44.9, -70.5, "drops.csv", 5, False),
    ("drop", -71.83, 44.305, "drops.csv", 5, True),
    ("depot", 45.5, -71.8, "scenario.toml", 22, False),
    ("depot", -71.825559, 44.317934, "scenario.toml", 22, True),
], ids=["drop east of tile", "drop swapped", "depot north of tile", "depot swapped"])
def test_check_coverage(target: str, lat: float, lon: float, file: str, line: int,
                        swapped: bool) -> None:
    """A point outside the DEM names its file and line, and says when lat/lon look swapped."""
    s = load_scenario(MINIMAL)
    dem = _dem(-72.0, 44.0)
    check_coverage(s, dem)
    if target == "drop":
        drops = list(s.drops)
        drops[1] = dataclasses.replace(drops[1], lat_deg=lat, lon_deg=lon)
        s = dataclasses.replace(s, drops=tuple(drops))
    else:
        depot = dataclasses.replace(s.depots[0], lat_deg=lat, lon_deg=lon)
        s = dataclasses.replace(s, depots=(depot,))
    with pytest.raises(ScenarioError, match="outside the elevation model") as info:
        check_coverage(s, dem)
    message = str(info.value)
    assert f"{file}:{line}" in message and "field 'lat_deg'" in message
    assert ("lat_deg and lon_deg look swapped" in message) is swapped


def test_check_coverage_names_given_drops_file() -> None:
    """check_coverage names the drops file it is given."""
    s = load_scenario(MINIMAL)
    with pytest.raises(ScenarioError) as info:
        check_coverage(s, _dem(-10.0, 10.0), drops_path=Path("x/orders.csv"))
    assert "scenario.toml:22, depot 'littleton'" in str(info.value)
    around_depot = Dem(tiles=(DemTile(heights_m=np.zeros((3, 3)), west_deg=-71.83,
                                      north_deg=44.32, dlon_deg=0.005, dlat_deg=0.005),))
    with pytest.raises(ScenarioError) as info:
        check_coverage(s, around_depot, drops_path=Path("x/orders.csv"))
    assert str(info.value).startswith("x/orders.csv:3, drop 'P017'")


@pytest.mark.parametrize("offset_m, fails", [(0.0, True), (30.0, True), (80.0, False)])
def test_check_depots_clear(offset_m: float, fails: bool) -> None:
    """A depot inside a zone or within buffer_m of it is an error; one further away is not."""
    s = load_scenario(MINIMAL)
    depot = s.depots[0]
    dlat = 1 / 111_320.0
    # a 200 m square whose south edge lies offset_m north of the depot (inside when 0: centred)
    south = depot.lat_deg + (offset_m * dlat if offset_m else -100 * dlat)
    north = south + 200 * dlat
    dlon = 100 * dlat / np.cos(np.radians(depot.lat_deg))
    ring = ((depot.lon_deg - dlon, south), (depot.lon_deg + dlon, south),
            (depot.lon_deg + dlon, north), (depot.lon_deg - dlon, north),
            (depot.lon_deg - dlon, south))
    zone = NoFlyZone(name="clinic", polygons=((ring,),), feature_index=4)
    s = dataclasses.replace(s, nofly=(*s.nofly, zone))
    if fails:
        with pytest.raises(ScenarioError, match="no-fly zone 'clinic' \\(feature 4\\)") as info:
            check_depots_clear(s)
        assert "scenario.toml:22, depot 'littleton'" in str(info.value)
    else:
        check_depots_clear(s)


def test_overweight_drop_loads_unless_strict(tmp_path: Path) -> None:
    """A parcel heavier than every drone type loads (the planner lists it as unserved); with
    strict=True it is refused, naming the file, line, drop and the heaviest drone type."""
    case = Case("drops.csv", "-71.83000,1.2,", "-71.83000,4.0,", 5, "weight_kg",
                "exceeds the max_payload_kg of every drone type: Expected at most 1.5 kg "
                "(drone_type 'quad'")
    folder = _scenario_copy(tmp_path, case)
    assert [d.weight_kg for d in load_scenario(folder).drops] == [0.8, 4.0, 0.5]
    with pytest.raises(ScenarioError) as info:
        load_scenario(folder, strict=True)
    _assert_error(info.value, case)
    assert info.value.item == "drop 'D2'"


def test_too_many_drops_is_refused(tmp_path: Path) -> None:
    """A drops CSV of more than 10000 drops is refused, naming the first line past the limit."""
    rows = "".join(f"X{i},44.30,-71.83,1\n" for i in range(10_001))
    folder = _scenario_copy(tmp_path, Case("drops.csv", "<ALL>",
                                           "id,lat_deg,lon_deg,weight_kg\n" + rows, 0, None, ""))
    with pytest.raises(ScenarioError, match="Expected at most 10000 drops, got 10001") as info:
        load_scenario(folder)
    assert info.value.line == 10_002


@pytest.mark.parametrize("folder", [*(p for p in MISSIONS.iterdir() if (p / "scenario.toml")
                                      .is_file()), MINIMAL], ids=lambda p: p.name)
def test_every_sample_scenario_keeps_the_id_and_bound_rules(folder: Path) -> None:
    """Every scenario shipped (missions/ and tests/data) loads under the id and number rules."""
    s = load_scenario(folder)
    assert s.drops and s.depots
