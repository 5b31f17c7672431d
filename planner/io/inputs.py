"""A scenario folder and its elevation model, loaded and checked together.

Every command and service that plans, verifies, flies or simulates a scenario loads it here, so
that each of them refuses the same inputs: the loader's checks of each file
(:func:`planner.io.scenario.load_scenario`), the elevation model's (:func:`planner.io.dem.load_dem`)
and the checks relating them (:func:`planner.validate.check_scenario`: every depot and drop on
the model, no depot in or near a no-fly zone).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from planner.io.dem import MAX_DEM_CELLS, DemReport, load_dem_report
from planner.io.scenario import load_scenario
from planner.scenario import Scenario
from planner.terrain import Dem
from planner.validate import check_scenario

__all__ = ["DemLoader", "LoadedScenario", "load_scenario_with_dem", "scenario_with_dem"]

#: Loads the elevation model of these files (a caller's own, for example one that caches).
DemLoader = Callable[[tuple[Path, ...]], Dem]


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadedScenario:
    """A scenario and its elevation model, checked together.

    ``dem_report`` says what loading the model did (void cells filled); it is None when the
    model came from the caller's ``dem_loader``.
    """

    scenario: Scenario
    dem: Dem
    dem_report: DemReport | None = None


def scenario_with_dem(scenario: Scenario, *, dem_loader: DemLoader | None = None,
                      max_dem_cells: int = MAX_DEM_CELLS) -> LoadedScenario:
    """Load the elevation model of a scenario already in memory and check the two together.

    Parameters
    ----------
    scenario
        A scenario (loaded, edited or built in code).
    dem_loader
        Loads the model from ``scenario.terrain.dem_paths`` instead of
        :func:`~planner.io.dem.load_dem_report`.
    max_dem_cells
        Most cells an elevation file may hold (without ``dem_loader``).

    Returns
    -------
    LoadedScenario
        The scenario, its model and what loading the model did.

    Raises
    ------
    TerrainError
        If an elevation file is missing or unreadable.
    ScenarioError
        If a depot or drop lies off the model, or a depot in or near a no-fly zone.
    """
    paths = tuple(scenario.terrain.dem_paths)
    report = None
    if dem_loader is None:
        dem, report = load_dem_report(paths, max_cells=max_dem_cells)
    else:
        dem = dem_loader(paths)
    check_scenario(scenario, dem)
    return LoadedScenario(scenario=scenario, dem=dem, dem_report=report)


def load_scenario_with_dem(folder: str | Path, *, strict: bool = False,
                           edit: Callable[[Scenario], Scenario] | None = None,
                           dem_loader: DemLoader | None = None,
                           max_dem_cells: int = MAX_DEM_CELLS) -> LoadedScenario:
    """Load a scenario folder and its elevation model, and check them together.

    Parameters
    ----------
    folder
        The folder holding ``scenario.toml``.
    strict
        Refuse a drop heavier than every drone type can carry (see
        :func:`~planner.io.scenario.load_scenario`).
    edit
        Changes made to the scenario after loading it and before its elevation model is loaded
        and the two are checked (a console plan's map edits).
    dem_loader, max_dem_cells
        As for :func:`scenario_with_dem`.

    Returns
    -------
    LoadedScenario
        The checked scenario and its elevation model.

    Raises
    ------
    ScenarioError
        If a file of the scenario is malformed, or the scenario and its model disagree (the
        error names the file, the line and the field).
    TerrainError
        If an elevation file is missing or unreadable.
    """
    scenario = load_scenario(folder, strict=strict)
    if edit is not None:
        scenario = edit(scenario)
    return scenario_with_dem(scenario, dem_loader=dem_loader, max_dem_cells=max_dem_cells)
