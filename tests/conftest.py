"""Session fixtures of immutable data shared by every test area: the repository, the reference
data folder, and the tutorial and district scenarios with their terrain, each loaded once.

Markers are declared once, in ``pyproject.toml`` (``slow``, ``sitl``); fixtures of one area live
in that area's ``conftest.py``, its helpers in its ``helpers.py`` / ``helpers_<topic>.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.io.dem import load_dem
from planner.io.scenario import load_scenario
from planner.scenario import Scenario
from planner.terrain import Dem
from tests.helpers.shared_data import DISTRICT, DISTRICT_HGT, REPO, SHARED, TUTORIAL


@pytest.fixture(scope="session")
def repo_dir() -> Path:
    """The repository root."""
    return REPO


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The reference data folder (``$DROPLINE_SHARED``, else ``shared/`` beside the repository)."""
    return SHARED


@pytest.fixture(scope="session")
def tutorial_scenario() -> Scenario:
    """The tutorial scenario of ``missions/tutorial``."""
    return load_scenario(TUTORIAL)


@pytest.fixture(scope="session")
def tutorial_dem(tutorial_scenario: Scenario) -> Dem:
    """The tutorial's terrain, from the DEM files its scenario names."""
    return load_dem(tutorial_scenario.terrain.dem_paths)


@pytest.fixture(scope="session")
def district_scenario() -> Scenario:
    """The White Mountains district scenario of ``missions/district``."""
    return load_scenario(DISTRICT)


@pytest.fixture(scope="session")
def district_dem() -> Dem:
    """The district's terrain: the SRTM tile ``N44W072.hgt`` its scenario names."""
    return load_dem([DISTRICT_HGT])
