"""Plans in the console: a scenario chosen or uploaded, edited, planned as a background job.

A plan's folder in the data folder holds ``scenario/`` (a copy of the chosen scenario, with
uploads) and, once planned, ``out/``: a plan folder (:mod:`planner.io.plan_folder`) with
``plan.json``, ``summary.json``, ``routes.geojson`` and one ``.plan`` and ``.waypoints`` file per
sortie. The planner runs in a thread; each of its progress calls is
published as a ``plan_progress`` event, the end as ``plan_done``.
"""

from __future__ import annotations

import json
import logging
import secrets
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from planner.errors import DroplineError, InputError
from planner.io.plan_folder import (
    PLAN_JSON,
    ROUTES_GEOJSON,
    read_plan_folder,
    sortie_file_names,
    write_plan_folder,
)
from planner.pipeline import make_plan, plan_summary
from planner.plan_model import Plan
from planner.scenario import Scenario
from planner.terrain import Dem
from web import db as tables
from web import scenario_edit
from web.db import Database
from web.errors import Conflict, NotFound
from web.events import EventBus

log = logging.getLogger(__name__)

STATES = ("draft", "running", "done", "failed")


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanRecord:
    """One plan of the console."""

    id: str
    name: str
    folder: Path
    edits: dict[str, Any]
    state: str
    error: str | None
    out_dir: Path | None
    created_by: str
    created_at: float
    finished_at: float | None


def _record(row: Any) -> PlanRecord:
    return PlanRecord(id=row.id, name=row.name, folder=Path(row.folder),
                      edits=json.loads(row.edits), state=row.state, error=row.error,
                      out_dir=None if row.out_dir is None else Path(row.out_dir),
                      created_by=row.created_by, created_at=row.created_at,
                      finished_at=row.finished_at)


