"""Deliveries flown by real ArduCopter SITL: what dropline exists for, on the real program.

``dropline fly`` (the command, as a subprocess) flies plans over the valleys and ridges around
the Littleton hub (``tests/data/scenarios/valleys_ridges``) on real SITL quads at speed-up 10,
without ``--speedup`` (the ground station reads SIM_SPEEDUP) and with the scenario given (the
ground station serves terrain from its DEM). Then a tight-battery sortie the ground station
brings home before the plan's reserve is broken, and a sortie whose fence the vehicle breaches.
Instances 40-47 keep clear of other tests' SITL ports (TCP 5760 + 10 I).
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from gcs.geo import distance_m
from gcs.tlog.reader import TlogFlight, read_flight
from planner.io.dem import load_dem
from planner.io.planfile import read_plan_json
from planner.io.scenario import load_scenario
from planner.plan_model import Sortie
from sitl.ardupilot.health import port_listening
from sitl.ardupilot.params import instance_parameters, write_param_file
from tests.helpers.shared_data import DISTRICT_HGT, REPO
from tests.helpers.waiting import poll
from tests.sitl.ardupilot.helpers import ARDUCOPTER, dropline_command

COPTER_PARM = ARDUCOPTER.parent / "copter.parm"
SCENARIO = REPO / "tests" / "data" / "scenarios" / "valleys_ridges"
DEM_FILE = DISTRICT_HGT
SPEEDUP = 10
#: How far from its drop a parcel may be released, and from the depot a vehicle may land (m).
RELEASE_TOLERANCE_M = 10.0
LANDED_TOLERANCE_M = 5.0
#: Wall seconds a whole fly run may take (the slowest sortie is 12 simulated minutes).
FLY_TIMEOUT_S = 420.0

pytestmark = [
    pytest.mark.sitl, pytest.mark.slow,
    pytest.mark.skipif(not ARDUCOPTER.is_file(),
                       reason=f"real ArduCopter SITL not found at {ARDUCOPTER} (set "
                              f"ARDUPILOT_SITL_BIN or DROPLINE_SHARED)"),
]


# -- running real SITL and `dropline fly` ----------------------------------------------------

class Vehicles:
    """Real SITL instances (``-I instance``, sysid 1..N) started in ``folder``; killed on close.

    Every instance gets ArduPilot's ``copter.parm`` and then dropline's defaults (gripper,
    battery and speeds of ``drone_type``, plus ``params``), with home at the Littleton hub at
    the DEM's altitude, as ``dropline sitl start --scenario`` starts them.
    """

    def __init__(self, folder: Path, instances: Sequence[int], *, drone_type_id: str,
                 params: dict[str, float] | None = None) -> None:
        scenario = load_scenario(SCENARIO)
        depot = scenario.depots[0]
        dem = load_dem([DEM_FILE])
        home_alt = float(dem.elevation_amsl_m(depot.lon_deg, depot.lat_deg))
        drone_type = scenario.drone_types[drone_type_id]
        self.ports = [5760 + 10 * i for i in instances]
        self.procs: list[subprocess.Popen[bytes]] = []
        for sysid, instance in enumerate(instances, start=1):
            work = folder / f"instance{instance}"
            work.mkdir(parents=True)
            shutil.copyfile(COPTER_PARM, work / "copter.parm")
            write_param_file(work / "dropline.parm", instance_parameters(
                sysid=sysid, drone_type=drone_type, params=params))
            with (work / "sitl.log").open("wb") as log:
                self.procs.append(subprocess.Popen(
                    [str(ARDUCOPTER), "-I", str(instance), "--model", "+",
                     "--speedup", str(SPEEDUP), "--sysid", str(sysid),
                     "--home", f"{depot.lat_deg},{depot.lon_deg},{home_alt:.2f},0",
                     "--defaults", "copter.parm,dropline.parm", "--wipe"],
                    cwd=work, stdout=log, stderr=subprocess.STDOUT))

    def wait_listening(self) -> None:
        assert poll(lambda: all(port_listening("127.0.0.1", p) for p in self.ports), 30.0), \
            f"SITL never listened on {self.ports}"

    @property
    def connects(self) -> list[str]:
        out: list[str] = []
        for port in self.ports:
            out += ["--connect", f"tcp:127.0.0.1:{port}"]
        return out

    def close(self) -> None:
        for proc in self.procs:
            proc.kill()
        for proc in self.procs:
            proc.wait(timeout=10)


@dataclass
class FlyRun:
    """One finished ``dropline fly``: exit code, output, wall time and where it logged."""

    plan_dir: Path
    folder: Path
    code: int
    output: str
    wall_s: float

    @property
    def sorties(self) -> tuple[Sortie, ...]:
        return read_plan_json(self.plan_dir / "plan.json").sorties

    def flight(self, sortie_id: str) -> TlogFlight:
        """The vehicle's flight of ``sortie_id`` read from its ``.tlog``."""
        logs = sorted((self.folder / "tlogs").glob(f"*-{sortie_id}-sys*.tlog"))
        assert logs, f"no .tlog of {sortie_id} in {self.folder / 'tlogs'}:\n{self.output}"
        return read_flight(logs[-1])


