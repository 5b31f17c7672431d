"""The fleet's state for ``dropline replan``: when each vehicle of the flown plan is ready again,
and with what battery, from its flight log and the ``--battery`` overrides.

A vehicle's latest flight of the plan tells its state. Still in the air (preparing or flying in a
run not ended): it is ready once its sortie is over, the planned duration less the time since
take-off (on the vehicle's clock, read from its ``.tlog``), and its battery is swapped (a
turnaround) unless ``--battery`` says what it will have then. Landed: it is ready now, with the
last battery reading of that flight's ``.tlog`` (or the ``--battery`` value). A vehicle that flew
nothing of the plan, with no override, starts as the planner starts every vehicle: now, on a full
battery.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from gcs.fleet.logs import FlightLog, FlightRecord, flights, runs
from gcs.tlog.reader import read_flight
from planner.errors import InputError
from planner.fleet_state import SourcedStart, VehicleStart, check_vehicle, parse_battery
from planner.plan_model import Plan
from planner.scenario import Scenario


def battery_overrides(values: Sequence[str], scenario: Scenario) -> dict[str, float]:
    """``--battery VEHICLE=PCT`` values: vehicle -> percent.

    Raises
    ------
    InputError
        Naming ``--battery``: not ``VEHICLE=PCT``, a percentage outside 0-100, or no such
        vehicle in the scenario's depots.
    """
    out: dict[str, float] = {}
    for text in values:
        name, pct = parse_battery(text)
        check_vehicle(scenario.depots, name, field="--battery")
        out[name] = pct
    return out


def latest_flights(log: FlightLog, key: str) -> dict[str, tuple[FlightRecord, bool]]:
    """Each vehicle's latest flight in the runs of the plan ``key``, and whether its run is
    still going (not ended)."""
    rows = log.engine.connect()
    try:
        found = list(rows.execute(
            sa.select(flights.c.id, runs.c.ended_at)
            .join(runs, runs.c.id == flights.c.run_id)
            .where(runs.c.plan_key == key).order_by(flights.c.id)))
    finally:
        rows.close()
    open_run = {int(r.id): r.ended_at is None for r in found}
    out: dict[str, tuple[FlightRecord, bool]] = {}
    for record in log.flights():
        if record.id in open_run:
            out[record.vehicle] = (record, open_run[record.id])
    return out


def last_battery_pct(record: FlightRecord) -> float | None:
    """The last battery reading (percent) of a flight's ``.tlog``; None without one."""
    if not record.tlog_path:
        return None
    try:
        flight = read_flight(record.tlog_path, sysid=record.sysid)
    except InputError:
        return None
    readings = [s.battery_remaining_pct for s in flight.samples
                if s.battery_remaining_pct is not None]
    return readings[-1] if readings else None


def _elapsed_s(record: FlightRecord, now_s: float) -> float:
    """Seconds of the vehicle's clock since the flight took off, at ``now_s`` (Unix s).

    From the flight's ``.tlog`` where it has armed samples: the vehicle time flown so far, and
    the wall time since the log's last message at the log's own rate of vehicle seconds per
    wall second (a simulator at a speed-up runs faster than the wall clock). Without a readable
    log, the wall time since take-off.
    """
    wall_s = 0.0 if record.takeoff_at is None else max(0.0, now_s - record.takeoff_at)
    if not record.tlog_path:
        return wall_s
    try:
        flight = read_flight(record.tlog_path, sysid=record.sysid)
    except (InputError, OSError):
        return wall_s
    armed = [s.t_s for s in flight.samples if s.armed]
    if not armed:
        return wall_s
    log_wall_s = flight.log_end_s - flight.log_start_s
    rate = ((flight.samples[-1].t_s - flight.samples[0].t_s) / log_wall_s
            if log_wall_s > 1.0 else 1.0)
    return max(0.0, armed[-1] - armed[0] + max(0.0, now_s - flight.log_end_s) * max(rate, 0.0))


def fleet_starts(plan: Plan, key: str, log: FlightLog, scenario: Scenario,
                 overrides: Mapping[str, float], now_s: float) -> dict[str, SourcedStart]:
    """The start of every vehicle the flight log or ``overrides`` say something about.

    Parameters
    ----------
    plan
        The plan flown.
    key
        Its plan key (its runs in the log).
    log
        The flight log.
    scenario
        The scenario as it is now (drone types' turnarounds).
    overrides
        ``--battery`` values by vehicle.
    now_s
        The time of the re-plan (Unix seconds), its time 0.

    Returns
    -------
    dict
        Vehicle name (as the flown plan names it) -> its start and where it comes from.
    """
    durations = {s.id: s.metrics.duration_s for s in plan.sorties}
    out: dict[str, SourcedStart] = {}
    for vehicle, (record, going) in sorted(latest_flights(log, key).items()):
        if not _known(scenario, vehicle):
            continue
        in_air = going and record.state in ("preparing", "flying")
        if in_air:
            elapsed = _elapsed_s(record, now_s)
            remaining = math.ceil(10 * max(0.0, durations.get(record.sortie_id, 0.0)
                                           - elapsed)) / 10
            pct = overrides.get(vehicle)
            if pct is None:
                out[vehicle] = SourcedStart(start=VehicleStart(
                    vehicle=vehicle, ready_s=remaining + _turnaround(scenario, vehicle)),
                    source="in the air")
            else:
                out[vehicle] = SourcedStart(start=VehicleStart(
                    vehicle=vehicle, ready_s=remaining, battery_pct=pct), source="override")
            continue
        pct = overrides.get(vehicle)
        source = "override"
        if pct is None:
            pct, source = last_battery_pct(record), "measured"
        if pct is not None:
            out[vehicle] = SourcedStart(start=VehicleStart(vehicle=vehicle, battery_pct=pct),
                                      source=source)
    for vehicle, pct in overrides.items():
        if vehicle not in out:
            out[vehicle] = SourcedStart(start=VehicleStart(vehicle=vehicle, battery_pct=pct),
                                      source="override")
    return out


def _known(scenario: Scenario, vehicle: str) -> bool:
    """Whether the scenario's depots (as they are now) have the vehicle."""
    try:
        check_vehicle(scenario.depots, vehicle, field="--flights")
    except InputError:
        return False
    return True


def _turnaround(scenario: Scenario, vehicle: str) -> float:
    """The turnaround of a vehicle's drone type (0 for a type the scenario no longer has)."""
    drone = scenario.drone_types.get(vehicle.split("/")[1]) if vehicle.count("/") == 2 else None
    return drone.turnaround_s if drone is not None else 0.0


def starts_json(found: Mapping[str, SourcedStart],
                names: Mapping[str, str]) -> list[dict[str, Any]]:
    """What ``summary.json`` records of the starts under ``replan``: each vehicle as the flown
    plan named it (``was``) and as the re-plan names it, its ready time, battery and source."""
    return [f.as_json(names[v]) for v, f in sorted(found.items()) if v in names]
