"""One plan flown by the fleet from the console: upload and verify, start, and what it reports.

A :class:`FleetRun` wraps a :class:`gcs.fleet.FleetManager`: :meth:`FleetRun.upload` assigns the
plan's vehicles to the vehicles heard and uploads each one's first sortie (mission, fence and
rally, each read back); :meth:`FleetRun.start` lets the manager fly every sortie queue. A poller
publishes vehicle phases, drop states and alerts as events while it runs.
"""

from __future__ import annotations

import concurrent.futures
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from gcs.errors import GroundControlError
from gcs.fleet.logs import FlightLog
from gcs.fleet.manager import FleetManager
from gcs.fleet.options import FlyOptions
from gcs.fleet.prepare import prepare_vehicle
from gcs.fleet.tracking import DropStatus
from gcs.link import Link
from gcs.transfer import Target
from planner.plan_model import Plan
from planner.scenario import Scenario
from planner.terrain import Dem
from web.errors import Conflict
from web.plan_view import track_latlon

log = logging.getLogger(__name__)

#: Vehicles uploaded to at once: more share the ground station's time so thinly that a
#: simulator running many times faster than real time may give up waiting for the next item.
UPLOAD_WORKERS = 4


@dataclass(frozen=True, slots=True, kw_only=True)
class VehicleResult:
    """What one vehicle answered to a command: ``ok`` or the error."""

    sysid: int
    name: str | None
    ok: bool
    detail: str
    error: GroundControlError | None = None


class LiveRun(Protocol):
    """What the deliveries, the crew's stream and the upload's answer read of the run being
    flown, whoever flies it: this console (:class:`FleetRun`) or the workers
    (:class:`web.broker_run.BrokerRun`)."""

    plan_id: str
    plan: Plan

    @property
    def run_id(self) -> int | None:
        """The flight log's run id (None before the run is opened)."""

    @property
    def plan_path(self) -> str | None:
        """Where the console keeps the plan version flown."""

    @property
    def skipped(self) -> dict[str, str]:
        """Sorties not flown for their delivered parcels: sortie id -> why."""

    def drops(self) -> list[dict[str, Any]]:
        """Every drop of the plan with its state (and ETA where known)."""

    def vehicles(self) -> dict[int, dict[str, Any]]:
        """Plan name, phase and sortie of each assigned vehicle, by the console's id."""


def drop_json(d: DropStatus, time_scale: float, now_mono_s: float) -> dict[str, Any]:
    """A drop's state with its ETA as Unix seconds and seconds from now."""
    eta_in_s = None if d.eta_remaining_s is None else d.eta_remaining_s / time_scale
    if d.eta_at_s is not None:
        eta_in_s = max(0.0, d.eta_at_s - now_mono_s)
    return {"drop_id": d.drop_id, "sortie_id": d.sortie_id, "vehicle": d.vehicle,
            "state": str(d.state), "eta_in_s": None if eta_in_s is None else round(eta_in_s, 1),
            "eta_at": None if eta_in_s is None else round(time.time() + eta_in_s, 1),
            "lat_deg": d.planned_lat_deg, "lon_deg": d.planned_lon_deg,
            "release_error_m": None if d.release_error_m is None else
            round(d.release_error_m, 1), "reason": d.reason,
            "kind": "pickup" if d.pickup else "delivery"}


