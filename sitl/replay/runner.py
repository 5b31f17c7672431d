"""Fly missions in SITL, one simulated vehicle each, and measure every flight against its plan.

Each mission gets its own simulator (built-in: one vehicle standing at the mission's home, over
the scenario's terrain, in its wind, as its drone type, loaded with its parcels; ArduPilot: one
``arducopter`` instance with home there) on its own ports, and its own ground station: the fleet
manager configures, uploads, verifies, arms and monitors the flight to landing exactly as
``dropline fly`` does, logging it to ``<report>/missions/<name>/`` (SQLite and ``.tlog``). The
``.tlog`` is then read back (:mod:`gcs.tlog.reader`) and compared with the mission
(:func:`planner.flown.figures.compare_flight`). Up to ``parallel`` missions fly at once.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from gcs.fleet.logs import FlightLog
from gcs.fleet.manager import FleetManager
from gcs.fleet.options import FlyOptions
from gcs.link import Link
from gcs.tlog.reader import TlogFlight, read_flight
from planner.errors import DroplineError
from planner.flown.figures import FlownFigures, compare_flight
from planner.items import Cmd
from planner.scenario import DroneType, Scenario
from planner.terrain import Dem
from planner.verify import dorling_power_w
from sitl.backend import make_backend
from sitl.replay.missions import Mission
from sitl.replay.tolerances import Breach, ToleranceSet, check

__all__ = ["MissionResult", "ReplayOptions", "fly_missions"]

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ReplayOptions:
    """How missions are flown: backend, speedup, missions at once, wall-time limit each."""

    backend: str = "builtin"
    speedup: float = 50.0
    parallel: int = 1
    timeout_s: float | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.speedup > 0:
            raise ValueError(f"Expected speedup > 0, got {self.speedup}")
        if self.parallel < 1:
            raise ValueError(f"Expected parallel >= 1, got {self.parallel}")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class MissionResult:
    """One mission flown: its log, figures and breaches, or the error that stopped it."""

    mission: Mission
    folder: Path
    tlog_path: Path | None = None
    flight: TlogFlight | None = None
    figures: FlownFigures | None = None
    breaches: tuple[Breach, ...] = ()
    error: str | None = None
    wall_s: float = 0.0

    @property
    def passed(self) -> bool:
        """Flown, and every figure within its tolerance."""
        return self.error is None and self.figures is not None and not self.breaches


def safe_name(name: str) -> str:
    """A file name for a mission name (``district/S001`` -> ``district_S001``)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "mission"


