"""``dropline sim`` and ``dropline sitl`` as a user runs them."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dropline.cli import main
from dropline.commands._inputs import parse_home, sim_inputs
from dropline.commands.sim import ConsoleCommand, FaultConsole, Verb, parse_console_line
from planner.errors import InputError
from sitl.ardupilot import read_state
from sitl.ardupilot._process import pid_alive
from tests.helpers.ports import free_base_port
from tests.helpers.shared_data import REPO, TUTORIAL
from tests.sitl.helpers_fakes import RecordingVehicle, write_fake

HOME = "44.0618,-71.1369,160"


# -- pure parsing ------------------------------------------------------------------------------
@pytest.mark.parametrize(("line", "expected"), [
    ("fault 2 loss 0.3", ConsoleCommand(verb=Verb.FAULT, vehicle=2, fault="loss", value=0.3)),
    ("fault 1 cut 10", ConsoleCommand(verb=Verb.FAULT, vehicle=1, fault="cut", value=10.0)),
    ("fault 3 battery 0.5",
     ConsoleCommand(verb=Verb.FAULT, vehicle=3, fault="battery", value=0.5)),
    ("fault 1 gps off", ConsoleCommand(verb=Verb.FAULT, vehicle=1, fault="gps", value=1.0)),
    ("fault 1 GPS on", ConsoleCommand(verb=Verb.FAULT, vehicle=1, fault="gps", value=0.0)),
    ("fault 2 motor", ConsoleCommand(verb=Verb.FAULT, vehicle=2, fault="motor")),
    ("fault 2 latency 0.25",
     ConsoleCommand(verb=Verb.FAULT, vehicle=2, fault="latency", value=0.25)),
    ("fault 2 link ok", ConsoleCommand(verb=Verb.FAULT, vehicle=2, fault="link_ok")),
    ("  status ", ConsoleCommand(verb=Verb.STATUS)),
    ("quit", ConsoleCommand(verb=Verb.QUIT)),
    ("help", ConsoleCommand(verb=Verb.HELP)),
    ("", None),
])
def test_console_lines_parse(line: str, expected: ConsoleCommand | None) -> None:
    """Every documented console command parses to what it says."""
    assert parse_console_line(line, vehicles=3) == expected


@pytest.mark.parametrize(("line", "message"), [
    ("fault 4 loss 0.1", "vehicle number 1..3"),
    ("fault 0 motor", "vehicle number 1..3"),
    ("fault 1.5 motor", "vehicle number"),
    ("fault 1 loss 1.5", "share"),
    ("fault 1 cut -1", "seconds"),
    ("fault 1 gps maybe", "cannot parse"),
    ("fault 1 motor now", "cannot parse"),
    ("fault 1 explode", "cannot parse"),
    ("launch", "unknown command"),
])
def test_bad_console_lines_say_what_was_expected(line: str, message: str) -> None:
    """Malformed lines raise ValueError naming what was expected."""
    with pytest.raises(ValueError, match=message):
        parse_console_line(line, vehicles=3)


@pytest.mark.parametrize(("text", "lo", "hi", "expected"), [
    ("44.1,-71.2", 2, 3, (44.1, -71.2)),
    ("44.1, -71.2, 300", 2, 3, (44.1, -71.2, 300.0)),
    ("44.1,-71.2,300,90", 3, 4, (44.1, -71.2, 300.0, 90.0)),
])
def test_home_parses(text: str, lo: int, hi: int, expected: tuple[float, ...]) -> None:
    """--home accepts LAT,LON[,ALT[,HDG]] within the allowed count."""
    assert parse_home(text, min_values=lo, max_values=hi) == expected


@pytest.mark.parametrize("text", ["44.1", "44,-71,1,2,3", "north,-71", "95,10", "44,nan"])
def test_bad_home_is_an_input_error(text: str) -> None:
    """A malformed --home is an InputError naming the option."""
    with pytest.raises(InputError) as info:
        parse_home(text, min_values=2, max_values=4)
    assert info.value.field == "--home"


def test_scenario_gives_home_dem_altitude_drone_type_and_wind() -> None:
    """With --scenario only, home is the first depot at the DEM height, as its drone type."""
    inputs = sim_inputs(None, str(TUTORIAL), None)
    assert inputs.home[:2] == pytest.approx((44.061813, -71.136854))
    assert inputs.dem is not None
    assert inputs.home[2] == pytest.approx(
        float(inputs.dem.elevation_amsl_m(inputs.home[1], inputs.home[0])))
    assert 100 < inputs.home[2] < 400
    assert inputs.drone_type is not None and inputs.drone_type.id == "heavy_octo"
    assert inputs.wind is not None


def test_home_altitude_defaults_to_zero_without_dem() -> None:
    """Without a scenario, a home with no altitude is at 0 m AMSL."""
    assert sim_inputs("10.5,20.5", None, None).home == (10.5, 20.5, 0.0)


@pytest.mark.parametrize(("home", "scenario", "dtype", "message"), [
    (None, None, None, "--home"),
    (HOME, None, "heavy_octo", "needs --scenario"),
    (None, str(TUTORIAL), "nope", "no drone type 'nope'"),
])
def test_sim_inputs_refuse_incomplete_options(home: str | None, scenario: str | None,
                                              dtype: str | None, message: str) -> None:
    """Missing home, a drone type without scenario, or an unknown type are input errors."""
    with pytest.raises(InputError, match=message):
        sim_inputs(home, scenario, dtype)


class RecordingFleet:
    """Stands in for BuiltinFleet.vehicle(i)."""

    def __init__(self, n: int) -> None:
        self.vehicles = [RecordingVehicle() for _ in range(n)]

    def vehicle(self, index: int) -> RecordingVehicle:
        return self.vehicles[index]


def test_console_applies_faults_to_the_right_vehicle() -> None:
    """Link faults accumulate per vehicle until 'link ok'; the others map to one call each."""
    fleet = RecordingFleet(3)
    out = io.StringIO()
    console = FaultConsole(fleet, 3, out)
    lines = ["fault 2 loss 0.3", "fault 2 latency 0.5", "fault 2 link ok", "fault 1 cut 10",
             "fault 3 battery 0.5", "fault 1 gps off", "fault 1 gps on", "fault 3 motor",
             "bogus", "status"]
    assert all(console.run_line(line) for line in lines)
    assert not console.run_line("quit")
    assert fleet.vehicles[1].calls == [("link", {"loss": 0.3}),
                                       ("link", {"loss": 0.3, "latency_s": 0.5}),
                                       ("link", {})]
    assert fleet.vehicles[0].calls == [("cut", 10.0), ("gps", True), ("gps", False)]
    assert fleet.vehicles[2].calls == [("battery", 0.5), ("motor", None)]
    text = out.getvalue()
    assert "error: unknown command 'bogus'" in text
    assert "vehicle 3: lat_deg=44.1234568 mode=GUIDED battery_pct=87.46" in text


def test_help_documents_every_console_command(capsys: pytest.CaptureFixture[str]) -> None:
    """dropline sim --help lists the fault commands."""
    with pytest.raises(SystemExit):
        main(["sim", "--help"])
    out = capsys.readouterr().out
    for word in ("fault V loss P", "fault V cut S", "fault V battery F", "fault V gps off|on",
                 "fault V motor", "status", "quit"):
        assert word in out


# -- dropline sim, end to end ------------------------------------------------------------------
def run_cli(*args: str) -> subprocess.Popen[str]:
    """``python -m dropline.cli ARGS`` with pipes for stdin, stdout and stderr."""
    return subprocess.Popen([sys.executable, "-m", "dropline.cli", *args], cwd=REPO,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.fixture
def sim_proc() -> Iterator[tuple[subprocess.Popen[str], int]]:
    """A running ``dropline sim`` with two vehicles, and its base port."""
    base = free_base_port(2)
    proc = run_cli("sim", "--vehicles", "2", "--home", HOME, "--speedup", "20", "--seed", "3",
                   "--base-port", str(base))
    yield proc, base
    if proc.poll() is None:
        proc.kill()
    proc.communicate(timeout=10)


def read_urls(proc: subprocess.Popen[str], n: int) -> list[str]:
    """The first ``n`` lines the command prints: one connection string per vehicle."""
    assert proc.stdout is not None and proc.stderr is not None
    urls = [proc.stdout.readline().strip() for _ in range(n)]
    if not all(urls):
        proc.kill()
        pytest.fail(f"the command printed {urls} and ended: {proc.stderr.read()}")
    return urls


@pytest.mark.sitl
def test_sim_prints_urls_serves_vehicles_and_quits(
        sim_proc: tuple[subprocess.Popen[str], int]) -> None:
    """dropline sim prints one URL per vehicle, each answers as its own system, console
    commands reach the fleet and 'quit' stops it with status 0."""
    from tests.sitl.helpers_mavclient import MavClient
    proc, base = sim_proc
    urls = read_urls(proc, 2)
    assert urls == [f"tcp:127.0.0.1:{base}", f"tcp:127.0.0.1:{base + 10}"]
    for i, url in enumerate(urls):
        with MavClient(url, target_system=i + 1) as client:
            assert client.wait_heartbeat(10).get_srcSystem() == i + 1
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("fault 1 gps off\nfault 2 loss 0.2\nstatus\nfault 9 motor\nquit\n")
    proc.stdin.flush()
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "ok: vehicle 1 gps 1" in out and "ok: vehicle 2 loss 0.2" in out
    assert "vehicle 1: " in out and "vehicle 2: " in out
    assert "error: expected a vehicle number 1..2" in out
    assert "Traceback" not in err


@pytest.mark.sitl
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sim_stops_cleanly_on_signals(sim_proc: tuple[subprocess.Popen[str], int],
                                      sig: signal.Signals) -> None:
    """SIGTERM and Ctrl-C stop the fleet, free its ports and exit 0."""
    from sitl.ardupilot.health import port_listening
    proc, base = sim_proc
    read_urls(proc, 2)
    assert port_listening("127.0.0.1", base)
    proc.send_signal(sig)
    _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "stopped" in err and "Traceback" not in err
    assert not port_listening("127.0.0.1", base)


@pytest.mark.sitl
def test_sim_with_scenario_starts_at_the_depot() -> None:
    """dropline sim --scenario flies from the first depot at the DEM's height."""
    from tests.sitl.helpers_mavclient import MavClient
    base = free_base_port(1)
    proc = run_cli("sim", "--scenario", str(TUTORIAL), "--speedup", "20",
                   "--base-port", str(base))
    try:
        (url,) = read_urls(proc, 1)
        with MavClient(url) as client:
            client.request_streams(4)
            pos = client.expect("GLOBAL_POSITION_INT", 10)
        expected = sim_inputs(None, str(TUTORIAL), None).home
        assert (pos.lat / 1e7, pos.lon / 1e7) == pytest.approx(expected[:2], abs=1e-4)
        assert pos.alt / 1000 == pytest.approx(expected[2], abs=5)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
    assert proc.returncode == 0


