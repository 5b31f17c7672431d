"""The live fleet's state for a console re-plan: when each vehicle is ready, with what battery.

Read from the run in progress, when it flies a version of the plan: a vehicle flying or
returning is ready when its sortie is over (its planned duration less the time since take-off,
in vehicle seconds) and a turnaround later, with a fresh battery; any other vehicle of the run
is ready now with the battery its telemetry last reported. The request's ``battery`` values
(``{"depot/type/n": percent}``) replace a reading; for a vehicle in the air they give the
battery it will have when it is back (its first sortie then flies on it only if it covers it).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping

from gcs.fleet.status import Phase
from planner.errors import InputError
from planner.fleet_state import SourcedStart, VehicleStart, battery_percent, check_vehicle
from planner.scenario import Scenario
from web.deliveries import DeliveryService
from web.errors import NotFound

#: Phases of a vehicle in the air on a sortie (a run flown by workers reports the flight's
#: state, ``flying`` until it has landed).
IN_AIR = frozenset({str(Phase.FLYING), str(Phase.RETURNING)})


def battery_body(value: object, scenario: Scenario) -> dict[str, float]:
    """The request's ``battery``: vehicle -> percent.

    Raises
    ------
    InputError
        Naming ``battery``: not an object of vehicles of the scenario's depots to
        percentages from 0 to 100.
    """
    if not isinstance(value, dict) or len(value) > 10_000:
        raise InputError("Expected an object of vehicle (depot/type/n) to percent",
                         field="battery")
    out: dict[str, float] = {}
    for name, pct in value.items():
        check_vehicle(scenario.depots, name, field="battery")
        found = battery_percent(pct, field="battery")
        if found is None:
            raise InputError(f"Expected a percentage from 0 to 100 for {name[:80]!r}, got "
                             f"{str(pct)[:40]!r}", field="battery")
        out[name] = found
    return out


def live_starts(deliveries: DeliveryService, plan_id: str, scenario: Scenario,
                overrides: Mapping[str, float], *,
                clock: Callable[[], float] = time.time) -> dict[str, SourcedStart]:
    """The start of every vehicle the run in progress or ``overrides`` say something about.

    Parameters
    ----------
    deliveries
        The console's drop states (its fleet and plans).
    plan_id
        The plan re-planned.
    scenario
        Its scenario now (vehicles, drone types' turnarounds).
    overrides
        The request's battery percentages by vehicle.
    clock
        Wall clock (Unix seconds).

    Returns
    -------
    dict
        Vehicle name (as the plan names it) -> its start and source.
    """
    out: dict[str, SourcedStart] = {}
    fleet = deliveries.fleet
    run = fleet.live_run()
    if run is not None and _same_plan(deliveries, run.plan_id, plan_id):
        durations = {s.id: s.metrics.duration_s for s in run.plan.sorties}
        takeoffs = _takeoffs(deliveries, run.run_id)
        for sysid, status in run.vehicles().items():
            name, sortie_id = str(status["name"]), status.get("sortie_id")
            try:
                check_vehicle(scenario.depots, name, field="vehicles")
            except InputError:
                continue
            pct = overrides.get(name)
            if status.get("phase") in IN_AIR and sortie_id is not None:
                scale = fleet.speedups.get(sysid) or 1.0
                since = takeoffs.get((name, sortie_id))
                elapsed = 0.0 if since is None else max(0.0, clock() - since) * scale
                left = math.ceil(10 * max(0.0, durations.get(sortie_id, 0.0) - elapsed)) / 10
                if pct is None:
                    turn = scenario.drone_types[name.split("/")[1]].turnaround_s
                    out[name] = SourcedStart(start=VehicleStart(
                        vehicle=name, ready_s=left + turn), source="in the air")
                else:
                    out[name] = SourcedStart(start=VehicleStart(
                        vehicle=name, ready_s=left, battery_pct=pct), source="override")
                continue
            snap = fleet.hub.snapshot(sysid)
            measured = None if snap is None else battery_percent(snap.battery_pct,
                                                                 field="battery")
            if pct is not None or measured is not None:
                out[name] = SourcedStart(
                    start=VehicleStart(vehicle=name,
                                       battery_pct=pct if pct is not None else measured),
                    source="override" if pct is not None else "measured")
    for name, pct in overrides.items():
        if name not in out:
            out[name] = SourcedStart(start=VehicleStart(vehicle=name, battery_pct=pct),
                                  source="override")
    return out


def _same_plan(deliveries: DeliveryService, run_plan_id: str, plan_id: str) -> bool:
    try:
        return deliveries.plans.get(run_plan_id).id == deliveries.plans.get(plan_id).id
    except NotFound:
        return False


def _takeoffs(deliveries: DeliveryService, run_id: int | None) -> dict[tuple[str, str], float]:
    """When each (vehicle, sortie) of the run took off (Unix seconds)."""
    if run_id is None:
        return {}
    return {(f.vehicle, f.sortie_id): f.takeoff_at
            for f in deliveries.fleet.flight_log.flights(run_id) if f.takeoff_at is not None}
