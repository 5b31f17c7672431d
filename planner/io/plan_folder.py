"""The plan folder ``dropline plan`` and the console write, and the one reader of plan files.

A plan folder holds::

    plan.json              the whole plan (:mod:`planner.io.planfile`), read back exactly
    summary.json           the plan's figures (drops served, sorties, makespan, ...)
    routes.geojson         the plan drawn on a map (:mod:`planner.io.geojson_out`)
    sorties/<id>.plan      each sortie as a QGroundControl plan (mission, geofence, rally)
    sorties/<id>.waypoints each sortie's mission as a Mission Planner file

:func:`write_plan_folder` builds the new folder beside the old one and swaps it in, so that a
reader sees either the old complete folder or the new one and a failed write leaves the old
folder as it was. :func:`read_plan_source` reads a plan folder, its ``plan.json``, a single
QGroundControl ``.plan`` or a Mission Planner ``.waypoints`` file.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import secrets
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planner.errors import InputError
from planner.io._atomic import write_text_atomic
from planner.io._contents import PlanFileContents
from planner.io.geojson_out import write_routes_geojson
from planner.io.planfile import read_plan_json, write_plan_json
from planner.io.qgc import read_qgc_plan, write_qgc_plan
from planner.io.wpl import read_wpl, write_wpl
from planner.plan_model import Plan
from planner.scenario import Scenario

__all__ = ["PLAN_FOLDER_ENTRIES", "PLAN_JSON", "ROUTES_GEOJSON", "SORTIES_DIR", "SUMMARY_JSON",
           "MissionFile", "PlanFolder", "read_mission_file", "read_plan_folder",
           "read_plan_source", "sortie_file_names", "write_plan_folder"]

PLAN_JSON = "plan.json"
SUMMARY_JSON = "summary.json"
ROUTES_GEOJSON = "routes.geojson"
SORTIES_DIR = "sorties"
#: Every entry of a plan folder, ``plan.json`` last: the order entries are swapped in one by one.
PLAN_FOLDER_ENTRIES = (SORTIES_DIR, ROUTES_GEOJSON, SUMMARY_JSON, PLAN_JSON)
#: Mission file suffixes, lower case, and whether the format holds geofence and rally points.
MISSION_SUFFIXES = {".plan": True, ".waypoints": False}
#: Fastest hover speed written into a sortie's ``.plan`` (QGroundControl's default is 5 m/s).
MAX_HOVER_SPEED_M_S = 5.0


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanFolder:
    """A plan read from a plan folder (or from its ``plan.json`` alone).

    ``folder`` is the folder holding ``plan_path``, the ``plan.json`` read.
    """

    folder: Path
    plan_path: Path
    plan: Plan


@dataclass(frozen=True, slots=True, kw_only=True)
class MissionFile:
    """One mission read from a QGroundControl ``.plan`` or Mission Planner ``.waypoints`` file.

    ``contents`` holds the mission (item 0 is home), geofence and rally items; ``holds_fence``
    is False for a ``.waypoints`` file, which has no geofence or rally points to check.
    """

    path: Path
    contents: PlanFileContents
    holds_fence: bool

    @property
    def name(self) -> str:
        """The mission's name: the file name without its suffix."""
        return self.path.stem


def sortie_file_names(sortie_id: str) -> tuple[str, str]:
    """The ``.plan`` and ``.waypoints`` names of a sortie, relative to the plan folder.

    Examples
    --------
    >>> sortie_file_names("S001")
    ('sorties/S001.plan', 'sorties/S001.waypoints')
    """
    return f"{SORTIES_DIR}/{sortie_id}.plan", f"{SORTIES_DIR}/{sortie_id}.waypoints"


# -- writing -----------------------------------------------------------------------------------
def _write_entries(folder: Path, plan: Plan, scenario: Scenario,
                   summary: Mapping[str, Any]) -> None:
    """Every entry of a plan folder into the empty ``folder``."""
    sorties = folder / SORTIES_DIR
    sorties.mkdir()
    for s in plan.sorties:
        cruise_m_s = scenario.drone_types[s.drone_type_id].cruise_speed_m_s
        qgc_name, wpl_name = sortie_file_names(s.id)
        write_qgc_plan(folder / qgc_name, mission=s.mission, fence=s.fence, rally=s.rally,
                       cruise_speed_m_s=cruise_m_s,
                       hover_speed_m_s=min(cruise_m_s, MAX_HOVER_SPEED_M_S))
        write_wpl(folder / wpl_name, s.mission)
    write_routes_geojson(folder / ROUTES_GEOJSON, plan, scenario)
    write_text_atomic(folder / SUMMARY_JSON, json.dumps(summary, indent=2) + "\n")
    write_plan_json(folder / PLAN_JSON, plan)


