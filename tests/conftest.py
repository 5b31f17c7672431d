"""Session fixtures of immutable data shared by every test area: the repository, the reference
data folder, and the tutorial and district scenarios with their terrain, each loaded once.

Markers are declared once, in ``pyproject.toml`` (``slow``, ``sitl``); fixtures of one area live
in that area's ``conftest.py``, its helpers in its ``helpers.py`` / ``helpers_<topic>.py``.

The suite runs in parallel processes (``./dev test``: pytest-xdist, ``--dist loadgroup``). The
tests of a module that share a module- or class-scoped fixture (a flown plan, a started
simulator, a built venv) run in one process, so the fixture is built once; modules holding
``slow`` tests are handed out first, so that the long ones do not start last.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from planner.io.dem import load_dem
from planner.io.scenario import load_scenario
from planner.scenario import Scenario
from planner.terrain import Dem
from tests.helpers.shared_data import ARTIFACTS, DISTRICT, DISTRICT_HGT, REPO, SHARED, TUTORIAL

#: Fixtures of a real PostgreSQL server (``postgres_server``, ``postgres_url``, ``database_url``).
pytest_plugins = ("tests.helpers.postgres_fixtures",)

#: Fixture scopes wider than a test but narrower than a process.
_SHARED_SCOPES = ("class", "module", "package")


def pytest_sessionstart(session: pytest.Session) -> None:
    """Empty :data:`ARTIFACTS` once per run, in the main process (never in a parallel worker,
    which would delete what the others wrote)."""
    if not hasattr(session.config, "workerinput"):
        shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)


def _shares_a_fixture(item: pytest.Item) -> bool:
    """Whether ``item`` uses a class-, module- or package-scoped fixture."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    return any(defs and defs[-1].scope in _SHARED_SCOPES
               for defs in info.name2fixturedefs.values())


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Group every module's tests that share a wider-scoped fixture into one xdist group, and
    move the modules that hold ``slow`` tests ahead of the others (keeping the order within a
    module and among modules of the same kind).

    Runs first: xdist's own hook of a parallel worker (registered after this file, so called
    before it otherwise) reads the ``xdist_group`` markers to name the groups, and would find
    none.
    """
    if config.pluginmanager.hasplugin("xdist"):
        for item in items:
            if _shares_a_fixture(item) and item.get_closest_marker("xdist_group") is None:
                item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::", 1)[0]))
    slow_modules = {item.nodeid.split("::", 1)[0] for item in items
                    if item.get_closest_marker("slow") is not None}
    items.sort(key=lambda item: item.nodeid.split("::", 1)[0] not in slow_modules)


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
