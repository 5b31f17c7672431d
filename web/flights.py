"""Recorded flights (the flight log) and their replay: the flown track from the flight's
``.tlog`` (:mod:`gcs.tlog.reader`), the planned route and the plan against flown figures
(:mod:`planner.flown.figures`).

Each replay sample carries its altitude AMSL, above home (``alt_rel_m``: home from the plan's
item 0, else the log's HOME_POSITION, else the first armed sample) and, when the flight's plan
has a DEM, above the ground under it (``alt_agl_m``, else None); ``alt_reference`` says which
of the two the page shows ("dem" or "home")."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

from gcs.fleet import logs
from gcs.fleet.logs import FlightLog, FlightRecord
from gcs.tlog.reader import TlogFlight, read_flight
from planner.cost import cost_summary, flown_cost
from planner.errors import InputError
from planner.flown.figures import FlownFigures, FlownSample, compare_flight
from planner.io.costs import load_costs
from planner.io.planfile import read_plan_json
from planner.plan_model import Plan, Sortie
from planner.scenario import Scenario
from planner.terrain import Dem
from web.errors import NotFound
from web.plan_view import track_latlon
from web.planning import PlanService

#: Replays kept in memory (reading a long .tlog takes seconds).
CACHED_REPLAYS = 16


def flight_json(f: FlightRecord, plan_name: str | None = None) -> dict[str, Any]:
    """One flight row for the flights table; ``duration_s`` runs from take-off to the end
    (None until both are known)."""
    duration = None if f.takeoff_at is None or f.ended_at is None \
        else round(max(0.0, f.ended_at - f.takeoff_at), 1)
    return {"id": f.id, "run_id": f.run_id, "sortie_id": f.sortie_id, "vehicle": f.vehicle,
            "sysid": f.sysid, "state": f.state, "started_at": f.started_at,
            "takeoff_at": f.takeoff_at, "ended_at": f.ended_at, "reason": f.reason,
            "plan": plan_name, "duration_s": duration,
            "has_log": f.tlog_path is not None and Path(f.tlog_path).is_file()}


def samples_json(samples: Sequence[FlownSample], *, t0_s: float, home_amsl_m: float | None,
                 dem: Dem | None) -> list[dict[str, Any]]:
    """Replay samples: time from ``t0_s``, position, altitudes AMSL, above home and (with a
    DEM) above the ground, battery, mode, speed and mission item."""
    lon = np.array([s.lon_deg for s in samples], dtype=float)
    lat = np.array([s.lat_deg for s in samples], dtype=float)
    ground = (np.full(lon.shape, np.nan) if dem is None or not samples
              else np.asarray(dem.elevation_amsl_m(lon, lat), dtype=float))
    out = []
    for s, g in zip(samples, ground, strict=True):
        agl = s.alt_amsl_m - float(g) if np.isfinite(g) else None
        out.append({"t_s": round(s.t_s - t0_s, 2), "lat_deg": s.lat_deg, "lon_deg": s.lon_deg,
                    "alt_amsl_m": round(s.alt_amsl_m, 1),
                    "alt_rel_m": None if home_amsl_m is None
                    else round(s.alt_amsl_m - home_amsl_m, 1),
                    "alt_agl_m": None if agl is None else round(agl, 1),
                    "battery_pct": s.battery_remaining_pct, "mode": s.mode,
                    "groundspeed_m_s": round(s.ground_speed_m_s, 1),
                    "mission_seq": s.mission_seq})
    return out


def _home_amsl_m(sortie: Sortie | None, flown: TlogFlight,
                 samples: Sequence[FlownSample]) -> float | None:
    if sortie is not None and sortie.mission:
        return sortie.mission[0].alt_m
    if flown.home is not None:
        return flown.home[2]
    return samples[0].alt_amsl_m if samples else None


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
        """Every flight, newest first (by take-off, else by when it was prepared), with the
        name of the plan it flew."""
        with self.log.engine.connect() as conn:
            names: dict[int, str] = {
                row.id: row.plan_name
                for row in conn.execute(sa.select(logs.runs.c.id, logs.runs.c.plan_name))}
        newest = sorted(self.log.flights(), key=lambda f: (f.takeoff_at or f.started_at, f.id),
                        reverse=True)
        return [flight_json(f, names.get(f.run_id)) for f in newest]

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

    def _measured(self, flight: FlightRecord) -> tuple[
            TlogFlight, Sortie | None, Scenario | None, Dem | None, FlownFigures | None]:
        """The flight's log, its planned sortie, scenario and DEM, and the figures measured
        against the sortie (None without one).

        Raises
        ------
        NotFound
            The flight's ``.tlog`` cannot be read.
        """
        assert flight.tlog_path is not None
        try:
            flown = read_flight(flight.tlog_path, sysid=flight.sysid)
        except InputError as exc:
            raise NotFound(f"flight {flight.id}: {exc}") from None
        sortie, scenario, dem = self._planned(flight)
        measured = None if sortie is None else compare_flight(
            flown.samples, flown.releases, mission=sortie, grabs=flown.grabs, dem=dem,
            zones=() if scenario is None else scenario.nofly,
            reached=[seq for _, seq in flown.reached])
        return flown, sortie, scenario, dem, measured

    def day_cost(self, day: date) -> dict[str, Any]:
        """The cost of what was flown on one day (UTC, by take-off): each run's flights priced
        as flown (:func:`planner.cost.flown_cost`), and the day's totals.

        Flights without a readable log or a known plan are counted in ``unpriced``.
        """
        start = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
        flights = [f for f in self.log.flights()
                   if start <= (f.takeoff_at or f.started_at) < start + 86400.0]
        runs: dict[int, dict[str, FlownFigures]] = {}
        scenarios: dict[int, Scenario] = {}
        unpriced = 0
        for flight in flights:
            if flight.tlog_path is None or not Path(flight.tlog_path).is_file():
                unpriced += 1
                continue
            try:
                _flown, sortie, scenario, _dem, measured = self._measured(flight)
            except NotFound:
                unpriced += 1
                continue
            if sortie is None or scenario is None or measured is None:
                unpriced += 1
                continue
            runs.setdefault(flight.run_id, {})[sortie.id] = measured
            scenarios[flight.run_id] = scenario
        out_runs: list[dict[str, Any]] = []
        for run_id, measured_by_sortie in sorted(runs.items()):
            plan_path = self._plan_path(run_id)
            assert plan_path is not None
            plan = read_plan_json(plan_path)
            scenario = scenarios[run_id]
            cost = cost_summary(flown_cost(plan, scenario, measured_by_sortie,
                                           load_costs(scenario.root)))
            out_runs.append({"run_id": run_id, "plan": plan.scenario,
                             "flights": len(measured_by_sortie), "cost": cost})
        return {"day": day.isoformat(), "runs": out_runs, "unpriced_flights": unpriced,
                "total": day_totals([dict(r["cost"]) for r in out_runs])}

    def _replay(self, flight: FlightRecord) -> dict[str, Any]:
        flown, sortie, scenario, dem, measured = self._measured(flight)
        figures = cost = None
        if sortie is not None and measured is not None:
            figures = measured.as_dict()
            if scenario is not None:
                one = Plan(scenario=scenario.name, altitude_frame="relative", sorties=(sortie,),
                           unserved=())
                cost = cost_summary(flown_cost(one, scenario, {sortie.id: measured},
                                               load_costs(scenario.root)))
        armed = [s for s in flown.samples if s.armed]
        shown = armed or list(flown.samples)
        t0 = shown[0].t_s if shown else 0.0
        return {
            "flight": flight_json(flight),
            "alt_reference": "home" if dem is None else "dem",
            "samples": samples_json(shown, t0_s=t0, dem=dem,
                                    home_amsl_m=_home_amsl_m(sortie, flown, shown)),
            "planned_route": [] if sortie is None else track_latlon(sortie.mission),
            "figures": None if figures is None else _rounded(figures),
            "cost": cost,
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
            scenario, dem = self.plans.scenario_at(plan_path)
        except (InputError, NotFound):
            return sortie, None, None
        return sortie, scenario, dem


#: Figures of a cost report that add up over a day.
DAY_SUMS = ("energy_kwh", "energy_yuan", "battery_wear_yuan", "flight_h", "depreciation_yuan",
            "crew_yuan", "cost_yuan", "parcels", "payload_kg", "distance_km", "road_yuan",
            "saving_yuan")


def day_totals(costs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The sums of several cost reports, with the day's cost per parcel, drone-km and kg.

    Examples
    --------
    >>> day_totals([{k: 1.0 for k in DAY_SUMS}, {k: 1.0 for k in DAY_SUMS}])["cost_per_parcel_yuan"]
    1.0
    """
    total: dict[str, Any] = {k: round(sum(float(c.get(k) or 0.0) for c in costs), 4)
                             for k in DAY_SUMS}
    total["parcels"] = int(total["parcels"])
    for name, by in (("cost_per_parcel_yuan", "parcels"), ("cost_per_drone_km_yuan",
                                                           "distance_km"),
                     ("cost_per_kg_yuan", "payload_kg")):
        total[name] = round(total["cost_yuan"] / total[by], 2) if total[by] else None
    total["currency"] = "yuan"
    return total


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