def _sibling(target: Path, tag: str) -> Path:
    """A new hidden folder beside ``target`` (same file system, so renames are atomic)."""
    while True:
        path = target.parent / f".{target.name}.{tag}-{secrets.token_hex(4)}"
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders in one step (Linux ``renameat2(RENAME_EXCHANGE)``); False if unsupported.

    Raises
    ------
    OSError
        If the system supports the exchange but refused it.
    """
    if not sys.platform.startswith("linux"):
        return False
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(a), None, str(b))


def _swap_folder(stage: Path, target: Path) -> None:
    """Make ``stage`` the folder ``target``; the old ``target`` ends up at ``stage``."""
    os.chmod(stage, target.stat().st_mode & 0o7777)
    if _exchange(stage, target):
        return
    aside = target.parent / f".{target.name}.old-{secrets.token_hex(8)}"
    os.rename(target, aside)
    try:
        os.rename(stage, target)
    except BaseException:
        os.rename(aside, target)
        raise
    os.rename(aside, stage)


def _swap_entries(stage: Path, target: Path) -> None:
    """Move each plan folder entry from ``stage`` into ``target``, ``plan.json`` last."""
    for name in PLAN_FOLDER_ENTRIES:
        new, current = stage / name, target / name
        if os.path.lexists(current) and (new.is_dir() or current.is_dir()):
            os.rename(current, stage / f".{name}.old")
        os.replace(new, current)


def write_plan_folder(out: str | Path, plan: Plan, scenario: Scenario, *,
                      summary: Mapping[str, Any]) -> None:
    """Write a plan folder: ``plan.json``, ``summary.json``, ``routes.geojson`` and the sorties.

    The folder is built beside ``out`` and then swapped in whole in one atomic exchange (Linux
    ``renameat2``), so a reader sees the old folder or the new one and a write that fails
    leaves the old folder untouched. Where the system cannot exchange two folders, two renames
    leave ``out`` missing for that instant instead. When ``out`` holds other files too (or is a
    link), they are kept: the plan's entries are then swapped in one by one, ``plan.json``
    last. A writer killed part way leaves a hidden ``.<name>.new-*`` folder beside ``out``.

    Parameters
    ----------
    out
        The plan folder to create or replace; its parent folders are created.
    plan
        The plan.
    scenario
        The scenario it was planned in (drone cruise speeds, no-fly zones for the map).
    summary
        The figures written as ``summary.json`` (JSON values).

    Raises
    ------
    NotADirectoryError
        If ``out`` exists and is not a folder (naming ``out/sorties``, the folder that cannot be
        made); nothing is written.
    OSError
        If the files cannot be written; ``out`` is then as it was.
    """
    target = Path(out)
    if target.exists() and not target.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR),
                                 str(target / SORTIES_DIR))
    target.parent.mkdir(parents=True, exist_ok=True)
    stage = _sibling(target, "new")
    try:
        _write_entries(stage, plan, scenario, summary)
        if not os.path.lexists(target):
            os.rename(stage, target)
        elif target.is_symlink() or set(os.listdir(target)) - set(PLAN_FOLDER_ENTRIES):
            _swap_entries(stage, target)
        else:
            _swap_folder(stage, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(stage)


# -- reading -----------------------------------------------------------------------------------
def read_plan_folder(path: str | Path) -> PlanFolder:
    """Read the plan of a plan folder, or of a ``plan.json`` file given directly.

    Parameters
    ----------
    path
        A folder written by :func:`write_plan_folder`, or a ``plan.json`` file.

    Returns
    -------
    PlanFolder
        The plan and where it was read from.

    Raises
    ------
    InputError
        If the folder holds no ``plan.json`` or the file does not exist.
    PlanFileError
        If ``plan.json`` is malformed (naming the file and the JSON path of the field).
    """
    given = Path(path)
    plan_path = given / PLAN_JSON if given.is_dir() else given
    if not plan_path.is_file():
        raise InputError(f"no {PLAN_JSON} here; give a folder written by 'dropline plan'",
                         path=path)
    return PlanFolder(folder=plan_path.parent, plan_path=plan_path,
                      plan=read_plan_json(plan_path))


def read_mission_file(path: str | Path) -> MissionFile:
    """Read one mission from a QGroundControl ``.plan`` or Mission Planner ``.waypoints`` file.

    Parameters
    ----------
    path
        The file; its suffix (any case) says its format.

    Returns
    -------
    MissionFile
        Its mission, geofence and rally items (none of the last two in a ``.waypoints``).

    Raises
    ------
    InputError
        If the suffix is neither ``.plan`` nor ``.waypoints``.
    PlanFileError
        If the file is malformed (naming the file and the line or JSON path of the field).
    """
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix not in MISSION_SUFFIXES:
        raise InputError(f"unknown mission file type '{suffix}'; expected .plan or .waypoints",
                         path=file)
    contents = read_qgc_plan(file) if suffix == ".plan" else \
        PlanFileContents(mission=read_wpl(file))
    return MissionFile(path=file, contents=contents, holds_fence=MISSION_SUFFIXES[suffix])


def read_plan_source(path: str | Path) -> PlanFolder | MissionFile:
    """Read a plan folder, its ``plan.json``, a ``.plan`` or a ``.waypoints`` file.

    Parameters
    ----------
    path
        What to read: a folder (its ``plan.json``), a ``.json`` file read as ``plan.json``, a
        QGroundControl ``.plan`` or a Mission Planner ``.waypoints`` file.

    Returns
    -------
    PlanFolder or MissionFile
        The whole plan, or the one mission of a mission file.

    Raises
    ------
    InputError
        If the path does not exist, the folder holds no ``plan.json``, or the file type is
        unknown.
    PlanFileError
        If the file is malformed (naming the file and the line or JSON path of the field).
    """
    given = Path(path)
    if given.is_dir() and not (given / PLAN_JSON).is_file():
        raise InputError(f"no {PLAN_JSON} in this folder; expected a folder written by "
                         "'dropline plan', a .plan or a .waypoints file", path=given)
    file = given / PLAN_JSON if given.is_dir() else given
    if not file.exists():
        raise InputError("no such file or folder", path=file)
    suffix = file.suffix.lower()
    if suffix == ".json":
        return read_plan_folder(file)
    if suffix in MISSION_SUFFIXES:
        return read_mission_file(file)
    raise InputError(f"unknown plan file type '{suffix}'; expected a plan folder, "
                     f"{PLAN_JSON}, .plan or .waypoints", path=file)
