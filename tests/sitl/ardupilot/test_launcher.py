"""The real-SITL launcher's process management, against a fake ``arducopter``, and the real
program of the shared reference data (``../shared/ardupilot/bin``, or ``ARDUPILOT_SITL_BIN``)."""

from __future__ import annotations

import doctest
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gcs.mavlink import dialect
from sitl.ardupilot import ArduPilotSitl, read_heartbeat, read_state, resolve_binary
from sitl.ardupilot import params as params_module
from sitl.ardupilot._process import pid_alive
from sitl.ardupilot.params import PROJECT_PARAMETERS, SITL_PACK_VOLTAGE_V
from sitl.backend import unavailable_reason
from sitl.errors import SitlBinaryError, SitlLaunchError
from tests.helpers.ports import free_base_port
from tests.helpers.shared_data import REPO, TUTORIAL, ardupilot_binary
from tests.planner.helpers import drone_type
from tests.sitl.helpers_fakes import write_fake

HOME = (44.0618, -71.1369, 160.0)
GRIPPER = {"GRIP_ENABLE": 1, "GRIP_TYPE": 1, "SERVO8_FUNCTION": 28, "SIM_GRPS_ENABLE": 1,
           "SIM_GRPS_PIN": 8}


@pytest.fixture
def fake_bin(tmp_path: Path) -> Path:
    """Path of a fake ``arducopter``."""
    return write_fake(tmp_path)


@pytest.fixture
def launched(fake_bin: Path, tmp_path: Path) -> Iterator[ArduPilotSitl]:
    """Two fake instances started at speedup 10, stopped after the test."""
    sitl = ArduPilotSitl(vehicles=2, home=HOME, heading_deg=90, speedup=10, binary=fake_bin,
                         workdir=tmp_path / "work", base_port=free_base_port(2),
                         health_timeout_s=20)
    sitl.start()
    yield sitl
    sitl.stop()


def fake_record(sitl: ArduPilotSitl, index: int) -> dict[str, Any]:
    """What fake instance ``index`` was started with."""
    data: dict[str, Any] = json.loads(
        (sitl.instance_folder(index) / "fake-args.json").read_text())
    return data


def test_modules_doctests() -> None:
    """The runnable examples of the parameter-file and sim command modules hold."""
    from dropline.commands import sim as sim_commands
    for module in (params_module, sim_commands):
        assert doctest.testmod(module).failed == 0


