"""The regression missions (``missions/regression``) replayed on real ArduCopter SITL.

``dropline replay --backend ardupilot`` with the program found as ``tests/shared_data.py`` finds
it; skipped, saying why, when it is absent.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers.shared_data import REPO
from tests.sitl.ardupilot.helpers import ARDUCOPTER, dropline_command

pytestmark = [
    pytest.mark.sitl, pytest.mark.slow,
    pytest.mark.skipif(not ARDUCOPTER.is_file(),
                       reason=f"real ArduCopter SITL not found at {ARDUCOPTER} (set "
                              f"ARDUPILOT_SITL_BIN or DROPLINE_SHARED)"),
]

#: Speed-up of the regression replay on real SITL (two instances at once hold it on 2 cores).
REPLAY_SPEEDUP = 20
#: Energy drawn over energy planned on real SITL. Its physics is ArduPilot's own 1.5 kg quad
#: whatever the drone type (only the speeds and the battery capacity follow it), so a heavy
#: octocopter's sortie draws 0.4 of its plan and the small winch quad's 1.8: the regression
#: limits (0.8-1.4, for the built-in simulator flying the drone type's power model) are widened
#: to these; every other figure is held to ``missions/regression/tolerances.toml`` as it is.
REAL_SITL_ENERGY_RATIO = (0.3, 2.0)


def _real_sitl_tolerances(out: Path) -> Path:
    text = (REPO / "missions" / "regression" / "tolerances.toml").read_text()
    text, lows = re.subn(r"(?m)^energy_ratio_min = .*$",
                         f"energy_ratio_min = {REAL_SITL_ENERGY_RATIO[0]}", text)
    text, highs = re.subn(r"(?m)^energy_ratio_max = .*$",
                          f"energy_ratio_max = {REAL_SITL_ENERGY_RATIO[1]}", text)
    assert lows >= 1 and highs >= 1, "the regression tolerances changed shape"
    out.write_text(text)
    return out


def test_replay_regression_missions_on_real_sitl(tmp_path: Path) -> None:
    """``dropline replay --backend ardupilot`` flies every regression sortie on real SITL
    (gripper, winch and landing drops, a zone detour, terrain served) within the regression
    tolerances, energy aside (see ``REAL_SITL_ENERGY_RATIO``)."""
    regression = REPO / "missions" / "regression"
    report = tmp_path / "report"
    started = time.monotonic()
    done = subprocess.run(
        dropline_command("replay", str(regression / "plan"), "--scenario", str(regression),
                  "--tolerances", str(_real_sitl_tolerances(tmp_path / "tolerances.toml")),
                  "--backend", "ardupilot", "--speedup", str(REPLAY_SPEEDUP), "--parallel", "2",
                  "--timeout", "600", "--report", str(report)),
        capture_output=True, text=True, timeout=1500,
        env={**os.environ, "ARDUPILOT_SITL_BIN": str(ARDUCOPTER)})
    wall = time.monotonic() - started
    assert done.returncode == 0, done.stdout + done.stderr
    doc = json.loads((report / "report.json").read_text())
    assert doc["passed"] is True
    assert [m["name"] for m in doc["missions"]] == ["plan/S001", "plan/S002", "plan/S003",
                                                   "plan/S004"]
    for mission in doc["missions"]:
        figures = mission["figures"]
        assert figures["final_state"] == "completed"
        assert figures["items_reached"] == figures["items_total"]
        assert figures["incursions"] == []
        assert all(e is not None for e in figures["drop_errors_m"].values())
    print(f"replay on real SITL at {REPLAY_SPEEDUP}x, {wall:.0f} s wall:\n{done.stdout}")
