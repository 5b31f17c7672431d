"""Plans in the console: a scenario chosen or uploaded, edited, planned as a background job.

A plan's folder in the data folder holds ``scenario/`` (a copy of the chosen scenario, with
uploads) and, once planned, ``out/``: a plan folder (:mod:`planner.io.plan_folder`) with
``plan.json``, ``summary.json``, ``routes.geojson`` and one ``.plan`` and ``.waypoints`` file per
sortie. The planner runs in a thread; each of its progress calls is
published as a ``plan_progress`` event, the end as ``plan_done``.

Versions: a plan keeps the id of its first version; each version has its own folder
(``plans/<version id>/``). A version flown by the fleet (a run started with its ``plan.json``)
is never changed: editing, uploading to or planning the plan then makes the next version, a
copy of the flown one's scenario and edits, recorded in the audit log with who made it. Runs
and flights keep naming the ``plan.json`` of the version they flew, so their replay reads that
version's sorties, scenario and terrain. A plan id names its newest version; the id of a later
version names that version.
"""

from __future__ import annotations

import json
import logging
import secrets
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from gcs.fleet import logs
from gcs.fleet.logs import FlightLog
from planner.cost import cost_summary, plan_cost
from planner.errors import DroplineError, InputError
from planner.fleet_state import starts_from_json
from planner.io.costs import load_costs
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
    """One version of a plan of the console.

    ``id`` is the plan's id (its first version's), ``version_id`` this version's own id (its
    folder's name), ``version`` its number from 1; ``flown_at`` (Unix seconds) is set once a
    run of this version started, after which the version is read-only.
    """

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
    version_id: str = ""
    version: int = 1
    flown_at: float | None = None

    @property
    def plan_json(self) -> Path:
        """Where this version's ``plan.json`` is (once planned)."""
        return self.folder.parent / "out" / PLAN_JSON


def _record(row: Any) -> PlanRecord:
    return PlanRecord(id=row.lineage_id or row.id, name=row.name, folder=Path(row.folder),
                      edits=json.loads(row.edits), state=row.state, error=row.error,
                      out_dir=None if row.out_dir is None else Path(row.out_dir),
                      created_by=row.created_by, created_at=row.created_at,
                      finished_at=row.finished_at, version_id=row.id,
                      version=int(row.version or 1), flown_at=row.flown_at)


def first_run_at(flight_log: FlightLog, plan_json: Path) -> float | None:
    """When the first run of the fleet flying ``plan_json`` started (None: never flown)."""
    with flight_log.engine.connect() as conn:
        row = conn.execute(sa.select(sa.func.min(logs.runs.c.started_at))
                           .where(logs.runs.c.plan_path == str(plan_json))).first()
    return None if row is None or row[0] is None else float(row[0])