@pytest.mark.parametrize("case", ["unset", "missing", "directory", "not_executable"])
def test_unusable_binary_is_a_clear_input_error(case: str, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing, non-file or non-executable program is refused with what to do about it."""
    monkeypatch.delenv("ARDUPILOT_SITL_BIN", raising=False)
    path: Path | None = {"unset": None, "missing": tmp_path / "nope",
                         "directory": tmp_path}.get(case)
    if case == "not_executable":
        path = tmp_path / "arducopter"
        path.write_text("#!/bin/sh\n")
        path.chmod(0o644)
    with pytest.raises(SitlBinaryError) as info:
        resolve_binary(path)
    expected = {"unset": "ARDUPILOT_SITL_BIN", "missing": "no such file",
                "directory": "not a file", "not_executable": "not executable"}[case]
    assert expected in str(info.value)
    assert info.value.field == "--binary"


def test_binary_from_environment(fake_bin: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without an explicit path the program comes from ARDUPILOT_SITL_BIN."""
    monkeypatch.setenv("ARDUPILOT_SITL_BIN", str(fake_bin))
    assert resolve_binary(None) == fake_bin.resolve()


def test_each_instance_gets_its_own_flags_folder_and_defaults(launched: ArduPilotSitl) -> None:
    """-I i, --model +, --home, --speedup, --sysid i+1, --serial0 tcp:0, --wipe, a relative
    --defaults file in the instance's own folder, and the launcher as parent."""
    for i in range(2):
        rec = fake_record(launched, i)
        argv = rec["argv"]
        flag = {argv[k]: argv[k + 1] for k in range(len(argv) - 1) if argv[k].startswith("-")}
        assert flag["-I"] == str(i)
        assert flag["--model"] == "+"
        assert flag["--sysid"] == str(i + 1)
        assert flag["--serial0"] == "tcp:0"
        assert "--wipe" in argv
        assert rec["home"] == pytest.approx([*HOME, 90.0])
        assert rec["speedup"] == 10
        assert not os.path.isabs(flag["--defaults"])
        assert Path(rec["cwd"]) == launched.instance_folder(i).resolve()
        assert rec["ppid"] == os.getpid()
        assert rec["sysid"] == i + 1
        assert rec["base_port"] == launched.base_port + 10 * i
        assert rec["params"]["SYSID_THISMAV"] == i + 1
        for name, value in {**GRIPPER, **PROJECT_PARAMETERS}.items():
            assert rec["params"][name] == value
        folder = launched.instance_folder(i)
        assert (folder / "eeprom.bin").exists() and (folder / "logs").is_dir()
        assert "Starting sketch" in launched.log_tail(i)


def test_connection_strings_reach_each_vehicle(launched: ArduPilotSitl) -> None:
    """Every connection string answers with a HEARTBEAT from its own system id."""
    assert len(launched.connection_strings) == 2
    for i, url in enumerate(launched.connection_strings):
        _, host, port = url.split(":")
        beat = read_heartbeat(host, int(port), timeout_s=5)
        assert beat is not None and beat.sysid == i + 1
        assert beat.autopilot == 3 and beat.vehicle_type == 2


def test_health_reports_every_instance(launched: ArduPilotSitl) -> None:
    """health() sees both instances running, listening and beating."""
    report = launched.health(heartbeat_timeout_s=5)
    assert [h.instance for h in report] == [0, 1]
    assert all(h.healthy for h in report)
    assert [h.heartbeat.sysid for h in report if h.heartbeat] == [1, 2]


def test_state_file_records_every_process(launched: ArduPilotSitl) -> None:
    """The state file names this process as launcher and each instance's pid and port."""
    state = read_state(launched.workdir)
    assert state is not None
    assert state.launcher_pid == os.getpid()
    assert [r.pid for r in state.instances] == launched.pids
    assert state.connection_strings == launched.connection_strings


def test_stop_ends_every_process_and_forgets_state(fake_bin: Path, tmp_path: Path) -> None:
    """After stop() no instance process is left and the state file is gone."""
    with ArduPilotSitl(vehicles=3, home=HOME, binary=fake_bin, workdir=tmp_path / "w",
                       base_port=free_base_port(3)) as sitl:
        pids = sitl.pids
        assert len(pids) == 3 and all(pid_alive(p) for p in pids)
    assert not any(pid_alive(p) for p in pids)
    assert read_state(tmp_path / "w") is None


def test_temporary_workdir_is_removed(fake_bin: Path) -> None:
    """Without a workdir the launcher uses a temporary folder and removes it on stop."""
    with ArduPilotSitl(vehicles=1, home=HOME, binary=fake_bin,
                       base_port=free_base_port(1)) as sitl:
        folder = sitl.workdir
        assert (folder / "instance0" / "dropline.parm").exists()
    assert not folder.exists()


def test_sigterm_ignored_escalates_to_sigkill(fake_bin: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """An instance that ignores SIGTERM is killed after the stop timeout."""
    monkeypatch.setenv("FAKE_SITL_IGNORE_TERM", "1")
    sitl = ArduPilotSitl(vehicles=1, home=HOME, binary=fake_bin, workdir=tmp_path / "w",
                         base_port=free_base_port(1), stop_timeout_s=0.5)
    sitl.start()
    proc = sitl._instances[0].proc
    assert proc is not None
    t0 = time.monotonic()
    sitl.stop()
    assert proc.returncode == -signal.SIGKILL
    assert 0.4 < time.monotonic() - t0 < 5


def test_instance_dying_at_start_is_reported_and_others_stopped(
        fake_bin: Path, tmp_path: Path) -> None:
    """A defaults path SITL cannot read ends start() with its exit status and output."""
    sitl = ArduPilotSitl(vehicles=2, home=HOME, binary=fake_bin, workdir=tmp_path / "w",
                         base_port=free_base_port(2),
                         extra_args=["--defaults", "/absolute/path.parm"])
    with pytest.raises(SitlLaunchError) as info:
        sitl.start()
    assert info.value.instance == 0 and info.value.returncode == 1
    assert "absolute paths" in str(info.value)
    assert sitl.pids == [] and read_state(tmp_path / "w") is None


def test_silent_instance_fails_health_check(fake_bin: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """An instance that never sends a HEARTBEAT fails start() after the health timeout."""
    monkeypatch.setenv("FAKE_SITL_NO_HEARTBEAT", "1")
    sitl = ArduPilotSitl(vehicles=1, home=HOME, binary=fake_bin, workdir=tmp_path / "w",
                         base_port=free_base_port(1), health_timeout_s=1.0)
    with pytest.raises(SitlLaunchError, match="no HEARTBEAT from system 1"):
        sitl.start()
    assert sitl.pids == []


def test_poll_reports_an_instance_that_died(fake_bin: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """poll() names an instance that exited after a healthy start, with its status."""
    monkeypatch.setenv("FAKE_SITL_EXIT_AFTER_S", "1.0")
    with ArduPilotSitl(vehicles=1, home=HOME, binary=fake_bin, workdir=tmp_path / "w",
                       base_port=free_base_port(1)) as sitl:
        assert sitl.poll() == []
        deadline = time.monotonic() + 10
        while not sitl.poll() and time.monotonic() < deadline:
            time.sleep(0.1)
        (failure,) = sitl.poll()
        assert failure.returncode == 3 and "fake failure" in str(failure)
        assert not sitl.health()[0].running


def test_extra_defaults_load_first_and_drone_type_sets_speeds(fake_bin: Path,
                                                              tmp_path: Path) -> None:
    """ArduPilot's copter.parm (beside the program) comes first, extra parameter files next,
    the project's file last, which wins; a drone type sets WPNAV speeds and the battery
    capacity."""
    site = tmp_path / "site.parm"
    site.write_text("FRAME_TYPE 1\nGRIP_ENABLE 0\nRTL_ALT 2500\n")
    dt = drone_type(cruise_speed_m_s=12.0, climb_rate_m_s=3.0, descent_rate_m_s=2.0,
                    battery_wh=500.0)
    with ArduPilotSitl(vehicles=1, home=HOME, binary=fake_bin, workdir=tmp_path / "w",
                       base_port=free_base_port(1), defaults_files=[site], drone_type=dt,
                       params={"fence_enable": 1}) as sitl:
        rec = fake_record(sitl, 0)
        assert (sitl.instance_folder(0) / "copter.parm").read_text() == \
            (fake_bin.parent / "copter.parm").read_text()
    argv = rec["argv"]
    assert argv[argv.index("--defaults") + 1] == "copter.parm,site.parm,dropline.parm"
    p = rec["params"]
    assert p["FRAME_CLASS"] == 1 and p["FRAME_TYPE"] == 1 and p["RTL_ALT"] == 2500
    assert p["GRIP_ENABLE"] == 1 and p["FENCE_ENABLE"] == 1
    assert (p["WPNAV_SPEED"], p["WPNAV_SPEED_UP"], p["WPNAV_SPEED_DN"]) == (1200, 300, 200)
    assert p["BATT_CAPACITY"] == round(500.0 / SITL_PACK_VOLTAGE_V * 1000)


def test_copter_parm_given_explicitly_or_missing(tmp_path: Path) -> None:
    """Without copter.parm beside the program the launcher refuses to start, naming the option
    that gives it; given with ``copter_parm`` it is loaded first under its own name."""
    (tmp_path / "bin").mkdir()
    fake = write_fake(tmp_path / "bin", copter_parm=False)
    with pytest.raises(SitlBinaryError) as info:
        ArduPilotSitl(binary=fake, workdir=tmp_path / "w")
    assert "--defaults-file" in str(info.value) and "copter.parm" in str(info.value)
    with pytest.raises(SitlBinaryError, match="no such parameter file"):
        ArduPilotSitl(binary=fake, copter_parm=tmp_path / "nope.parm", workdir=tmp_path / "w")
    mine = tmp_path / "my-copter.parm"
    mine.write_text("FRAME_CLASS 1\n")
    with ArduPilotSitl(home=HOME, binary=fake, copter_parm=mine, workdir=tmp_path / "w",
                       base_port=free_base_port(1)) as sitl:
        argv = fake_record(sitl, 0)["argv"]
    assert argv[argv.index("--defaults") + 1] == "my-copter.parm,dropline.parm"


def test_first_instance_sets_instance_numbers_not_ports(fake_bin: Path, tmp_path: Path) -> None:
    """``first_instance`` numbers the instances (-I) while the TCP ports stay base + 10 * i."""
    base = free_base_port(2)
    with ArduPilotSitl(vehicles=2, home=HOME, binary=fake_bin, workdir=tmp_path / "w",
                       base_port=base, first_instance=17) as sitl:
        recs = [fake_record(sitl, i) for i in range(2)]
    for i, rec in enumerate(recs):
        argv = rec["argv"]
        assert argv[argv.index("-I") + 1] == str(17 + i)
        assert argv.index("--base-port") > argv.index("-I")
        assert rec["base_port"] == base + 10 * i and rec["sysid"] == i + 1
    with pytest.raises(ValueError, match="first_instance"):
        ArduPilotSitl(vehicles=2, binary=fake_bin, first_instance=249)


def test_custom_base_port_is_passed_per_instance(fake_bin: Path, tmp_path: Path) -> None:
    """A non-default base port reaches each instance as its own --base-port."""
    base = free_base_port(2)
    with ArduPilotSitl(vehicles=2, home=HOME, binary=fake_bin, workdir=tmp_path / "w",
                       base_port=base) as sitl:
        assert [fake_record(sitl, i)["base_port"] for i in range(2)] == [base, base + 10]
        assert sitl.connection_strings == [f"tcp:127.0.0.1:{base}",
                                           f"tcp:127.0.0.1:{base + 10}"]


def test_instances_exit_when_the_launcher_is_killed(fake_bin: Path, tmp_path: Path) -> None:
    """Instances are direct children of the launcher: killing it ends them (as SITL does)."""
    script = ("import sys, time\n"
              "from sitl.ardupilot import ArduPilotSitl\n"
              f"s = ArduPilotSitl(vehicles=2, home={HOME!r}, binary={str(fake_bin)!r}, "
              f"workdir={str(tmp_path / 'w')!r}, base_port={free_base_port(2)})\n"
              "s.start(); print(*s.pids, flush=True); time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None
        pids = [int(p) for p in proc.stdout.readline().split()]
        assert len(pids) == 2 and all(pid_alive(p) for p in pids)
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 5
        while any(pid_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(pid_alive(p) for p in pids)
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.mark.sitl
def test_real_sitl_cli_starts_armable_vehicles_at_the_scenario_home(tmp_path: Path) -> None:
    """``dropline sitl start --scenario`` runs the real program with copter.parm and the
    project's parameters: each instance answers with its own sysid, sits at the depot at the
    DEM's height, becomes armable in GUIDED, and 'sitl stop' ends the launcher and instances."""
    binary = ardupilot_binary()
    reason = unavailable_reason("ardupilot", binary=binary)
    if reason is not None:
        print(f"real SITL skipped: {reason}")
        pytest.skip(reason)
    from dropline.commands._inputs import sim_inputs
    from tests.sitl.helpers_flying import EKF_READY_FLAGS
    from tests.sitl.helpers_mavclient import MavClient
    inputs = sim_inputs(None, str(TUTORIAL), None)
    lat, lon, alt = inputs.home
    assert inputs.drone_type is not None
    flown_as = params_module.drone_type_parameters(inputs.drone_type)
    base = free_base_port(2)
    workdir = tmp_path / "w"
    proc = subprocess.Popen(
        [sys.executable, "-m", "dropline.cli", "sitl", "start", "--binary", str(binary),
         "--instances", "2", "--scenario", str(TUTORIAL), "--speedup", "10", "--workdir",
         str(workdir), "--base-port", str(base), "--first-instance", "20"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        urls = [proc.stdout.readline().strip() for _ in range(2)]
        assert urls == [f"tcp:127.0.0.1:{base}", f"tcp:127.0.0.1:{base + 10}"], urls
        state = read_state(workdir)
        assert state is not None and state.launcher_pid == proc.pid
        for i, url in enumerate(urls):
            argv = (workdir / f"instance{i}" / "sitl.log").read_text()
            assert "Loaded defaults from copter.parm,dropline.parm" in argv
            with MavClient(url, target_system=i + 1) as client:
                assert client.wait_heartbeat(10).get_srcSystem() == i + 1
                assert client.param_get("FRAME_CLASS") == 1
                for name, value in {**GRIPPER, **flown_as}.items():
                    assert client.param_get(name) == value, name
                client.request_streams(4)
                client.set_message_interval(dialect.MAVLINK_MSG_ID_EKF_STATUS_REPORT, 4)
                client.expect("EKF_STATUS_REPORT", 30,
                              lambda m: m.flags & EKF_READY_FLAGS == EKF_READY_FLAGS)
                pos = client.expect("GLOBAL_POSITION_INT", 5)
                assert abs(pos.lat / 1e7 - lat) < 1e-5 and abs(pos.lon / 1e7 - lon) < 1e-5
                assert abs(pos.alt / 1000 - alt) < 1.0
                ack = client.set_mode("GUIDED", timeout_s=5)
                assert ack is not None and ack.result == dialect.MAV_RESULT_ACCEPTED
                ack = client.arm(timeout_s=5)
                assert ack is not None and ack.result == dialect.MAV_RESULT_ACCEPTED, \
                    client.texts[-5:]
                client.disarm(timeout_s=5)
        pids = [r.pid for r in state.instances]
        stop = subprocess.run([sys.executable, "-m", "dropline.cli", "sitl", "stop",
                               "--workdir", str(workdir)], cwd=REPO, capture_output=True,
                              text=True, timeout=60)
        assert stop.returncode == 0, stop.stderr
        assert proc.wait(timeout=30) == 0
        assert not any(pid_alive(p) for p in pids)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


@pytest.mark.parametrize("name", ["builtin", "ardupilot"])
def test_make_backend_gives_the_same_interface(name: str, fake_bin: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Both backends take the common options, satisfy SitlBackend and serve vehicle 1 at their
    first connection string (real SITL played by the fake program)."""
    from sitl.backend import SitlBackend, make_backend, unavailable_reason
    monkeypatch.setenv("ARDUPILOT_SITL_BIN", str(fake_bin))
    assert unavailable_reason(name) is None
    extra: dict[str, Any] = {"workdir": tmp_path / "w"} if name == "ardupilot" else {}
    backend = make_backend(name, vehicles=2, home=HOME, speedup=10.0,
                           base_port=free_base_port(2), **extra)
    assert isinstance(backend, SitlBackend)
    with backend:
        urls = backend.connection_strings
        assert len(urls) == 2 and all(u.startswith("tcp:127.0.0.1:") for u in urls)
        _, host, port = urls[1].split(":")
        beat = read_heartbeat(host, int(port), timeout_s=10)
        assert beat is not None and beat.sysid == 2


@pytest.mark.parametrize(("value", "expected"), [
    (None, "ARDUPILOT_SITL_BIN is not set"),
    ("/no/such/arducopter", "no such file"),
])
def test_real_sitl_unavailable_says_why(value: str | None, expected: str,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a usable program the ardupilot backend reports why; unknown names too."""
    from sitl.backend import unavailable_reason
    if value is None:
        monkeypatch.delenv("ARDUPILOT_SITL_BIN", raising=False)
    else:
        monkeypatch.setenv("ARDUPILOT_SITL_BIN", value)
    reason = unavailable_reason("ardupilot")
    assert reason is not None and expected in reason
    assert unavailable_reason("builtin") is None
    assert "unknown" in (unavailable_reason("gazebo") or "")


def test_unknown_backend_is_an_input_error() -> None:
    """make_backend refuses a name it does not know, listing the known ones."""
    from planner.errors import InputError
    from sitl.backend import make_backend
    with pytest.raises(InputError, match="builtin, ardupilot"):
        make_backend("gazebo")
