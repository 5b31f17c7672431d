"""Helpers for ground-control and fleet tests: planned tutorial and district cases, simulated
fleets (plain, or at a plan's depot) with their fixtures, and a recorder of where each simulated
vehicle really let go of its parcels."""

from __future__ import annotations

import dataclasses
import functools
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from gcs.link import Link
from planner.io.dem import load_dem
from planner.io.scenario import load_scenario
from planner.pipeline import make_plan
from planner.plan_model import Plan
from planner.scenario import Scenario
from planner.terrain import Dem
from tests.helpers.ports import free_base_port
from tests.helpers.shared_data import DISTRICT, TUTORIAL
from tests.sitl.helpers import TRACE_HOME

#: Where the recorded ArduPilot traces were flown (lat, lon, alt AMSL).
HOME = TRACE_HOME
#: Simulated seconds per wall second in fleet tests: the vehicle times out an upload after 8 s of
#: its own time, so the ground station must answer within 8/SPEEDUP s of wall time on a loaded CI
#: machine.
SPEEDUP = 25.0


@dataclasses.dataclass(frozen=True)
class FleetCase:
    """A scenario, its DEM and its plan."""

    scenario: Scenario
    dem: Dem
    plan: Plan


@functools.cache
def tutorial_case(drones: int = 3) -> FleetCase:
    """The tutorial scenario with ``drones`` heavy octocopters at its hub, planned."""
    scenario = load_scenario(TUTORIAL)
    depot = scenario.depots[0]
    depot = dataclasses.replace(depot, drones={k: drones for k in depot.drones})
    scenario = dataclasses.replace(scenario, depots=(depot,))
    dem = load_dem(scenario.terrain.dem_paths)
    return FleetCase(scenario=scenario, dem=dem, plan=make_plan(scenario, dem).plan)


@functools.cache
def district_case(drones: int = 3, hub: str = "littleton") -> FleetCase:
    """The district scenario flown from one hub by ``drones`` heavy octocopters, planned.

    A simulated fleet stands at one home, so the plan keeps one hub; every district drop that hub
    can reach is in it, the others are unserved with their reason.
    """
    scenario = load_scenario(DISTRICT)
    depot = next(d for d in scenario.depots if d.id == hub)
    depot = dataclasses.replace(depot, drones={"heavy_octo": drones})
    scenario = dataclasses.replace(scenario, depots=(depot,))
    dem = load_dem(scenario.terrain.dem_paths)
    return FleetCase(scenario=scenario, dem=dem, plan=make_plan(scenario, dem).plan)


@functools.cache
def two_hub_case(hubs: tuple[str, str] = ("littleton", "lancaster")) -> FleetCase:
    """The district flown from two hubs by one heavy octocopter each: the first sortie of each."""
    scenario = load_scenario(DISTRICT)
    depots = tuple(dataclasses.replace(d, drones={"heavy_octo": 1})
                   for d in scenario.depots if d.id in hubs)
    scenario = dataclasses.replace(scenario, depots=depots)
    dem = load_dem(scenario.terrain.dem_paths)
    plan = make_plan(scenario, dem).plan
    firsts = {s.vehicle: s for s in reversed(plan.sorties)}
    return FleetCase(scenario=scenario, dem=dem,
                     plan=dataclasses.replace(plan, sorties=tuple(firsts.values())))


def one_sortie(case: FleetCase, drops: int = 1) -> Plan:
    """A plan holding one sortie with ``drops`` drops: from the case's plan, or planned anew
    for the first drops of its fullest sortie when no sortie has that many."""
    found = next((s for s in case.plan.sorties if len(s.drop_ids) == drops), None)
    if found is not None:
        return dataclasses.replace(case.plan, sorties=(found,))
    keep = set(max(case.plan.sorties, key=lambda s: len(s.drop_ids)).drop_ids[:drops])
    scenario = dataclasses.replace(case.scenario, drops=tuple(
        d for d in case.scenario.drops if d.id in keep))
    plan = make_plan(scenario, case.dem).plan
    return dataclasses.replace(plan, sorties=plan.sorties[:1])