class PlanService:
    """Creates, edits and runs plans, and keeps their flown versions.

    Parameters
    ----------
    database
        The console database.
    data_dir
        The console's data folder (plan versions go to ``plans/<version id>/``).
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
        #: Tells when a version's ``plan.json`` was first flown (see :meth:`attach_flight_log`).
        self.flown_probe: Callable[[Path], float | None] | None = None
        self._plans: dict[str, Plan] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()
        self._version_lock = threading.Lock()
        self._recover()

    def _recover(self) -> None:
        """Plans left running by a stopped server failed."""
        self.db.write(sa.update(tables.plans).where(tables.plans.c.state == "running")
                      .values(state="failed", error="the server stopped while planning"))

    def attach_flight_log(self, flight_log: FlightLog) -> None:
        """Read runs in ``flight_log`` to tell a flown version (also one flown before the
        console recorded it, by the command line or an older console)."""
        self.flown_probe = lambda path: first_run_at(flight_log, path)

    # -- records ------------------------------------------------------------------------------
    def scenarios(self) -> list[str]:
        """Scenario folders to choose from."""
        return scenario_edit.list_scenarios(self.missions_dir)

    def get(self, plan_id: str) -> PlanRecord:
        """The newest version of the plan ``plan_id``, or the version with that id."""
        t = tables.plans
        rows = self.db.rows(sa.select(t).where(t.c.lineage_id == plan_id)
                            .order_by(t.c.version.desc()).limit(1))
        if not rows:
            rows = self.db.rows(sa.select(t).where(t.c.id == plan_id))
        if not rows:
            raise NotFound(f"no plan {plan_id!r}")
        return _record(rows[0])

    def version(self, version_id: str) -> PlanRecord:
        """The version with this version id (the first version's is the plan's id)."""
        rows = self.db.rows(sa.select(tables.plans).where(tables.plans.c.id == version_id))
        if not rows:
            raise NotFound(f"no plan version {version_id!r}")
        return _record(rows[0])

    def versions(self, plan_id: str) -> list[PlanRecord]:
        """Every version of the plan ``plan_id`` (or of a version's plan), newest first."""
        lineage = self.get(plan_id).id
        t = tables.plans
        return [_record(r) for r in self.db.rows(
            sa.select(t).where(t.c.lineage_id == lineage).order_by(t.c.version.desc()))]

    def all(self) -> list[PlanRecord]:
        """The newest version of every plan, most recently made first."""
        newest: dict[str, PlanRecord] = {}
        for row in self.db.rows(sa.select(tables.plans).order_by(tables.plans.c.version)):
            record = _record(row)
            newest[record.id] = record
        return sorted(newest.values(), key=lambda r: r.created_at, reverse=True)

    def version_at(self, plan_json: Path) -> PlanRecord:
        """The version whose ``plan.json`` is ``plan_json`` (as a run of the fleet names it)."""
        version_id = Path(plan_json).parent.parent.name
        record = self.version(version_id)
        if record.plan_json != Path(plan_json):
            raise NotFound(f"no plan version at {plan_json}")
        return record

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
            state="draft", created_by=username, created_at=time.time(), lineage_id=plan_id,
            version=1))
        return self.get(plan_id)

    # -- versions -----------------------------------------------------------------------------
    def flown(self, record: PlanRecord) -> bool:
        """True once a run of this version started (recorded, or found in the flight log)."""
        if record.flown_at is not None:
            return True
        if self.flown_probe is None or record.out_dir is None:
            return False
        at = self.flown_probe(record.plan_json)
        if at is None:
            return False
        self.mark_flown(record.version_id, at)
        return True

    def mark_flown(self, version_id: str, at: float | None = None) -> None:
        """Record that a run of this version started (kept from the first time)."""
        self.db.write(sa.update(tables.plans).where(tables.plans.c.id == version_id,
                                                    tables.plans.c.flown_at.is_(None))
                      .values(flown_at=time.time() if at is None else at))

    def _next_version(self, record: PlanRecord, username: str | None) -> PlanRecord:
        """A new draft version copied from ``record`` (a flown version), audited."""
        with self._version_lock:
            newest = self.get(record.id)
            if newest.version_id != record.version_id and not self.flown(newest):
                return newest
            version_id = secrets.token_hex(8)
            folder = self.root / version_id / "scenario"
            folder.parent.mkdir(parents=True, exist_ok=True)
            try:
                scenario_edit.copy_scenario(record.folder, folder)
            except InputError:
                shutil.rmtree(folder.parent, ignore_errors=True)
                raise
            number = newest.version + 1
            who = username or record.created_by
            self.db.write(sa.insert(tables.plans).values(
                id=version_id, name=record.name, folder=str(folder),
                edits=json.dumps(record.edits), state="draft", created_by=who,
                created_at=time.time(), lineage_id=record.id, version=number))
        self.db.audit(username=who, action="plan version", target=f"plan {record.id}",
                      result="created", detail=f"version {number} ({version_id}) from the "
                                               f"flown version {record.version}")
        log.info("plan %s: version %d made from flown version %d", record.id, number,
                 record.version)
        return self.version(version_id)

    def _editable(self, plan_id: str, username: str | None = None) -> PlanRecord:
        """The version an edit or a planning goes to: the newest, or a new one if it flew."""
        record = self.get(plan_id)
        if record.state == "running":
            raise Conflict(f"plan {plan_id} is being planned; wait for it to finish")
        if self.flown(record):
            record = self._next_version(record, username)
        return record

    def edit(self, plan_id: str, edits: dict[str, Any], *, username: str | None = None
             ) -> PlanRecord:
        """Replace the plan's map edits (checked by loading the scenario with them); a flown
        version is left as it is and the edits go to a new version (made by ``username``)."""
        if not isinstance(edits, dict):
            raise InputError("Expected a JSON object of edits")
        record = self.get(plan_id)
        keep = {k: v for k, v in record.edits.items() if k == "dem"}
        edits = {**{k: v for k, v in edits.items() if k != "dem"}, **keep}
        scenario_edit.load(record.folder, edits)
        record = self._editable(plan_id, username)
        self.db.write(sa.update(tables.plans).where(tables.plans.c.id == record.version_id)
                      .values(edits=json.dumps(edits)))
        return self.version(record.version_id)

    def upload(self, plan_id: str, kind: str, filename: str, data: bytes, *,
               username: str | None = None) -> PlanRecord:
        """Replace the plan's drops CSV, no-fly GeoJSON or DEM with an uploaded file (in a new
        version if the newest one flew)."""
        record = self._editable(plan_id, username)
        edits = scenario_edit.upload(record.folder, record.edits, kind, filename, data)
        self.db.write(sa.update(tables.plans).where(tables.plans.c.id == record.version_id)
                      .values(edits=json.dumps(edits)))
        return self.version(record.version_id)

    def scenario(self, plan_id: str) -> tuple[Scenario, Dem]:
        """The plan's scenario with its edits, and the DEM (of its newest version, or of the
        version ``plan_id`` names)."""
        return self.scenario_of(self.get(plan_id))

    @staticmethod
    def scenario_of(record: PlanRecord) -> tuple[Scenario, Dem]:
        """The scenario with its edits, and the DEM, of one version."""
        return scenario_edit.load(record.folder, record.edits)

    def scenario_at(self, plan_json: Path) -> tuple[Scenario, Dem]:
        """The scenario and DEM of the version whose ``plan.json`` is ``plan_json``."""
        return self.scenario_of(self.version_at(plan_json))

    def plan(self, plan_id: str) -> Plan:
        """The planned sorties of a finished plan (its newest version, or the version
        ``plan_id`` names)."""
        return self.plan_of(self.get(plan_id))

    def plan_of(self, record: PlanRecord) -> Plan:
        """The planned sorties of one finished version."""
        if record.state != "done" or record.out_dir is None:
            raise Conflict(f"plan {record.id} version {record.version} is {record.state}, "
                           "not planned yet")
        with self._lock:
            cached = self._plans.get(record.version_id)
        if cached is None:
            cached = read_plan_folder(record.out_dir).plan
            with self._lock:
                self._plans[record.version_id] = cached
        return cached

    # -- the job ------------------------------------------------------------------------------
    def run(self, plan_id: str, *, username: str | None = None) -> PlanRecord:
        """Start planning in the background (the scenario is checked first, here); a flown
        version is left as it is and a new version (made by ``username``) is planned."""
        record = self.get(plan_id)
        if record.state == "running":
            raise Conflict(f"plan {plan_id} is being planned; wait for it to finish")
        scenario, dem = self.scenario_of(record)
        record = self._editable(plan_id, username)
        with self._lock:
            self._plans.pop(record.version_id, None)
        self.db.write(sa.update(tables.plans).where(tables.plans.c.id == record.version_id)
                      .values(state="running", error=None, finished_at=None))
        thread = threading.Thread(target=self._job, args=(record, scenario, dem),
                                  daemon=True, name=f"plan {record.version_id}")
        self._threads[record.version_id] = thread
        thread.start()
        return self.version(record.version_id)

    def wait(self, plan_id: str, timeout_s: float | None = None) -> PlanRecord:
        """Wait for the planning job of a plan's newest version (or of a version) to end."""
        record = self.get(plan_id)
        thread = self._threads.get(record.version_id)
        if thread is not None:
            thread.join(timeout_s)
        return self.version(record.version_id)

    def _job(self, record: PlanRecord, scenario: Scenario, dem: Dem) -> None:
        def progress(stage: str, done: int, total: int) -> None:
            self.events.publish("plan_progress", {
                "type": "plan_progress", "plan_id": record.id, "version": record.version,
                "stage": stage, "done": done, "total": total,
                "percent": round(100.0 * done / total, 1) if total else 100.0})

        out = record.plan_json.parent
        timings: dict[str, float] = {}
        try:
            result = make_plan(scenario, dem, progress=progress, timings=timings,
                               clock=time.perf_counter, starts=starts_from_json(
                                   record.edits.get("vehicle_starts", [])))
            summary = plan_summary(result, scenario, timings)
            summary["cost"] = cost_summary(plan_cost(result.plan, scenario,
                                                     load_costs(scenario.root)))
            write_plan_folder(out, result.plan, scenario, summary=summary)
        except DroplineError as exc:
            self._finish(record, "failed", self._shown(record, str(exc)), None)
            return
        except Exception as exc:
            log.exception("plan %s version %d failed", record.id, record.version)
            self._finish(record, "failed",
                         self._shown(record, f"internal error: {type(exc).__name__}: {exc}"),
                         None)
            return
        with self._lock:
            self._plans[record.version_id] = result.plan
        self._finish(record, "done", None, out)

    @staticmethod
    def _shown(record: PlanRecord, message: str) -> str:
        """A failure message as users may see it: files by the names they know, no paths."""
        return scenario_edit.scrub_paths(message, record.folder)

    def _finish(self, record: PlanRecord, state: str, error: str | None,
                out: Path | None) -> None:
        self.db.write(sa.update(tables.plans).where(tables.plans.c.id == record.version_id)
                      .values(state=state, error=error,
                              out_dir=None if out is None else str(out),
                              finished_at=time.time()))
        self.events.publish("plan_done", {"type": "plan_done", "plan_id": record.id,
                                          "version": record.version, "state": state,
                                          "error": error})

    def plan_json_path(self, plan_id: str) -> Path:
        """Where the ``plan.json`` of a plan's newest version (or of a version) is written."""
        return self.get(plan_id).plan_json

    def files(self, plan_id: str) -> list[str]:
        """The downloadable files of a planned plan, relative to its plan folder."""
        return self.files_of(self.get(plan_id))

    def files_of(self, record: PlanRecord) -> list[str]:
        """The downloadable files of one planned version."""
        return [PLAN_JSON, ROUTES_GEOJSON, *(
            name for s in self.plan_of(record).sorties for name in sortie_file_names(s.id))]

    def download(self, plan_id: str, name: str) -> Path:
        """A file of a finished plan: ``plan.json``, ``routes.geojson`` or a sortie's file."""
        record = self.get(plan_id)
        if record.state != "done" or record.out_dir is None:
            raise Conflict(f"plan {plan_id} is {record.state}; nothing to download yet")
        if name not in self.files_of(record):
            raise NotFound(f"no file {name!r} in plan {plan_id}")
        return record.out_dir / name