class Flying:
    """``dropline fly PLAN`` running in the background against ``vehicles``."""

    def __init__(self, plan_dir: Path, folder: Path, vehicles: Vehicles,
                 scenario: Path = SCENARIO) -> None:
        self.plan_dir, self.folder, self.vehicles = plan_dir, folder, vehicles
        vehicles.wait_listening()
        self.out = (folder / "fly.out").open("wb")
        self.started = time.monotonic()
        # no --speedup: the ground station reads the vehicles' SIM_SPEEDUP
        self.proc = subprocess.Popen(
            dropline_command("fly", str(plan_dir), *vehicles.connects, "--scenario", str(scenario),
                      "--db", str(folder / "fly.db"), "--wait", "30", "--no-progress",
                      "--timeout", str(FLY_TIMEOUT_S)),
            stdout=self.out, stderr=subprocess.STDOUT)

    def finish(self) -> FlyRun:
        try:
            code = self.proc.wait(timeout=FLY_TIMEOUT_S + 60.0)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        wall = time.monotonic() - self.started
        self.out.close()
        output = (self.folder / "fly.out").read_text(errors="replace")
        return FlyRun(plan_dir=self.plan_dir, folder=self.folder, code=code, output=output,
                      wall_s=wall)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if not self.out.closed:
            self.out.close()


