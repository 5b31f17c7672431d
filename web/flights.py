"""Recorded flights (the flight log) and their replay: the flown track from the flight's
``.tlog`` (:mod:`gcs.tlog_read`), the planned route and the plan against flown figures
(:mod:`planner.flown`)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from gcs import logs
from gcs.logs import FlightLog, FlightRecord
from gcs.tlog_read import read_flight
from planner.errors import InputError
from planner.flown import compare_flight
from planner.io.planfile import read_plan_json
from planner.plan_model import Sortie
from planner.scenario import Scenario
from planner.terrain import Dem
from web.errors import NotFound
from web.plan_view import track_latlon
from web.planning import PlanService

#: Replays kept in memory (reading a long .tlog takes seconds).
CACHED_REPLAYS = 16


def flight_json(f: FlightRecord) -> dict[str, Any]:
    """One flight row for the flights table."""
    return {"id": f.id, "run_id": f.run_id, "sortie_id": f.sortie_id, "vehicle": f.vehicle,
            "sysid": f.sysid, "state": f.state, "started_at": f.started_at,
            "takeoff_at": f.takeoff_at, "ended_at": f.ended_at, "reason": f.reason,
            "has_log": f.tlog_path is not None and Path(f.tlog_path).is_file()}


class FlightService:
    """Flights of the console's flight log.

    Parameters
    ----------
    flight_log
        The flight log the fleet writes.
    plans
        The console's plans (scenario and terrain of console-made plans).
    """

    def __init__(self, flight_log: FlightLog, plans: PlanService) -> None:
        self.log = flight_log
        self.plans = plans
        self._lock = threading.Lock()
        self._cache: dict[tuple[int, str, int], dict[str, Any]] = {}

    def all(self) -> list[dict[str, Any]]:
        """Every flight, newest first."""
        return [flight_json(f) for f in reversed(self.log.flights())]

    def get(self, flight_id: int) -> FlightRecord:
        """The flight with this id."""
        found = [f for f in self.log.flights() if f.id == flight_id]
        if not found:
            raise NotFound(f"no flight {flight_id}")
        return found[0]

    def _plan_path(self, run_id: int) -> Path | None:
        with self.log.engine.connect() as conn:
            row = conn.execute(sa.select(logs.runs.c.plan_path)
                               .where(logs.runs.c.id == run_id)).first()
        return None if row is None or row.plan_path is None else Path(row.plan_path)

    def replay(self, flight_id: int) -> dict[str, Any]:
        """The flown samples, the planned route and the figures of one flight."""
        flight = self.get(flight_id)
        if flight.tlog_path is None or not Path(flight.tlog_path).is_file():
            raise NotFound(f"flight {flight_id} has no recorded log")
        key = (flight.id, flight.state, Path(flight.tlog_path).stat().st_size)
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        out = self._replay(flight)
        with self._lock:
            self._cache = {k: v for k, v in self._cache.items() if k[0] != flight.id}
            if len(self._cache) >= CACHED_REPLAYS:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = out
        return out

    def _replay(self, flight: FlightRecord) -> dict[str, Any]:
        assert flight.tlog_path is not None
        try:
            flown = read_flight(flight.tlog_path, sysid=flight.sysid)
        except InputError as exc:
            raise NotFound(f"flight {flight.id}: {exc}") from None
        sortie, scenario, dem = self._planned(flight)
        figures = None
        if sortie is not None:
            figures = compare_flight(
                flown.samples, flown.releases, mission=sortie, dem=dem,
                zones=() if scenario is None else scenario.nofly,
                reached=[seq for _, seq in flown.reached]).as_dict()
        armed = [s for s in flown.samples if s.armed]
        t0 = armed[0].t_s if armed else (flown.samples[0].t_s if flown.samples else 0.0)
        return {
            "flight": flight_json(flight),
            "samples": [{"t_s": round(s.t_s - t0, 2), "lat_deg": s.lat_deg,
                         "lon_deg": s.lon_deg, "alt_amsl_m": round(s.alt_amsl_m, 1),
                         "battery_pct": s.battery_remaining_pct, "mode": s.mode,
                         "groundspeed_m_s": round(s.ground_speed_m_s, 1),
                         "mission_seq": s.mission_seq}
                        for s in (armed or flown.samples)],
            "planned_route": [] if sortie is None else track_latlon(sortie.mission),
            "figures": None if figures is None else _rounded(figures),
        }

    def _planned(self, flight: FlightRecord) -> tuple[Sortie | None, Scenario | None,
                                                      Dem | None]:
        """The flight's planned sortie, and the scenario and DEM of a console plan."""
        plan_path = self._plan_path(flight.run_id)
        if plan_path is None or not plan_path.is_file():
            return None, None, None
        try:
            plan = read_plan_json(plan_path)
        except InputError:
            return None, None, None
        sortie = next((s for s in plan.sorties if s.id == flight.sortie_id), None)
        try:
            scenario, dem = self.plans.scenario(plan_path.parent.parent.name)
        except (InputError, NotFound):
            return sortie, None, None
        return sortie, scenario, dem


def _rounded(figures: dict[str, Any]) -> dict[str, Any]:
    """Figures with floats to 0.1 (drop errors and incursions too)."""
    def r(value: Any) -> Any:
        if isinstance(value, float):
            return round(value, 1)
        if isinstance(value, dict):
            return {k: r(v) for k, v in value.items()}
        if isinstance(value, list):
            return [r(v) for v in value]
        return value
    return {k: r(v) for k, v in figures.items()}
