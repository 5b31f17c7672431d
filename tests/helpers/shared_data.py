"""Where the test data lives: the repository, its missions and ``tests/data``, and the reference
data (``$DROPLINE_SHARED``, else ``shared/`` beside the repository)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: The repository root.
REPO = Path(__file__).resolve().parents[2]
#: The small inputs of the tests.
DATA = REPO / "tests" / "data"
#: The scenarios shipped in ``missions/``.
TUTORIAL = REPO / "missions" / "tutorial"
DISTRICT = REPO / "missions" / "district"
#: The SRTM tile of the district (the White Mountains around Littleton).
DISTRICT_HGT = DISTRICT / "terrain" / "N44W072.hgt"
#: Where tests leave files for people to look at (browser screenshots), emptied once per run.
ARTIFACTS = REPO / "test-artifacts"
#: The reference data folder.
SHARED = Path(os.environ.get("DROPLINE_SHARED") or REPO.parent / "shared")


#: The real ArduCopter SITL program and ArduPilot's ``copter.parm`` beside it.
ARDUPILOT_BIN = SHARED / "ardupilot" / "bin" / "arducopter"


def ardupilot_binary() -> Path:
    """The real SITL program the tests use: ``$ARDUPILOT_SITL_BIN``, else the shared one."""
    named = os.environ.get("ARDUPILOT_SITL_BIN")
    return Path(named) if named else ARDUPILOT_BIN


def needs(path: Path) -> pytest.MarkDecorator:
    """Skip, saying why, when the reference file or folder ``path`` is not there."""
    return pytest.mark.skipif(
        not path.exists(),
        reason=f"reference data not found at {path} (set DROPLINE_SHARED to the shared folder)")