def _plan(out: Path, scenario: Path = SCENARIO, *extra: str) -> Path:
    done = subprocess.run(dropline_command("plan", str(scenario), "-o", str(out), *extra),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def _fly_all(jobs: Sequence[tuple[Path, Path, Sequence[int], dict[str, float] | None]],
             scenario: Path = SCENARIO) -> list[FlyRun]:
    """Fly every (plan, folder, instances, params) at once, each on its own SITL vehicles."""
    vehicles: list[Vehicles] = []
    flying: list[Flying] = []
    try:
        for _, folder, instances, params in jobs:
            folder.mkdir(parents=True, exist_ok=True)
            vehicles.append(Vehicles(folder / "sitl", instances, drone_type_id="sitl_quad",
                                     params=params))
        for (plan_dir, folder, _, _), v in zip(jobs, vehicles, strict=True):
            flying.append(Flying(plan_dir, folder, v, scenario))
        return [f.finish() for f in flying]
    finally:
        for f in flying:
            f.kill()
        for v in vehicles:
            v.close()


# -- what a delivery flight must show -------------------------------------------------------

_FAILSAFE_WORDS = ("failsafe", "fence breach", "breached")


def _failsafe_texts(flight: TlogFlight) -> list[str]:
    return [t for _, t in flight.texts if any(w in t.lower() for w in _FAILSAFE_WORDS)]


def _drop_positions() -> dict[str, tuple[float, float]]:
    return {d.id: (d.lat_deg, d.lon_deg) for d in load_scenario(SCENARIO).drops}


def _depot() -> tuple[float, float]:
    depot = load_scenario(SCENARIO).depots[0]
    return depot.lat_deg, depot.lon_deg


def _landed_at_depot_m(flight: TlogFlight) -> float:
    last = flight.samples[-1]
    assert not last.armed, f"{flight.path.name}: still armed at the end of the log"
    return distance_m(*_depot(), last.lat_deg, last.lon_deg)


def _check_delivered(run: FlyRun) -> list[str]:
    """Assert every parcel of ``run`` was released within tolerance, no failsafe, landed home;
    return one line of figures per sortie."""
    assert run.code == 0, run.output
    drops = _drop_positions()
    total = sum(len(s.drop_ids) for s in run.sorties)
    assert f"drops: {total}/{total} delivered" in run.output, run.output
    assert "SIM_SPEEDUP" in run.output, run.output  # the speed-up was read, not given
    lines = []
    for sortie in run.sorties:
        flight = run.flight(sortie.id)
        assert len(flight.releases) == len(sortie.drop_ids), \
            f"{sortie.id}: {len(flight.releases)} releases for {sortie.drop_ids}"
        errors = {}
        for drop_id in sortie.drop_ids:
            errors[drop_id] = min(distance_m(*drops[drop_id], r.lat_deg, r.lon_deg)
                                  for r in flight.releases)
        assert max(errors.values()) <= RELEASE_TOLERANCE_M, f"{sortie.id}: {errors}"
        assert not _failsafe_texts(flight), _failsafe_texts(flight)
        home_m = _landed_at_depot_m(flight)
        assert home_m <= LANDED_TOLERANCE_M, f"{sortie.id} landed {home_m:.1f} m from the depot"
        flown_s = flight.samples[-1].t_s - flight.samples[0].t_s
        lines.append(f"{sortie.id}: releases "
                     + ", ".join(f"{k} {v:.1f} m" for k, v in errors.items())
                     + f"; {flown_s:.0f} s logged; landed {home_m:.1f} m from the depot")
    return lines


# -- tests -------------------------------------------------------------------------------------

def test_scenario_has_drops_in_valleys_and_on_ridges() -> None:
    """Per the DEM, V drops lie 50+ m below the hub and R drops 90+ m above it."""
    dem = load_dem([DEM_FILE])
    hub = float(dem.elevation_amsl_m(_depot()[1], _depot()[0]))
    for drop_id, (lat, lon) in _drop_positions().items():
        ground = float(dem.elevation_amsl_m(lon, lat))
        if drop_id.startswith("V"):
            assert ground < hub - 50, (drop_id, ground, hub)
        else:
            assert ground > hub + 90, (drop_id, ground, hub)


@pytest.fixture(scope="module")
def deliveries(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, FlyRun]]:
    """The scenario planned with relative and with terrain altitudes, both flown at once on two
    vehicles each (instances 40-43)."""
    root = tmp_path_factory.mktemp("ardupilot-delivery")
    relative = _plan(root / "plan-relative")
    terrain = _plan(root / "plan-terrain", SCENARIO, "--frame", "terrain")
    runs = _fly_all([(relative, root / "fly-relative", (40, 41), None),
                     (terrain, root / "fly-terrain", (42, 43), None)])
    yield {"relative": runs[0], "terrain": runs[1]}


def test_fly_delivers_over_valleys_and_ridges(deliveries: dict[str, FlyRun]) -> None:
    """Two real SITL quads at 10x fly the relative-altitude plan: 4 parcels released within
    10 m, no failsafe, both disarmed at the depot."""
    run = deliveries["relative"]
    lines = _check_delivered(run)
    print(f"relative plan, {run.wall_s:.0f} s wall:", *lines, sep="\n  ")


def test_fly_delivers_a_terrain_frame_plan(deliveries: dict[str, FlyRun]) -> None:
    """The same drops planned with ``--frame terrain`` (terrain-frame waypoints, heights above
    the ground the vehicle was served) are all delivered too."""
    run = deliveries["terrain"]
    frames = {int(m.frame) for s in run.sorties for m in s.mission[1:] if m.is_nav}
    assert 10 in frames, frames  # MAV_FRAME_GLOBAL_TERRAIN_ALT
    lines = _check_delivered(run)
    print(f"terrain plan, {run.wall_s:.0f} s wall:", *lines, sep="\n  ")


# -- the ground station's failsafes on the real program ---------------------------------------

#: Energy of the tight-battery variant's drone type (Wh) and the share of it the vehicle's pack
#: really holds (a worn pack): the plan leaves 20 % in reserve, the flight would not.
TIGHT_BATTERY_WH = 80.0
WORN_PACK_FRACTION = 0.75


