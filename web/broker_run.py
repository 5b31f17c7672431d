"""A plan flown through a hub's workers, as a console in broker mode sees it.

The console sends the verified plan version once (:class:`gcs.bus.messages.RunRequest`, its
``plan.json`` text in the request) and flies nothing itself: the workers fly the plan's shared
run in the flight-log database they share with the console (:mod:`gcs.bus.runs`). What the
Fleet page shows of the run is read back from that database (the drops' states, the flights'
phases, the run's end), so that every console on it agrees, whichever worker flies a vehicle
and after a takeover; the workers' progress messages give the run's id as soon as it is opened.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from gcs.bus.messages import RunProgress, RunRequest
from gcs.bus.state import vehicle_id
from gcs.fleet.logs import FlightLog
from gcs.fleet.shared.run import run_ended
from gcs.fleet.tracking import SortieTracker
from planner.plan_model import Plan
from web.plan_view import track_latlon


@dataclass(frozen=True, slots=True, kw_only=True)
class BrokerAssignment:
    """What the fleet page and the audit read of a run's manager: which vehicle flies which
    plan vehicle (by the console's vehicle id, :func:`gcs.bus.state.vehicle_id`), and the
    sorties skipped (none: the workers skip delivered ones)."""

    assignment: dict[str, int]
    skipped: dict[str, str]
    resend_delivered: bool = False
    run: None = None


class BrokerRun:
    """A plan sent to (or about to be sent to) the workers of ``hub``.

    Parameters
    ----------
    plan_id
        The console's plan version id.
    plan
        The verified plan.
    hub
        The hub whose workers fly it ("": not known yet, see :meth:`on_hub`).
    assignment
        Plan vehicle name -> system id on ``hub``.
    request
        The run request (sent when the run is started).
    flight_log
        The flight log the console shares with the workers (the run's state is read there).
    """

    def __init__(self, *, plan_id: str, plan: Plan, hub: str, assignment: dict[str, int],
                 request: RunRequest, flight_log: FlightLog) -> None:
        self.plan_id = plan_id
        self.flight_log = flight_log
        self.plan = plan
        self.hub = hub
        self.request = request
        self.assignment = dict(assignment)
        self.manager = BrokerAssignment(assignment={}, skipped={})
        self.on_hub(hub)
        self.started = False
        self.finished = False
        self.run_id: int | None = None
        self.progress: list[RunProgress] = []
        self._lock = threading.Lock()
        self._planned = {d.drop_id: d for s in plan.sorties
                         for d in SortieTracker(s).statuses()}

    def on_hub(self, hub: str) -> None:
        """The run is flown by the workers of ``hub`` (known late for a run shown from the
        flight log)."""
        self.hub = hub
        self.manager = BrokerAssignment(
            assignment={n: self.vehicle_id(s) for n, s in self.assignment.items()},
            skipped={})

    def vehicle_id(self, sysid: int) -> int:
        """The console's id of the vehicle ``sysid`` of the run's hub (the system id while
        the hub is not known)."""
        return vehicle_id(self.hub, sysid) if self.hub else sysid

    def heard(self, msg: RunProgress) -> None:
        """A worker's progress message."""
        with self._lock:
            self.progress.append(msg)
            if msg.run_id is not None and self.run_id is None:
                self.run_id = msg.run_id

    def refused(self) -> list[str]:
        """What the workers refusing the request said."""
        with self._lock:
            return [f"{p.worker}: {p.detail}" for p in self.progress if p.state == "refused"]

    @property
    def plan_path(self) -> str | None:
        """Where the console keeps the plan version flown."""
        return self.request.plan_path

    @property
    def skipped(self) -> dict[str, str]:
        """Sorties not flown for their delivered parcels, as the console knows them (none:
        the workers skip them)."""
        return dict(self.manager.skipped)

    def find_run(self) -> int | None:
        """The run's id in the flight log (from a worker's progress, else the plan's
        unfinished run there)."""
        if self.run_id is None and self.started:
            record = self.flight_log.unfinished_run()
            if record is not None and record.plan_key == self.request.plan_key:
                self.run_id = record.id
        return self.run_id

    def poll(self) -> bool:
        """Whether the run has just been found over (by any worker)."""
        run_id = self.find_run()
        if run_id is None or self.finished or not run_ended(self.flight_log, run_id):
            return False
        self.finished = True
        return True

    def drops(self) -> list[dict[str, Any]]:
        """Every drop of the plan with its recorded state (queued before any)."""
        run_id = self.find_run()
        states = {} if run_id is None else self.flight_log.drop_states(run_id)
        out = []
        for drop_id, d in self._planned.items():
            state, detail = states.get(drop_id, (str(d.state), None))
            found = self.drop_event(drop_id, state, detail)
            if found is not None:
                out.append(found)
        return out

    def drop_event(self, drop_id: str, state: str, reason: str | None = None
                   ) -> dict[str, Any] | None:
        """A drop of the plan in the fields of :meth:`drops`, in ``state`` (None: not a drop
        of this plan)."""
        d = self._planned.get(drop_id)
        if d is None:
            return None
        return {"drop_id": drop_id, "sortie_id": d.sortie_id, "vehicle": d.vehicle,
                "state": state, "eta_in_s": None, "eta_at": None,
                "lat_deg": d.planned_lat_deg, "lon_deg": d.planned_lon_deg,
                "release_error_m": None, "reason": reason,
                "kind": "pickup" if d.pickup else "delivery"}

    def vehicles(self) -> dict[int, dict[str, Any]]:
        """Plan name, phase (the last flight's state, ``idle`` before any) and sortie of each
        assigned vehicle, by the console's vehicle id."""
        run_id = self.find_run()
        flights = [] if run_id is None else self.flight_log.flights(run_id)
        out: dict[int, dict[str, Any]] = {}
        for name, sysid in self.manager.assignment.items():   # (console ids)
            own = [f for f in flights if f.vehicle == name]
            total = sum(1 for s in self.plan.sorties if s.vehicle == name)
            last = own[-1] if own else None
            out[sysid] = {"name": name, "phase": "idle" if last is None else last.state,
                          "sortie_id": None if last is None else last.sortie_id,
                          "sorties_done": sum(1 for f in own
                                              if f.state not in ("preparing", "flying")),
                          "sorties_total": total, "message": None, "ready": True,
                          "current_drop": None, "eta_in_s": None}
        return out

    def json(self) -> dict[str, Any]:
        """The run as the fleet page shows it (as :func:`web.fleet_json.run_json`), with the
        hub and the workers' progress."""
        with self._lock:
            progress = [{"worker": p.worker, "state": p.state, "at": p.at_s,
                         "sysid": None if p.sysid is None else self.vehicle_id(p.sysid),
                         "hub_sysid": p.sysid, "detail": p.detail}
                        for p in self.progress[-50:]]
        return {"plan_id": self.plan_id, "run_id": self.run_id, "started": self.started,
                "finished": self.finished,
                "routes": {s.id: track_latlon(s.mission) for s in self.plan.sorties},
                "assignment": dict(self.manager.assignment), "resumed": False,
                "resend_delivered": self.request.resend_delivered, "skipped": {},
                "hub": self.hub,
                "workers": progress, "at": round(time.time(), 2)}
