"""The recipient columns of a drops CSV (``phone``, ``email``): read when present, checked with
an error naming the line and column, and kept out of planning and of ``repr``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from planner.errors import ScenarioError
from planner.io.scenario import load_scenario

MINIMAL = Path(__file__).resolve().parents[2] / "data" / "scenarios" / "minimal"
HEADER = "id,lat_deg,lon_deg,weight_kg,phone,email\n"


def _scenario(tmp_path: Path, rows: str) -> Path:
    folder = tmp_path / "scn"
    shutil.copytree(MINIMAL, folder)
    (folder / "drops.csv").write_text(HEADER + rows)
    return folder


def test_recipients_are_read_and_take_no_part_in_planning(tmp_path: Path) -> None:
    """Phone and e-mail per drop, either may be empty; drops compare and print without them."""
    folder = _scenario(tmp_path, "A,44.33222,-71.80973,0.8,+86 138 0013 8000,li@example.cn\n"
                                 "B,44.30500,-71.83000,1.2,(603) 555-0100,\n"
                                 "C,44.32000,-71.85000,0.5,,\n")
    a, b, c = load_scenario(folder).drops
    assert (a.phone, a.email) == ("+86 138 0013 8000", "li@example.cn")
    assert (b.phone, b.email) == ("(603) 555-0100", None)
    assert (c.phone, c.email) == (None, None)
    plain = load_scenario(_scenario(tmp_path / "2", "A,44.33222,-71.80973,0.8,,\n")).drops[0]
    assert plain == a
    assert "138" not in repr(a) and "example" not in repr(a)


@pytest.mark.parametrize(("cell", "column", "reason"), [
    ("12345,", "phone", "Expected phone to be a telephone number"),
    ("call me,", "phone", "Expected phone to be a telephone number"),
    ("+1234567890123456,", "phone", "Expected phone to be a telephone number"),
    (",nobody", "email", "Expected email to be an address like name@example.org"),
    (",a@localhost", "email", "Expected email to be an address like name@example.org"),
    (",<script>@x.org", "email", "Expected email to be an address like name@example.org"),
])
def test_bad_recipient_names_line_and_column(tmp_path: Path, cell: str, column: str,
                                             reason: str) -> None:
    """A phone or e-mail that cannot be one is refused, naming the file, line, drop and column."""
    folder = _scenario(tmp_path, "A,44.33222,-71.80973,0.8,,\n"
                                 f"B,44.30500,-71.83000,1.2,{cell}\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(folder)
    err = info.value
    assert (err.line, err.field, err.item) == (3, column, "drop 'B'")
    assert reason in str(err) and "drops.csv:3" in str(err)