def test_sim_bad_input_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """A malformed --home exits 2 with the option named."""
    assert main(["sim", "--home", "north"]) == 2
    assert "--home" in capsys.readouterr().err


# -- dropline sitl -----------------------------------------------------------------------------
def test_sitl_start_without_binary_exits_2(capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    """No --binary and no ARDUPILOT_SITL_BIN: exit 2 saying how to give the program."""
    monkeypatch.delenv("ARDUPILOT_SITL_BIN", raising=False)
    assert main(["sitl", "start", "--home", HOME, "--workdir", str(tmp_path)]) == 2
    assert "ARDUPILOT_SITL_BIN" in capsys.readouterr().err


def test_sitl_start_status_stop(tmp_path: Path) -> None:
    """sitl start runs instances until 'sitl stop' from another process ends it cleanly."""
    fake = write_fake(tmp_path)
    work = tmp_path / "work"
    base = free_base_port(2)
    proc = run_cli("sitl", "start", "--binary", str(fake), "--instances", "2", "--home",
                   HOME + ",45", "--speedup", "10", "--workdir", str(work), "--base-port",
                   str(base), "--param", "FENCE_ENABLE=1")
    try:
        urls = read_urls(proc, 2)
        assert urls == [f"tcp:127.0.0.1:{base}", f"tcp:127.0.0.1:{base + 10}"]
        state = read_state(work)
        assert state is not None and state.launcher_pid == proc.pid
        pids = [r.pid for r in state.instances]
        status = subprocess.run([sys.executable, "-m", "dropline.cli", "sitl", "status",
                                 "--workdir", str(work)], cwd=REPO, capture_output=True,
                                text=True, check=False)
        assert status.returncode == 0, status.stderr
        assert status.stdout.count("running, listening") == 2
        again = subprocess.run([sys.executable, "-m", "dropline.cli", "sitl", "start",
                                "--binary", str(fake), "--home", HOME, "--workdir", str(work)],
                               cwd=REPO, capture_output=True, text=True, check=False)
        assert again.returncode == 2 and "already runs" in again.stderr
        stop = subprocess.run([sys.executable, "-m", "dropline.cli", "sitl", "stop",
                               "--workdir", str(work)], cwd=REPO, capture_output=True,
                              text=True, check=False)
        assert stop.returncode == 0, stop.stderr
        assert str(proc.pid) in stop.stdout
        _out, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err
        assert not any(pid_alive(p) for p in pids)
        assert read_state(work) is None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_sitl_start_exits_1_when_an_instance_dies(tmp_path: Path) -> None:
    """An instance that exits while running ends 'sitl start' with status 1 and its output."""
    fake = write_fake(tmp_path)
    env = {**os.environ, "FAKE_SITL_EXIT_AFTER_S": "1.5"}
    proc = subprocess.run([sys.executable, "-m", "dropline.cli", "sitl", "start", "--binary",
                           str(fake), "--home", HOME, "--workdir", str(tmp_path / "w"),
                           "--base-port", str(free_base_port(1))], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode == 1
    assert "status 3" in proc.stderr and "fake failure" in proc.stderr


def test_sitl_stop_without_launcher_is_an_error(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """sitl stop in a folder with no state file fails and says so."""
    assert main(["sitl", "stop", "--workdir", str(tmp_path)]) == 2
    assert "no running SITL launcher" in capsys.readouterr().err
    assert main(["sitl", "status", "--workdir", str(tmp_path)]) == 1


def test_sitl_stop_cleans_up_after_a_killed_launcher(tmp_path: Path) -> None:
    """When the launcher was killed, sitl stop ends leftover instances and the state file."""
    fake = write_fake(tmp_path)
    work = tmp_path / "work"
    proc = run_cli("sitl", "start", "--binary", str(fake), "--home", HOME, "--workdir",
                   str(work), "--base-port", str(free_base_port(1)))
    read_urls(proc, 1)
    state = read_state(work)
    assert state is not None
    proc.kill()
    proc.communicate(timeout=10)
    assert main(["sitl", "stop", "--workdir", str(work)]) == 0
    assert not any(pid_alive(r.pid) for r in state.instances)
    assert read_state(work) is None


@pytest.mark.sitl
def test_sim_udp_serves_both_transports() -> None:
    """With --udp the printed strings are udpout: and vehicles answer over UDP and TCP."""
    from tests.sitl.helpers_mavclient import MavClient
    base = free_base_port(2)
    proc = run_cli("sim", "--vehicles", "2", "--home", HOME, "--speedup", "20", "--udp",
                   "--base-port", str(base))
    try:
        urls = read_urls(proc, 2)
        assert urls == [f"udpout:127.0.0.1:{base}", f"udpout:127.0.0.1:{base + 10}"]
        with MavClient(urls[1], target_system=2) as client:
            assert client.wait_heartbeat(10).get_srcSystem() == 2
        with MavClient(f"tcp:127.0.0.1:{base}") as client:
            assert client.wait_heartbeat(10).get_srcSystem() == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
    assert proc.returncode == 0
