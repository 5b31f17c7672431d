"""Start, watch and stop real ArduPilot SITL instances (``arducopter``) as child processes.

Each instance ``i`` runs in its own folder ``WORKDIR/instance{i}`` (``eeprom.bin``, ``logs/``,
``sitl.log`` with its output) with ``-I first_instance+i``, ``--sysid i+1``, ``--serial0 tcp:0``
(the simulation starts without waiting for a client, and SERIAL1/2 open at once) and
``--defaults copter.parm,[extra files,]dropline.parm``: ArduPilot's own SITL copter defaults first,
as ``sim_vehicle.py`` passes them, then the project's file. SITL reads such paths relative to its
working directory, so the files are copied there and only their names are passed. SITL binds its
TCP ports on every interface (ArduPilot offers no listen address); run it on a host or network
namespace whose other interfaces are not reachable. SITL exits when its parent does, so the
launcher stays the parent of every instance for its whole life; instances run in their own
session so that a Ctrl-C in the terminal reaches the launcher only, which then shuts them down
(SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

from planner.scenario import DroneType
from sitl.ardupilot import state as state_file
from sitl.ardupilot._process import start_ticks, terminate_child
from sitl.ardupilot.binary import resolve_binary, resolve_copter_parm
from sitl.ardupilot.health import Heartbeat, port_listening, read_heartbeat
from sitl.ardupilot.params import instance_parameters, write_param_file
from sitl.errors import SitlLaunchError

log = logging.getLogger(__name__)

#: Name of the defaults file written into every instance folder.
DEFAULTS_NAME = "dropline.parm"
#: SITL's first MAVLink TCP port; instance i uses base + 10 * i (SERIAL0), + 2 and + 3.
SITL_BASE_PORT = 5760
#: Port offset of the extra MAVLink port used for health checks (keeps SERIAL0 for the GCS).
HEALTH_PORT_OFFSET = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceHealth:
    """One health check of one instance."""

    instance: int
    running: bool
    returncode: int | None
    port_open: bool
    heartbeat: Heartbeat | None

    @property
    def healthy(self) -> bool:
        """Running, listening and sending HEARTBEATs from its own system id."""
        return self.running and self.port_open and self.heartbeat is not None


@dataclass(slots=True)
class _Instance:
    index: int
    sysid: int
    port: int
    folder: Path
    argv: list[str]
    proc: subprocess.Popen[bytes] | None = None
    log_file: IO[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.folder / "sitl.log"


class ArduPilotSitl:
    """A fleet of real ArduPilot SITL copters, one ``arducopter`` process each.

    Parameters
    ----------
    vehicles
        Number of instances (``-I 0`` .. ``-I vehicles-1``).
    home
        Home ``(lat_deg, lon_deg, alt_amsl_m)`` of every instance.
    heading_deg
        Initial heading at home.
    speedup
        SITL ``--speedup`` (every vehicle timer runs on simulated time).
    binary
        The ``arducopter`` program; None reads ``ARDUPILOT_SITL_BIN``.
    copter_parm
        ArduPilot's ``copter.parm``, loaded first; None takes the one beside the program.
    workdir
        Folder for the instance folders and the state file; None makes a temporary one that
        :meth:`stop` removes.
    model
        SITL ``--model`` (``+`` is the quad the project's notes were measured on).
    base_port
        SERIAL0 TCP port of instance 0; instance i listens on ``base_port + 10 * i``.
    host
        Address clients connect to (SITL itself binds every interface).
    params
        Extra parameters for every instance's defaults file.
    drone_type
        Fly like this scenario drone type (speeds, battery capacity).
    defaults_files
        Further parameter files, copied into every instance folder and loaded after
        ``copter_parm`` and before the project's own defaults.
    wipe
        Start from the defaults, forgetting parameters and missions saved by an earlier run.
    first_instance
        SITL instance number (``-I``) of the first vehicle; it places the UDP RC-input port
        (5501 + 10 * I) and other fixed ports, so concurrent launchers need distinct ranges.
    extra_args
        More ``arducopter`` arguments, passed as they are.
    health_timeout_s
        Wall seconds each instance has to open its port and send a HEARTBEAT.
    health_port_offset
        Which of the instance's MAVLink ports health checks read HEARTBEATs on, as an offset
        from SERIAL0 (2: SERIAL1, so that SERIAL0 stays free for the ground station).
    stop_timeout_s
        Wall seconds between SIGTERM and SIGKILL on shutdown.
    """

    def __init__(self, *, vehicles: int = 1,
                 home: tuple[float, float, float] = (-35.363261, 149.165230, 584.0),
                 heading_deg: float = 0.0, speedup: float = 1.0,
                 binary: str | Path | None = None, copter_parm: str | Path | None = None,
                 workdir: str | Path | None = None,
                 model: str = "+", base_port: int = SITL_BASE_PORT, host: str = "127.0.0.1",
                 params: Mapping[str, float] | None = None,
                 drone_type: DroneType | None = None,
                 defaults_files: Sequence[str | Path] = (), wipe: bool = True,
                 first_instance: int = 0,
                 extra_args: Sequence[str] = (), health_timeout_s: float = 60.0,
                 health_port_offset: int = HEALTH_PORT_OFFSET,
                 stop_timeout_s: float = 5.0) -> None:
        if not (isinstance(vehicles, int) and 1 <= vehicles <= 250):
            raise ValueError(f"Expected vehicles in 1..250, got {vehicles!r}")
        lat, lon, alt = home
        if not (-90 <= lat <= 90 and -180 <= lon <= 180 and math.isfinite(alt)):
            raise ValueError(f"Expected home (lat_deg, lon_deg, alt_amsl_m), got {home!r}")
        if not (speedup > 0 and math.isfinite(speedup)):
            raise ValueError(f"Expected speedup > 0, got {speedup}")
        if not (1024 <= base_port <= 65535 - 10 * vehicles):
            raise ValueError(f"Expected base_port in 1024..{65535 - 10 * vehicles}, "
                             f"got {base_port}")
        if not (isinstance(first_instance, int) and 0 <= first_instance <= 250 - vehicles):
            raise ValueError(f"Expected first_instance in 0..{250 - vehicles}, "
                             f"got {first_instance!r}")
        self.binary = resolve_binary(binary)
        self.copter_parm = resolve_copter_parm(self.binary, copter_parm)
        self.first_instance = first_instance
        self.vehicles = vehicles
        self.home = (float(lat), float(lon), float(alt))
        self.heading_deg = float(heading_deg)
        self.speedup = float(speedup)
        self.model = model
        self.base_port = base_port
        self.host = host
        self.params = dict(params or {})
        self.drone_type = drone_type
        self.defaults_files = [Path(p) for p in defaults_files]
        for path in self.defaults_files:
            if not path.is_file():
                raise ValueError(f"Expected a parameter file, got {path} (no such file)")
        names = [p.name for p in (self.copter_parm, *self.defaults_files)] + [DEFAULTS_NAME]
        if len(set(names)) != len(names):
            raise ValueError(f"Expected parameter files with distinct names, got "
                             f"{', '.join(names)} (each is copied into the instance folder)")
        self.wipe = wipe
        self.extra_args = list(extra_args)
        self.health_timeout_s = health_timeout_s
        self.health_port_offset = health_port_offset
        self.stop_timeout_s = stop_timeout_s
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir is not None else Path(
            tempfile.mkdtemp(prefix="dropline-sitl-"))
        self._instances: list[_Instance] = []
        self._started = False

    # -- public interface ---------------------------------------------------------------------
    @property
    def connection_strings(self) -> list[str]:
        """``tcp:HOST:PORT`` (SERIAL0) of every instance, in instance order."""
        return [f"tcp:{self.host}:{self._port(i)}" for i in range(self.vehicles)]

    @property
    def pids(self) -> list[int]:
        """Process ids of the started instances."""
        return [inst.proc.pid for inst in self._instances if inst.proc is not None]

    def instance_folder(self, index: int) -> Path:
        """The working directory of instance ``index``."""
        return self.workdir / f"instance{index}"

    def command(self, index: int) -> list[str]:
        """The full command line instance ``index`` is started with."""
        lat, lon, alt = self.home
        defaults = [p.name for p in (self.copter_parm, *self.defaults_files)] + [DEFAULTS_NAME]
        # --base-port after -I: it then sets the port itself (-I adds 10 * I only to the
        # default base port), so instance numbers and TCP ports are chosen independently.
        argv = [str(self.binary), "-I", str(self.first_instance + index),
                "--base-port", str(self._port(index)), "--model", self.model,
                "--home", f"{lat:.8f},{lon:.8f},{alt:.2f},{self.heading_deg:g}",
                "--speedup", f"{self.speedup:g}", "--defaults", ",".join(defaults),
                "--sysid", str(index + 1), "--serial0", "tcp:0"]
        if self.wipe:
            argv.append("--wipe")
        return argv + self.extra_args

    def start(self) -> None:
        """Start every instance and return once each one passes its health check.

        Raises
        ------
        SitlLaunchError
            When an instance exits, or does not open its port and send a HEARTBEAT from its own
            system id within ``health_timeout_s``; every instance started so far is stopped.
        """
        if self._started:
            raise SitlLaunchError("already started")
        self._started = True
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            for index in range(self.vehicles):
                self._instances.append(self._spawn(index))
            self._record_state()
            for inst in self._instances:
                self._wait_healthy(inst)
        except BaseException:
            self.stop()
            raise
        log.info("SITL instances ready: %s", ", ".join(self.connection_strings))

    def stop(self) -> None:
        """Stop every instance this launcher started (SIGTERM, then SIGKILL) and forget them."""
        for inst in self._instances:
            if inst.proc is not None:
                code = terminate_child(inst.proc, self.stop_timeout_s)
                log.info("SITL instance %d (pid %d) ended with %d", inst.index, inst.proc.pid,
                         code)
            if inst.log_file is not None:
                inst.log_file.close()
                inst.log_file = None
        self._instances = []
        if self._started:
            state_file.remove_state(self.workdir)
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        self._started = False

    def __enter__(self) -> ArduPilotSitl:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def poll(self) -> list[SitlLaunchError]:
        """An error for every instance whose process has exited since it was started."""
        dead = []
        for inst in self._instances:
            if inst.proc is not None and inst.proc.poll() is not None:
                dead.append(self._died(inst, "exited"))
        return dead

    def health(self, *, heartbeat_timeout_s: float = 5.0) -> list[InstanceHealth]:
        """Check every instance: process running, SERIAL0 listening, a HEARTBEAT from its own
        system id on its monitoring port (a ground station on SERIAL0 is not disturbed)."""
        report = []
        for inst in self._instances:
            running = inst.proc is not None and inst.proc.poll() is None
            beat = None
            if running:
                beat = read_heartbeat(self.host, inst.port + self.health_port_offset,
                                      sysid=inst.sysid, timeout_s=heartbeat_timeout_s)
            report.append(InstanceHealth(
                instance=inst.index, running=running,
                returncode=None if inst.proc is None else inst.proc.poll(),
                port_open=running and port_listening(self.host, inst.port),
                heartbeat=beat))
        return report

    def log_tail(self, index: int, lines: int = 20) -> str:
        """The last ``lines`` lines instance ``index`` wrote to its standard output or error."""
        path = self.instance_folder(index) / "sitl.log"
        try:
            text = path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    # -- internals ----------------------------------------------------------------------------
    def _port(self, index: int) -> int:
        return self.base_port + 10 * index

    def _spawn(self, index: int) -> _Instance:
        folder = self.instance_folder(index)
        (folder / "logs").mkdir(parents=True, exist_ok=True)
        for path in (self.copter_parm, *self.defaults_files):
            shutil.copyfile(path, folder / path.name)
        write_param_file(folder / DEFAULTS_NAME, instance_parameters(
            sysid=index + 1, drone_type=self.drone_type, params=self.params))
        inst = _Instance(index=index, sysid=index + 1, port=self._port(index), folder=folder,
                         argv=self.command(index))
        inst.log_file = (folder / "sitl.log").open("ab")
        try:
            inst.proc = subprocess.Popen(inst.argv, cwd=folder, stdin=subprocess.DEVNULL,
                                         stdout=inst.log_file, stderr=subprocess.STDOUT,
                                         start_new_session=True, env=dict(os.environ))
        except OSError as exc:
            inst.log_file.close()
            raise SitlLaunchError(f"could not start {self.binary}: {exc}", instance=index,
                                  log_path=inst.log_path) from exc
        log.info("started SITL instance %d (pid %d): %s", index, inst.proc.pid,
                 " ".join(inst.argv))
        return inst

    def _record_state(self) -> None:
        records = tuple(
            state_file.InstanceRecord(instance=inst.index, pid=inst.proc.pid,
                                      start_ticks=start_ticks(inst.proc.pid), port=inst.port,
                                      sysid=inst.sysid, folder=str(inst.folder))
            for inst in self._instances if inst.proc is not None)
        state_file.write_state(self.workdir, binary=str(self.binary), host=self.host,
                               instances=records)

    def _wait_healthy(self, inst: _Instance) -> None:
        proc = inst.proc
        assert proc is not None
        beat = read_heartbeat(self.host, inst.port + self.health_port_offset, sysid=inst.sysid,
                              timeout_s=self.health_timeout_s,
                              abort=lambda: proc.poll() is not None)
        if proc.poll() is not None:
            raise self._died(inst, "exited during start-up")
        if beat is None:
            raise SitlLaunchError(
                f"no HEARTBEAT from system {inst.sysid} on port "
                f"{inst.port + self.health_port_offset} within {self.health_timeout_s:g} s; "
                f"see {inst.log_path}:\n{self.log_tail(inst.index)}",
                instance=inst.index, pid=proc.pid, log_path=inst.log_path)
        if not port_listening(self.host, inst.port):
            raise SitlLaunchError(f"SERIAL0 port {inst.port} is not open", instance=inst.index,
                                  pid=proc.pid, log_path=inst.log_path)

    def _died(self, inst: _Instance, what: str) -> SitlLaunchError:
        assert inst.proc is not None
        code = inst.proc.returncode
        return SitlLaunchError(
            f"SITL {what} with status {code}; last output ({inst.log_path}):\n"
            f"{self.log_tail(inst.index)}",
            instance=inst.index, pid=inst.proc.pid, returncode=code, log_path=inst.log_path)
