"""Between sorties a crew swaps the battery; a simulator's pack is never changed, so by default
the ground station resets its battery count after the turnaround (on simulators only)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from gcs.fleet.logs import FlightLog
from gcs.fleet.manager import FleetManager
from gcs.fleet.options import FlyOptions
from gcs.link import Link
from gcs.tlog.reader import read_flight
from tests.gcs import helpers
from tests.gcs.helpers import SPEEDUP, tutorial_case

pytestmark = [pytest.mark.sitl, pytest.mark.slow]
fleet_sim = helpers.fleet_sim


def test_a_simulator_starts_each_sortie_on_a_full_battery(fleet_sim: Any,
                                                          tmp_path: Path) -> None:
    """Two sorties of one vehicle with the default options (no ``reset_battery`` given) on a
    simulator whose pack is never swapped: the second takes off as full as the first, after
    the first used a share of it."""
    case = tutorial_case(1)
    plan = dataclasses.replace(case.plan, sorties=case.plan.sorties[:2])
    fleet = fleet_sim(case, 1)  # no depot battery swap in the simulator
    links = [Link(u, heartbeat_period_s=1.0 / SPEEDUP).open() for u in fleet.connection_strings]
    manager = FleetManager(links, plan, options=FlyOptions(time_scale=SPEEDUP, turnaround_s=5.0),
                           flight_log=FlightLog(tmp_path / "fly.db"), dem=case.dem,
                           drone_types=case.scenario.drone_types)
    try:
        manager.connect(10.0)
        manager.start()
        assert manager.wait(600.0), [v.phase for v in manager.vehicles()]
    finally:
        manager.stop()
        for link in links:
            link.close()
    assert manager.all_delivered, [(d.drop_id, d.state, d.reason) for d in manager.drops()]
    assert manager.flight_log is not None and manager.run is not None
    flights = sorted(manager.flight_log.flights(manager.run.id), key=lambda f: f.id)
    charge = []
    for flight in flights:
        assert flight.tlog_path is not None
        pcts = [s.battery_remaining_pct for s in read_flight(flight.tlog_path).samples
                if s.battery_remaining_pct is not None]
        charge.append((pcts[0], pcts[-1]))
    (start_1, end_1), (start_2, _) = charge
    assert end_1 < start_1 - 5, charge  # the first sortie used the pack
    assert start_2 >= start_1 - 1, charge  # and the second started on a full one