def _tight_scenario(folder: Path) -> Path:
    """The valley drops alone, for one quad whose battery the plan nearly uses up."""
    folder.mkdir(parents=True)
    text = (SCENARIO / "scenario.toml").read_text()
    text = text.replace('"../../../../missions/district/terrain/N44W072.hgt"',
                        json.dumps(str(DEM_FILE)))
    text = text.replace("battery_wh = 200.0", f"battery_wh = {TIGHT_BATTERY_WH}")
    text = text.replace("drones = { sitl_quad = 2 }", "drones = { sitl_quad = 1 }")
    (folder / "scenario.toml").write_text(text)
    lines = (SCENARIO / "drops.csv").read_text().splitlines()
    (folder / "drops.csv").write_text("\n".join(
        line for line in lines if not line.startswith("R")) + "\n")
    shutil.copyfile(SCENARIO / "nofly.geojson", folder / "nofly.geojson")
    return folder


def _exclusion_square(lat: float, lon: float, half_m: float,
                      first_seq: int) -> list[dict[str, object]]:
    dlat = half_m / 111_320.0
    dlon = half_m / (111_320.0 * math.cos(math.radians(lat)))
    corners = [(lat - dlat, lon - dlon), (lat - dlat, lon + dlon), (lat + dlat, lon + dlon),
               (lat + dlat, lon - dlon)]
    return [{"seq": first_seq + i, "command": 5002,
             "command_name": "NAV_FENCE_POLYGON_VERTEX_EXCLUSION", "frame": 0,
             "params": [4.0, 0.0, 0.0, 0.0], "lat_deg": a, "lon_deg": b, "alt_m": 0.0,
             "autocontinue": True} for i, (a, b) in enumerate(corners)]


def _fence_across_first_leg(plan_dir: Path, out: Path) -> tuple[Path, tuple[float, float]]:
    """The first sortie alone, its fence given an exclusion zone across its first cruise leg
    (as if a zone had been declared after planning): the vehicle must breach it."""
    doc = json.loads((plan_dir / "plan.json").read_text())
    sortie = doc["sorties"][0]
    doc["sorties"] = [sortie]
    doc["unserved"] = []
    home, first = sortie["mission"][0], sortie["mission"][2]
    middle = ((home["lat_deg"] + first["lat_deg"]) / 2, (home["lon_deg"] + first["lon_deg"]) / 2)
    sortie["fence"] += _exclusion_square(*middle, 80.0, len(sortie["fence"]))
    out.mkdir(parents=True)
    (out / "plan.json").write_text(json.dumps(doc, indent=1))
    return out, middle


@pytest.fixture(scope="module")
def failsafes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, FlyRun]]:
    """A tight-battery sortie on a worn pack and a sortie crossing its fence, flown at once
    (instances 44 and 45)."""
    root = tmp_path_factory.mktemp("ardupilot-failsafes")
    tight = _plan(root / "plan-tight", _tight_scenario(root / "tight"))
    fence_plan, _ = _fence_across_first_leg(_plan(root / "plan-relative"), root / "plan-fence")
    worn_mah = TIGHT_BATTERY_WH / 12.6 * 1000.0 * WORN_PACK_FRACTION
    runs = _fly_all([(tight, root / "fly-battery", (44,), {"BATT_CAPACITY": round(worn_mah)}),
                     (fence_plan, root / "fly-fence", (45,), None)])
    yield {"battery": runs[0], "fence": runs[1]}


def test_battery_reserve_rtl_before_the_reserve_is_broken(failsafes: dict[str, FlyRun]) -> None:
    """A pack holding 3/4 of what the plan counts on: the ground station commands RTL as soon
    as the battery no longer covers the rest of the sortie and the reserve, and the vehicle
    comes home to the depot without its own battery failsafe."""
    run = failsafes["battery"]
    sortie = run.sorties[0]
    assert sortie.metrics.energy_pct > 50, "the tight plan must use most of the battery"
    flight = run.flight(sortie.id)
    rtl = [line for line in run.output.splitlines()
           if "battery_reserve" in line and "returning to launch" in line]
    assert rtl, run.output
    said = re.search(r"battery (\d+) % with (\d+) % needed for the rest of the sortie and a "
                     r"(\d+) % reserve", rtl[0])
    assert said, rtl[0]
    battery, needed, reserve = (int(x) for x in said.groups())
    # commanded when the margin went below zero, not later: the reserve was still whole
    assert battery >= needed + reserve - 2, rtl[0]
    in_rtl = [s for s in flight.samples if s.mode == "RTL" and s.armed]
    assert in_rtl, "the vehicle never flew RTL"
    at_rtl, landed = in_rtl[0].battery_remaining_pct, in_rtl[-1].battery_remaining_pct
    assert at_rtl is not None and landed is not None
    assert at_rtl >= reserve
    assert not _failsafe_texts(flight), _failsafe_texts(flight)
    home_m = _landed_at_depot_m(flight)
    assert home_m <= LANDED_TOLERANCE_M
    print(f"battery: {rtl[0]}\n  RTL at {at_rtl:.0f} %, landed with {landed:.0f} % "
          f"{home_m:.1f} m from the depot; {len(flight.releases)} of {len(sortie.drop_ids)} "
          f"parcels released; {run.wall_s:.0f} s wall")