def _free_port() -> int:
    """A loopback port whose neighbours +2 and +3 are free too (SITL uses all three)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port > 65000:
            continue
        ok = True
        for extra in (2, 3):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                try:
                    s.bind(("127.0.0.1", port + extra))
                except OSError:
                    ok = False
        if ok:
            return port
    raise OSError("no free loopback port found")


#: Electrical power of ArduCopter SITL's own quad (``--model +``) in flight: about 28 A hover
#: and 30 A cruise at its constant 12.6 V (``shared/ardupilot/NOTES.md``).
SITL_QUAD_POWER_W = 30.0 * 12.6
SITL_PACK_VOLTAGE_V = 12.6


def sitl_capacity_mah(drone_type: DroneType, payload_kg: float) -> int:
    """``BATT_CAPACITY`` that makes real SITL's quad run out when ``drone_type`` would.

    SITL flies its own airframe whatever the drone type (only speeds and battery follow it), so
    a pack of the drone type's energy would last a heavy octocopter's SITL stand-in far longer
    and a small quad's far shorter than planned. Sized to the drone type's endurance at its
    hover power instead, the battery percentage the ground station watches follows the plan.
    """
    endurance_h = drone_type.battery_wh / dorling_power_w(drone_type, payload_kg)
    return round(SITL_QUAD_POWER_W * endurance_h / SITL_PACK_VOLTAGE_V * 1000.0)


def _backend(mission: Mission, options: ReplayOptions, scenario: Scenario | None,
             dem: Dem | None, folder: Path) -> Any:
    params: dict[str, float] = {}
    winch = any(m.command == Cmd.DO_WINCH for m in mission.sortie.mission)
    if winch:
        params["WINCH_TYPE"] = 1
    common: dict[str, Any] = dict(vehicles=1, home=mission.home, speedup=options.speedup,
                                  base_port=_free_port(), drone_type=mission.drone_type,
                                  params=params)
    if options.backend == "builtin":
        common.update(dem=dem, wind=None if scenario is None else scenario.wind,
                      seed=options.seed)
    else:
        if winch:
            # ArduCopter's PWM winch is unhealthy ("PreArm: winch unhealthy") until a servo
            # output drives it (SERVOn_FUNCTION 88); output 9 is free (the gripper has 8).
            params["SERVO9_FUNCTION"] = 88
        if mission.drone_type is not None:
            params["BATT_CAPACITY"] = sitl_capacity_mah(mission.drone_type, mission.payload_kg)
        common.update(workdir=folder / "sitl")
    return make_backend(options.backend, **common)


def _timeout_s(mission: Mission, options: ReplayOptions) -> float:
    if options.timeout_s is not None:
        return options.timeout_s
    sim_s = 3.0 * (mission.duration_planned_s or 1800.0) + 600.0
    return sim_s / options.speedup + 60.0


def _fly(mission: Mission, options: ReplayOptions, scenario: Scenario | None, dem: Dem | None,
         folder: Path) -> Path:
    """Fly one mission; the path of its ``.tlog``."""
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "flight.db"
    for old in [db, *folder.glob("*.tlog")]:
        old.unlink(missing_ok=True)  # fresh: never resumed, never appended to an old log
    backend = _backend(mission, options, scenario, dem, folder)
    backend.start()
    links: list[Link] = []
    flight_log = FlightLog(db, tlog_dir=folder)
    manager: FleetManager | None = None
    try:
        if mission.parcels and hasattr(backend, "vehicle"):
            backend.vehicle(0).load_payload(mission.payload_kg, mission.parcels)
        links = [Link(url, heartbeat_period_s=min(1.0, 1.0 / options.speedup)).open()
                 for url in backend.connection_strings]
        fly = FlyOptions(time_scale=options.speedup, turnaround_s=0.0)
        manager = FleetManager(links, mission.plan, options=fly, flight_log=flight_log, dem=dem,
                               drone_types=None if scenario is None else scenario.drone_types,
                               plan_path=str(mission.source))
        manager.connect(max(10.0, 60.0 / options.speedup))
        manager.start()
        if not manager.wait(_timeout_s(mission, options)):
            log.warning("%s: still flying after the time limit", mission.name)
        assert manager.run is not None
        flights = flight_log.flights(manager.run.id)
    finally:
        if manager is not None:
            manager.stop()
        for link in links:
            link.close()
        flight_log.close()
        backend.stop()
    paths = [Path(f.tlog_path) for f in flights if f.tlog_path]
    if not paths or not paths[0].is_file():
        reason = next((f.reason for f in flights if f.reason), None)
        raise DroplineError(f"no flight was logged{f': {reason}' if reason else ''}")
    return paths[0]


def measure(mission: Mission, flight: TlogFlight, *, dem: Dem | None,
            scenario: Scenario | None) -> FlownFigures:
    """The figures of a flight of ``mission`` read from its log."""
    return compare_flight(flight.samples, flight.releases, mission=mission.sortie,
                          grabs=flight.grabs, dem=dem,
                          zones=() if scenario is None else scenario.nofly,
                          reached=flight.reached_seqs,
                          duration_planned_s=mission.duration_planned_s,
                          energy_planned_wh=mission.energy_planned_wh)


def _one(mission: Mission, options: ReplayOptions, scenario: Scenario | None, dem: Dem | None,
         report_dir: Path, tolerances: ToleranceSet) -> MissionResult:
    folder = report_dir / "missions" / safe_name(mission.name)
    start = time.monotonic()
    try:
        tlog = _fly(mission, options, scenario, dem, folder)
        flight = read_flight(tlog)
        figures = measure(mission, flight, dem=dem, scenario=scenario)
    except (DroplineError, OSError, ValueError) as exc:  # a mission must not stop the others
        return MissionResult(mission=mission, folder=folder, error=str(exc),
                             wall_s=time.monotonic() - start)
    breaches = check(mission.name, figures, tolerances.for_mission(mission.name))
    return MissionResult(mission=mission, folder=folder, tlog_path=tlog, flight=flight,
                         figures=figures, breaches=tuple(breaches),
                         wall_s=time.monotonic() - start)


def fly_missions(missions: Sequence[Mission], *, options: ReplayOptions, report_dir: Path,
                 tolerances: ToleranceSet, scenario: Scenario | None = None,
                 dem: Dem | None = None,
                 progress: Callable[[int, MissionResult | Mission], None] | None = None,
                 ) -> list[MissionResult]:
    """Fly every mission (``options.parallel`` at once) and measure each flight.

    ``progress(index, what)`` is called with the mission when it starts and with its result
    when it ends (from worker threads, one call at a time). Results come back in mission order.
    """
    lock = threading.Lock()

    def say(index: int, what: MissionResult | Mission) -> None:
        if progress is not None:
            with lock:
                progress(index, what)

    def run(index: int) -> MissionResult:
        say(index, missions[index])
        result = _one(missions[index], options, scenario, dem, report_dir, tolerances)
        say(index, result)
        return result

    with ThreadPoolExecutor(max_workers=options.parallel) as pool:
        return list(pool.map(run, range(len(missions))))