def start_fleet(case: FleetCase, vehicles: int, *, speedup: float = SPEEDUP,
                **kwargs: Any) -> Any:
    """A started built-in fleet standing at the plan's first depot, flying as its drone type."""
    from sitl.builtin import BuiltinFleet

    home = case.plan.sorties[0].mission[0]
    drone = case.scenario.drone_types[case.plan.sorties[0].drone_type_id]
    kwargs.setdefault("settle_s", 2.0)
    fleet = BuiltinFleet(vehicles=vehicles, home=(home.lat_deg, home.lon_deg, home.alt_m),
                         speedup=speedup, base_port=free_base_port(vehicles), dem=case.dem,
                         drone_type=drone, wind=case.scenario.wind, **kwargs)
    fleet.start()
    return fleet


@pytest.fixture
def sim() -> Iterator[Callable[..., Any]]:
    """Factory ``sim(vehicles=1, **kwargs)``: a started built-in fleet, stopped after the test."""
    from sitl.builtin import BuiltinFleet

    fleets: list[Any] = []

    def make(vehicles: int = 1, **kwargs: Any) -> Any:
        kwargs.setdefault("home", HOME)
        kwargs.setdefault("speedup", 20.0)
        kwargs.setdefault("settle_s", 2.0)
        kwargs.setdefault("base_port", free_base_port(vehicles))
        fleet = BuiltinFleet(vehicles=vehicles, **kwargs)
        fleets.append(fleet)
        fleet.start()
        return fleet

    yield make
    for fleet in fleets:
        fleet.stop()


@pytest.fixture
def fleet_sim() -> Iterator[Any]:
    """Factory ``fleet_sim(case, vehicles, **kw)``: started built-in fleets, stopped after."""
    fleets: list[Any] = []

    def make(case: FleetCase, vehicles: int, **kwargs: Any) -> Any:
        fleet = start_fleet(case, vehicles, **kwargs)
        fleets.append(fleet)
        return fleet

    yield make
    for fleet in fleets:
        fleet.stop()


@pytest.fixture
def open_links() -> Iterator[Any]:
    """Factory ``open_links(urls)``: open links, closed after the test."""
    links: list[Link] = []

    def make(urls: list[str]) -> list[Link]:
        out = [Link(u).open() for u in urls]
        links.extend(out)
        return out

    yield make
    for link in links:
        link.close()


class ReleaseRecorder:
    """Polls simulated vehicles' true state: their modes, and where each release happened."""

    def __init__(self, fleet: Any, vehicles: int, period_s: float = 0.01) -> None:
        self.fleet = fleet
        self.vehicles = vehicles
        self.period_s = period_s
        self.releases: dict[int, list[tuple[float, float, float]]] = {
            i + 1: [] for i in range(vehicles)}
        self.modes: dict[int, set[str]] = {i + 1: set() for i in range(vehicles)}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ReleaseRecorder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2.0)

    def _run(self) -> None:
        counts = [0] * self.vehicles
        while not self._stop.is_set():
            for i in range(self.vehicles):
                snap = self.fleet.vehicle(i).snapshot()
                self.modes[i + 1].add(snap.mode)
                while counts[i] < len(snap.release_positions):
                    # the simulator notes the true position at the instant of each release
                    self.releases[i + 1].append(snap.release_positions[counts[i]])
                    counts[i] += 1
            time.sleep(self.period_s)


def make_snapshot(**changes: Any) -> Any:
    """A healthy, disarmed vehicle snapshot at the tutorial hub, with ``changes`` applied."""
    from gcs.snapshot import VehicleSnapshot

    values: dict[str, Any] = dict(
        sysid=1, link_url="test", time_s=0.0, received_s=0.0, position_age_s=0.1,
        boot_time_s=100.0, lat_deg=44.061813, lon_deg=-71.136854, alt_amsl_m=176.7,
        alt_rel_m=0.0, alt_agl_m=0.0, groundspeed_m_s=0.0, climb_m_s=0.0, heading_deg=0.0,
        battery_pct=100, battery_consumed_mah=0.0, battery_voltage_v=12.6,
        battery_current_a=0.0, mode="GUIDED", armed=False, system_status=3, mission_seq=0,
        mission_total=10, mission_state=2, last_reached_seq=None, gps_fix_type=6,
        satellites=10, ekf_flags=0x33F, ekf_ok=True, prearm_ok=True, home_lat_deg=44.061813,
        home_lon_deg=-71.136854, home_alt_amsl_m=176.7, fence_breached=False,
        fence_breach_count=0, last_text=None, heartbeat_age_s=0.2, loss_rate=0.0)
    values.update(changes)
    return VehicleSnapshot(**values)
