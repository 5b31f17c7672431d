"""The missions ``dropline replay`` flies, read from plan folders, ``.plan`` and ``.waypoints``.

A plan folder (or its ``plan.json``) gives one mission per sortie, named ``<folder>/<sortie id>``:
each sortie is flown alone, from its depot, on a fresh simulated vehicle, so that every sortie is
checked against its own prediction whatever the others do. A QGroundControl ``.plan`` or a
Mission Planner ``.waypoints`` file is one mission named after the file. With a scenario, a
mission file is matched to its depot, drone type and drops as ``dropline verify`` does, and its
energy is predicted by the verifier's model; without one it is flown as it is, with heights
measured above home and nothing predicted.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from planner.errors import InputError
from planner.flown.figures import planned_energy_steps
from planner.io.plan_folder import MissionFile, PlanFolder, read_plan_source
from planner.items import MissionItem
from planner.mission_plan import plan_from_mission
from planner.plan_model import Plan, Sortie, SortieMetrics
from planner.scenario import DroneType, Scenario
from planner.terrain import Dem

__all__ = ["Mission", "bare_plan", "load_missions"]

_NO_METRICS = SortieMetrics(distance_m=0, duration_s=0, energy_wh=0, energy_pct=0,
                            reserve_pct=0, min_agl_m=0, max_agl_m=0, payload_kg=0)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Mission:
    """One mission to fly: a single-sortie plan and what is predicted for it.

    ``name`` is unique within a run; ``source`` the file or folder it came from; ``payload_kg``
    the parcels' total weight and ``parcels`` their number (loaded before take-off);
    ``energy_planned_wh``/``duration_planned_s`` the predictions (None when unknown);
    ``energy_steps`` the predicted energy (Wh from take-off) when each item is done.
    """

    name: str
    source: Path
    plan: Plan
    drone_type: DroneType | None = None
    payload_kg: float = 0.0
    parcels: int = 0
    energy_planned_wh: float | None = None
    duration_planned_s: float | None = None
    energy_steps: tuple[tuple[int, float], ...] = ()

    @property
    def sortie(self) -> Sortie:
        """The mission's only sortie."""
        return self.plan.sorties[0]

    @property
    def home(self) -> tuple[float, float, float]:
        """Home (lat_deg, lon_deg, alt_amsl_m), item 0 of the mission."""
        item = self.sortie.mission[0]
        return item.lat_deg, item.lon_deg, item.alt_m


def bare_plan(name: str, mission: Sequence[MissionItem], fence: Sequence[MissionItem],
              rally: Sequence[MissionItem]) -> Plan:
    """A one-sortie plan around mission items alone (no depot, drone type or drops known)."""
    sortie = Sortie(id=name, depot_id="home", drone_type_id="", vehicle="home/vehicle/1",
                    drop_ids=(), start_s=0.0, mission=tuple(mission), fence=tuple(fence),
                    rally=tuple(rally), metrics=_NO_METRICS)
    return Plan(scenario="", altitude_frame="relative", sorties=(sortie,), unserved=())


def _weights(scenario: Scenario | None) -> Mapping[str, float]:
    return {} if scenario is None else {d.id: d.weight_kg for d in scenario.drops}


def _mission(name: str, source: Path, plan: Plan, scenario: Scenario | None, dem: Dem | None,
             *, predicted: bool) -> Mission:
    sortie = plan.sorties[0]
    weights = _weights(scenario)
    drone = None if scenario is None else scenario.drone_types.get(sortie.drone_type_id)
    steps: tuple[tuple[int, float], ...] = ()
    if scenario is not None and dem is not None and drone is not None:
        steps = planned_energy_steps(sortie, scenario, dem, payload_kg_by_drop=weights)
        if steps and not math.isfinite(steps[-1][1]):
            steps = ()
    energy = sortie.metrics.energy_wh if predicted else (steps[-1][1] if steps else None)
    duration = sortie.metrics.duration_s if predicted else None
    return Mission(name=name, source=source, plan=dataclasses.replace(plan, sorties=(sortie,)),
                   drone_type=drone, payload_kg=sum(weights.get(d, 0.0) for d in sortie.drop_ids),
                   parcels=len(sortie.drop_ids), energy_planned_wh=energy,
                   duration_planned_s=duration, energy_steps=steps)


def _from_file(file: MissionFile, scenario: Scenario | None, dem: Dem | None,
               drone_type: str | None) -> Mission:
    path, contents = file.path, file.contents
    if not contents.mission:
        raise InputError("the mission has no items", path=path)
    if scenario is None:
        return _mission(file.name, path, bare_plan(file.name, contents.mission, contents.fence,
                                                   contents.rally), None, None, predicted=False)
    plan = plan_from_mission(scenario, contents.mission, contents.fence, contents.rally,
                             name=file.name, drone_type=drone_type, path=path)
    return _mission(file.name, path, plan, scenario, dem, predicted=False)


def _expand(text: str, scenario: Scenario | None, dem: Dem | None,
            drone_type: str | None) -> list[Mission]:
    source = read_plan_source(text)
    if isinstance(source, MissionFile):
        return [_from_file(source, scenario, dem, drone_type)]
    return _sorties(source, scenario, dem)


def _sorties(source: PlanFolder, scenario: Scenario | None, dem: Dem | None) -> list[Mission]:
    """One mission per sortie, named ``<plan folder>/<sortie id>``."""
    plan, path = source.plan, source.plan_path
    if not plan.sorties:
        raise InputError("the plan has no sortie to fly", path=path)
    name = source.folder.name
    return [_mission(f"{name}/{s.id}", path, dataclasses.replace(plan, sorties=(s,)),
                     scenario, dem, predicted=True) for s in plan.sorties]


def load_missions(paths: Sequence[str], *, scenario: Scenario | None = None,
                  dem: Dem | None = None, drone_type: str | None = None) -> list[Mission]:
    """Every mission of every path, in order, with unique names.

    Parameters
    ----------
    paths
        Plan folders, ``plan.json``, ``.plan`` or ``.waypoints`` files.
    scenario, dem
        The scenario the missions were planned in and its elevation model (optional).
    drone_type
        Drone type flying ``.plan``/``.waypoints`` missions (default: the one at their depot).

    Returns
    -------
    list[Mission]
        One mission per sortie of a plan, one per mission file.

    Raises
    ------
    InputError
        A path is missing, of an unknown type, or malformed (the error names file, line or
        JSON path, and field).
    """
    out: list[Mission] = []
    seen: dict[str, int] = {}
    for text in paths:
        for mission in _expand(text, scenario, dem, drone_type):
            n = seen.get(mission.name, 0)
            seen[mission.name] = n + 1
            if n:
                mission = dataclasses.replace(mission, name=f"{mission.name}#{n + 1}")
            out.append(mission)
    if not out:
        raise InputError("no mission given")
    return out