class PlanService:
    """Creates, edits and runs plans.

    Parameters
    ----------
    database
        The console database.
    data_dir
        The console's data folder (plans go to ``plans/<id>/``).
    missions_dir
        Where scenario folders to choose from are.
    events
        Where progress is published.
    """

    def __init__(self, database: Database, data_dir: Path, missions_dir: Path,
                 events: EventBus) -> None:
        self.db = database
        self.root = data_dir / "plans"
        self.missions_dir = missions_dir
        self.events = events
        self._plans: dict[str, Plan] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()
        self._recover()

    def _recover(self) -> None:
        """Plans left running by a stopped server failed."""
        self.db.write(sa.update(tables.plans).where(tables.plans.c.state == "running")
                      .values(state="failed", error="the server stopped while planning"))

    # -- records ------------------------------------------------------------------------------
    def scenarios(self) -> list[str]:
        """Scenario folders to choose from."""
        return scenario_edit.list_scenarios(self.missions_dir)

    def get(self, plan_id: str) -> PlanRecord:
        """The plan with this id."""
        rows = self.db.rows(sa.select(tables.plans).where(tables.plans.c.id == plan_id))
        if not rows:
            raise NotFound(f"no plan {plan_id!r}")
        return _record(rows[0])

    def all(self) -> list[PlanRecord]:
        """Every plan, newest first."""
        return [_record(r) for r in self.db.rows(
            sa.select(tables.plans).order_by(tables.plans.c.created_at.desc()))]

    def create(self, scenario: str, *, username: str, edits: dict[str, Any] | None = None
               ) -> PlanRecord:
        """A new draft plan from the scenario folder ``scenario`` of the missions folder."""
        if scenario not in self.scenarios():
            raise InputError(f"no scenario {scenario!r}; expected one of "
                             f"{', '.join(self.scenarios()) or 'none'}", field="scenario")
        plan_id = secrets.token_hex(8)
        folder = self.root / plan_id / "scenario"
        folder.parent.mkdir(parents=True, exist_ok=True)
        try:
            scenario_edit.copy_scenario(self.missions_dir / scenario, folder)
            if edits:
                scenario_edit.load(folder, edits)
        except InputError:
            shutil.rmtree(folder.parent, ignore_errors=True)
            raise
        self.db.write(sa.insert(tables.plans).values(
            id=plan_id, name=scenario, folder=str(folder), edits=json.dumps(edits or {}),
            state="draft", created_by=username, created_at=time.time()))
        return self.get(plan_id)

    def _editable(self, plan_id: str) -> PlanRecord:
        record = self.get(plan_id)
        if record.state == "running":
            raise Conflict(f"plan {plan_id} is being planned; wait for it to finish")
        return record

    def edit(self, plan_id: str, edits: dict[str, Any]) -> PlanRecord:
        """Replace the plan's map edits (checked by loading the scenario with them)."""
        record = self._editable(plan_id)
        if not isinstance(edits, dict):
            raise InputError("Expected a JSON object of edits")
        keep = {k: v for k, v in record.edits.items() if k == "dem"}
        edits = {**{k: v for k, v in edits.items() if k != "dem"}, **keep}
        scenario_edit.load(record.folder, edits)
        self.db.write(sa.update(tables.plans).where(tables.plans.c.id == plan_id)
                      .values(edits=json.dumps(edits)))
        return self.get(plan_id)

    def upload(self, plan_id: str, kind: str, filename: str, data: bytes) -> PlanRecord:
        """Replace the plan's drops CSV, no-fly GeoJSON or DEM with an uploaded file."""
        record = self._editable(plan_id)
        edits = scenario_edit.upload(record.folder, record.edits, kind, filename, data)
        self.db.write(sa.update(tables.plans).where(tables.plans.c.id == plan_id)
                      .values(edits=json.dumps(edits)))
        return self.get(plan_id)

    def scenario(self, plan_id: str) -> tuple[Scenario, Dem]:
        """The plan's scenario with its edits, and the DEM."""
        record = self.get(plan_id)
        return scenario_edit.load(record.folder, record.edits)

    def plan(self, plan_id: str) -> Plan:
        """The planned sorties of a finished plan."""
        record = self.get(plan_id)
        if record.state != "done" or record.out_dir is None:
            raise Conflict(f"plan {plan_id} is {record.state}, not planned yet")
        with self._lock:
            cached = self._plans.get(plan_id)
        if cached is None:
            cached = read_plan_folder(record.out_dir).plan
            with self._lock:
                self._plans[plan_id] = cached
        return cached

    # -- the job ------------------------------------------------------------------------------
    def run(self, plan_id: str) -> PlanRecord:
        """Start planning in the background (the scenario is checked first, here)."""
        record = self._editable(plan_id)
        scenario, dem = scenario_edit.load(record.folder, record.edits)
        with self._lock:
            self._plans.pop(plan_id, None)
        self.db.write(sa.update(tables.plans).where(tables.plans.c.id == plan_id)
                      .values(state="running", error=None, finished_at=None))
        thread = threading.Thread(target=self._job, args=(plan_id, scenario, dem),
                                  daemon=True, name=f"plan {plan_id}")
        self._threads[plan_id] = thread
        thread.start()
        return self.get(plan_id)

    def wait(self, plan_id: str, timeout_s: float | None = None) -> PlanRecord:
        """Wait for a plan's job to end."""
        thread = self._threads.get(plan_id)
        if thread is not None:
            thread.join(timeout_s)
        return self.get(plan_id)

    def _job(self, plan_id: str, scenario: Scenario, dem: Dem) -> None:
        def progress(stage: str, done: int, total: int) -> None:
            self.events.publish("plan_progress", {
                "type": "plan_progress", "plan_id": plan_id, "stage": stage, "done": done,
                "total": total, "percent": round(100.0 * done / total, 1) if total else 100.0})

        out = self.root / plan_id / "out"
        timings: dict[str, float] = {}
        try:
            result = make_plan(scenario, dem, progress=progress, timings=timings,
                               clock=time.perf_counter)
            write_plan_folder(out, result.plan, scenario,
                              summary=plan_summary(result, scenario, timings))
        except DroplineError as exc:
            self._finish(plan_id, "failed", self._shown(plan_id, str(exc)), None)
            return
        except Exception as exc:
            log.exception("plan %s failed", plan_id)
            self._finish(plan_id, "failed",
                         self._shown(plan_id, f"internal error: {type(exc).__name__}: {exc}"),
                         None)
            return
        with self._lock:
            self._plans[plan_id] = result.plan
        self._finish(plan_id, "done", None, out)

    def _shown(self, plan_id: str, message: str) -> str:
        """A failure message as users may see it: files by the names they know, no paths."""
        return scenario_edit.scrub_paths(message, self.root / plan_id / "scenario")

    def _finish(self, plan_id: str, state: str, error: str | None, out: Path | None) -> None:
        self.db.write(sa.update(tables.plans).where(tables.plans.c.id == plan_id).values(
            state=state, error=error, out_dir=None if out is None else str(out),
            finished_at=time.time()))
        self.events.publish("plan_done", {"type": "plan_done", "plan_id": plan_id,
                                          "state": state, "error": error})

    def plan_json_path(self, plan_id: str) -> Path:
        """Where a plan's ``plan.json`` is written."""
        return self.root / plan_id / "out" / PLAN_JSON

    def files(self, plan_id: str) -> list[str]:
        """The downloadable files of a planned plan, relative to its plan folder."""
        return [PLAN_JSON, ROUTES_GEOJSON, *(
            name for s in self.plan(plan_id).sorties for name in sortie_file_names(s.id))]

    def download(self, plan_id: str, name: str) -> Path:
        """A file of a finished plan: ``plan.json``, ``routes.geojson`` or a sortie's file."""
        record = self.get(plan_id)
        if record.state != "done" or record.out_dir is None:
            raise Conflict(f"plan {plan_id} is {record.state}; nothing to download yet")
        if name not in self.files(plan_id):
            raise NotFound(f"no file {name!r} in plan {plan_id}")
        return record.out_dir / name