def test_fence_breach_rtl_and_alert(failsafes: dict[str, FlyRun]) -> None:
    """The vehicle flies into an exclusion zone of its uploaded fence: it says so and switches
    to RTL (FENCE_ACTION 1), the ground station raises a fence alert, and the vehicle lands at
    the depot (its rally point) with the parcels on board."""
    run = failsafes["fence"]
    sortie = run.sorties[0]
    flight = run.flight(sortie.id)
    breached = [(t, text) for t, text in flight.texts if "fence breached" in text.lower()]
    assert breached, [t for _, t in flight.texts]
    after = [s for s in flight.samples if s.t_s >= breached[0][0] and s.armed]
    assert after and after[0].mode in ("RTL", "AUTO") and \
        any(s.mode == "RTL" for s in after), [s.mode for s in after[:20]]
    alerts = [line for line in run.output.splitlines() if "fence_breach" in line]
    assert alerts, run.output
    assert not flight.releases, flight.releases
    assert run.code != 0  # the parcels were not delivered
    home_m = _landed_at_depot_m(flight)
    assert home_m <= LANDED_TOLERANCE_M
    print(f"fence: {breached[0][1]!r}; {alerts[0]}; landed {home_m:.1f} m from the depot; "
          f"{run.wall_s:.0f} s wall")



# -- pickups -------------------------------------------------------------------------------------

PICKUPS = REPO / "tests" / "data" / "scenarios" / "valleys_pickups"


@pytest.fixture(scope="module")
def pickups(tmp_path_factory: pytest.TempPathFactory) -> FlyRun:
    """The valleys and ridges with two stops made pickups, flown on two vehicles
    (instances 44-45)."""
    root = tmp_path_factory.mktemp("ardupilot-pickups")
    plan = _plan(root / "plan", PICKUPS)
    return _fly_all([(plan, root / "fly", (44, 45), None)], PICKUPS)[0]


def test_fly_collects_pickups_and_releases_deliveries(pickups: FlyRun) -> None:
    """Real SITL: each sortie's gripper grabs once per pickup within 10 m of the pickup point
    ("Gripper load grabbing") and releases once per delivery at its drop; every stop counts
    as delivered once the vehicle is home; no failsafe."""
    run = pickups
    assert run.code == 0, run.output
    assert "drops: 4/4 delivered" in run.output, run.output
    where = {d.id: (d.lat_deg, d.lon_deg) for d in load_scenario(PICKUPS).drops}
    home = load_scenario(PICKUPS).depots[0]
    for sortie in run.sorties:
        flight = run.flight(sortie.id)
        collected = [d for d in sortie.drop_ids if sortie.is_pickup(d)]
        deliveries = [d for d in sortie.drop_ids if not sortie.is_pickup(d)]
        assert collected and deliveries
        assert len(flight.grabs) == len(collected), flight.texts
        assert len(flight.releases) == len(deliveries), flight.texts
        for ids, events in ((collected, flight.grabs), (deliveries, flight.releases)):
            for stop, event in zip(ids, events, strict=True):
                assert distance_m(*where[stop], event.lat_deg, event.lon_deg) <= \
                    RELEASE_TOLERANCE_M, (stop, event)
        assert not _failsafe_texts(flight), _failsafe_texts(flight)
        last = flight.samples[-1]
        assert not last.armed
        assert distance_m(home.lat_deg, home.lon_deg, last.lat_deg, last.lon_deg) <= \
            LANDED_TOLERANCE_M