class FleetRun:
    """A plan being flown.

    Parameters
    ----------
    plan_id
        The console's id of the plan.
    plan
        Its sorties.
    scenario, dem
        Its scenario (drone types for reserves and turnarounds) and terrain.
    links
        The open vehicle links.
    options
        How to fly.
    flight_log
        Where flights are recorded.
    plan_path
        The plan's ``plan.json``.
    resend_delivered
        Fly parcels a run of this plan delivered again (see :class:`gcs.fleet.FleetManager`).
    delivered_before
        Parcels earlier versions of the plan delivered: drop id -> where; never flown again
        unless ``resend_delivered``.
    follow_speed
        Once vehicles are matched, run on their clock (their ``SIM_SPEEDUP``) rather than
        ``options.time_scale``.

    The console's own hub serves terrain on the links, so the run's does not.
    """

    def __init__(self, *, plan_id: str, plan: Plan, scenario: Scenario, dem: Dem,
                 links: list[Link], options: FlyOptions, flight_log: FlightLog,
                 plan_path: str, resend_delivered: bool = False,
                 delivered_before: Mapping[str, str] | None = None,
                 follow_speed: bool = False) -> None:
        self.plan_id = plan_id
        self.plan = plan
        self.options = options
        self.manager = FleetManager(links, plan, options=options, flight_log=flight_log,
                                    dem=dem, drone_types=scenario.drone_types,
                                    plan_path=plan_path, resend_delivered=resend_delivered,
                                    delivered_before=delivered_before, serve_terrain=False)
        self.follows_speed = follow_speed
        self.started = False
        self.finished = False

    @property
    def run_id(self) -> int | None:
        """The flight log's run id, once connected."""
        return None if self.manager.run is None else self.manager.run.id

    @property
    def plan_path(self) -> str | None:
        """Where the console keeps the plan version flown."""
        return self.manager.plan_path

    @property
    def skipped(self) -> dict[str, str]:
        """Sorties not flown for their delivered parcels: sortie id -> why."""
        return dict(self.manager.skipped)

    def upload(self, wait_s: float) -> list[VehicleResult]:
        """Assign vehicles and upload and verify each one's first sortie, all at once."""
        assignment = self.manager.connect(wait_s)
        self.follow_speed()

        def one(name: str, sysid: int) -> VehicleResult:
            mine = sorted((s for s in self.plan.sorties if s.vehicle == name
                           and self.manager.will_fly(s.id)), key=lambda s: (s.start_s, s.id))
            link = self.manager.hub.link_of(sysid)
            if not mine or link is None:
                return VehicleResult(sysid=sysid, name=name, ok=True, detail="nothing to fly")
            try:
                prepare_vehicle(link, Target(sysid=sysid), mine[0], config=self.options.config,
                                retry=self.options.retry,
                                attempts=self.options.upload_attempts)
            except GroundControlError as exc:
                return VehicleResult(sysid=sysid, name=name, ok=False, detail=str(exc), error=exc)
            s = mine[0]
            return VehicleResult(sysid=sysid, name=name, ok=True,
                                 detail=f"sortie {s.id}: mission {len(s.mission)}, fence "
                                        f"{len(s.fence)}, rally {len(s.rally)} items verified")

        workers = max(1, min(UPLOAD_WORKERS, len(assignment)))
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(one, n, s) for n, s in assignment.items()]
            return [f.result() for f in futures]

    def follow_speed(self) -> None:
        """With ``follow_speed``, take the matched vehicles' speed-up as the run's time scale
        (heartbeat, timeouts, monitoring, ETAs)."""
        if self.follows_speed and self.manager.assignment:
            scale = self.manager.follow_vehicle_speed()
            self.options = self.manager.options
            log.info("plan %s flies at %gx (the vehicles' SIM_SPEEDUP)", self.plan_id, scale)

    def start(self) -> None:
        """Fly every vehicle's sortie queue."""
        if self.started:
            raise Conflict("this plan is flying already")
        self.manager.start()
        self.started = True

    def poll(self) -> bool:
        """True once every vehicle is done (the run is then closed in the flight log)."""
        if self.started and not self.finished and self.manager.wait(0.0):
            self.finished = True
        return self.finished

    def drops(self) -> list[dict[str, Any]]:
        """Every drop of the plan with its state and ETA."""
        now = self.manager.clock()
        return [drop_json(d, self.options.time_scale, now) for d in self.manager.drops()]

    def vehicles(self) -> dict[int, dict[str, Any]]:
        """Plan name, phase and sortie of each assigned vehicle, by system id."""
        drops = self.manager.drops()
        out = {}
        for v in self.manager.vehicles():
            current = next((d for d in drops if d.sortie_id == v.sortie_id and
                            str(d.state) == "en_route"), None)
            eta = None if current is None else drop_json(current, self.options.time_scale,
                                                         self.manager.clock())["eta_in_s"]
            out[v.sysid] = {"name": v.name, "phase": str(v.phase), "sortie_id": v.sortie_id,
                            "sorties_done": v.sorties_done, "sorties_total": v.sorties_total,
                            "message": v.message, "ready": v.ready,
                            "current_drop": None if current is None else current.drop_id,
                            "eta_in_s": eta}
        return out

    def routes(self) -> dict[str, list[list[float]]]:
        """The planned track of every sortie, by sortie id, as [lat, lon] pairs."""
        return {s.id: track_latlon(s.mission) for s in self.plan.sorties}

    def stop(self) -> None:
        """Stop monitoring (vehicles in the air keep flying)."""
        self.manager.stop()
