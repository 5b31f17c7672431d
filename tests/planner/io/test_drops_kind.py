"""The ``kind`` column of a drops CSV: ``delivery`` (the default, an empty cell too) or
``pickup``; anything else is refused naming the file, line, drop and column."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from planner.errors import ScenarioError
from planner.io.scenario import load_scenario
from planner.scenario import Drop

DATA = Path(__file__).resolve().parents[2] / "data" / "scenarios"
MINIMAL = DATA / "minimal"
HEADER = "id,lat_deg,lon_deg,weight_kg,kind\n"


def _scenario(tmp_path: Path, rows: str, header: str = HEADER) -> Path:
    folder = tmp_path / "scn"
    shutil.copytree(MINIMAL, folder)
    (folder / "drops.csv").write_text(header + rows)
    return folder


def test_kind_is_read_with_delivery_by_default(tmp_path: Path) -> None:
    """``pickup`` and ``delivery`` are read; an empty cell is a delivery."""
    folder = _scenario(tmp_path, "A,44.33222,-71.80973,0.8,pickup\n"
                                 "B,44.30500,-71.83000,1.2,delivery\n"
                                 "C,44.32000,-71.85000,0.5,\n")
    a, b, c = load_scenario(folder).drops
    assert (a.kind, b.kind, c.kind) == ("pickup", "delivery", "delivery")
    assert a.is_pickup and not b.is_pickup and not c.is_pickup


def test_without_the_column_every_drop_is_a_delivery(tmp_path: Path) -> None:
    """A drops CSV without ``kind`` loads exactly as before: deliveries only."""
    drops = load_scenario(MINIMAL).drops
    assert drops and all(d.kind == "delivery" for d in drops)


def test_kind_takes_part_in_comparisons() -> None:
    """A pickup is not the same drop as a delivery at the same place and weight."""
    delivery = Drop(id="A", lat_deg=44.3, lon_deg=-71.8, weight_kg=1.0)
    pickup = Drop(id="A", lat_deg=44.3, lon_deg=-71.8, weight_kg=1.0, kind="pickup")
    assert delivery != pickup
    assert delivery == Drop(id="A", lat_deg=44.3, lon_deg=-71.8, weight_kg=1.0, kind="delivery")


@pytest.mark.parametrize("cell", ["collect", "Pickup", "DELIVERY", "pick up", "0"])
def test_bad_kind_names_file_line_drop_and_column(tmp_path: Path, cell: str) -> None:
    """Anything but ``delivery``, ``pickup`` or empty is refused at its line and column."""
    folder = _scenario(tmp_path, "A,44.33222,-71.80973,0.8,pickup\n"
                                 f"B,44.30500,-71.83000,1.2,{cell}\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(folder)
    err = info.value
    assert (err.line, err.field, err.item) == (3, "kind", "drop 'B'")
    assert "drops.csv:3" in str(err)
    assert f"Expected kind 'delivery' or 'pickup' (or an empty cell for a delivery), " \
           f"got '{cell}'" in str(err)


def test_drop_refuses_an_unknown_kind() -> None:
    """The model itself refuses a kind it does not know."""
    with pytest.raises(ValueError, match="Expected kind 'delivery' or 'pickup', got 'return'"):
        Drop(id="A", lat_deg=44.3, lon_deg=-71.8, weight_kg=1.0, kind="return")  # type: ignore[arg-type]


def test_sample_scenario_mixes_deliveries_and_pickups() -> None:
    """The pickups sample scenario loads with its DEM shared from the minimal one."""
    sc = load_scenario(DATA / "pickups")
    kinds = {d.id: d.kind for d in sc.drops}
    assert kinds == {"P017": "delivery", "D2": "delivery", "D3": "delivery", "U1": "pickup",
                     "U2": "pickup"}
