"""Every ``dropline`` command exits with a code of one table, one code per class of outcome."""

from __future__ import annotations

import doctest
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dropline.cli import main
from dropline.commands import _inputs, exit_codes
from dropline.commands import plan as plan_commands
from dropline.commands.exit_codes import ExitCode, exit_code_for
from gcs.errors import (
    CommandRejected,
    FleetError,
    LinkTimeout,
    MissionTransferError,
    PreflightFailed,
    SigningError,
    VehicleNotCapable,
)
from planner.errors import InfeasibleError, InputError, ScenarioError, VerificationError
from sitl.errors import SimulatorError, SitlBinaryError, SitlLaunchError
from tests.helpers.cli import run_main
from tests.helpers.ports import free_base_port, free_udp_port
from tests.helpers.shared_data import REPO, TUTORIAL

#: A mission from the tutorial depot that flies its only waypoint 50 m below home.
BELOW_GROUND = """QGC WPL 110
0\t1\t0\t16\t0\t0\t0\t0\t44.061813\t-71.136854\t0\t1
1\t0\t3\t22\t0\t0\t0\t0\t44.061813\t-71.136854\t40\t1
2\t0\t3\t16\t0\t0\t0\t0\t44.0650\t-71.1300\t-50\t1
3\t0\t3\t20\t0\t0\t0\t0\t0\t0\t0\t1
"""



def _silent_udp_url() -> str:
    """A UDP address nothing sends to."""
    return f"udpin:127.0.0.1:{free_udp_port()}"


def test_the_table_holds_one_code_per_class_of_outcome() -> None:
    """0 ok, 1 check failed, 2 bad input, 3 rejected, 4 unreachable, 130 interrupted."""
    assert {c.name: int(c) for c in ExitCode} == {
        "OK": 0, "CHECK_FAILED": 1, "BAD_INPUT": 2, "REJECTED": 3, "UNREACHABLE": 4,
        "INTERRUPTED": 130}


@pytest.mark.parametrize(("error", "code"), [
    (InputError("expected a number", field="--seed"), ExitCode.BAD_INPUT),
    (ScenarioError("no depot", path="scenario.toml"), ExitCode.BAD_INPUT),
    (SitlBinaryError("no arducopter"), ExitCode.BAD_INPUT),
    (InfeasibleError("no drop can be served"), ExitCode.BAD_INPUT),
    (SimulatorError("a launcher already runs"), ExitCode.BAD_INPUT),
    (VerificationError(["S001 item 4: below the ground"]), ExitCode.REJECTED),
    (CommandRejected("ARM", "DENIED", sysid=1), ExitCode.REJECTED),
    (PreflightFailed(["gps: no fix"], sysid=1), ExitCode.REJECTED),
    (VehicleNotCapable(["GRIP_ENABLE is 0"], sysid=1), ExitCode.REJECTED),
    (MissionTransferError("item 3 differs", mission_type=0), ExitCode.REJECTED),
    (SigningError("no signed message"), ExitCode.REJECTED),
    (LinkTimeout("COMMAND_ACK for ARM", timeout_s=3.0), ExitCode.UNREACHABLE),
    (FleetError("the plan flies 2 vehicles but 1 answered"), ExitCode.UNREACHABLE),
    (SitlLaunchError("instance 0 exited with status 3"), ExitCode.CHECK_FAILED),
    (KeyboardInterrupt(), ExitCode.INTERRUPTED),
])
def test_each_error_class_maps_to_its_code(error: BaseException, code: ExitCode) -> None:
    """The one mapping from error classes to exit codes."""
    assert exit_code_for(error) is code


def test_an_error_that_is_not_droplines_has_no_code() -> None:
    """A bug is not turned into an exit code."""
    assert exit_code_for(ZeroDivisionError()) is None


@pytest.mark.parametrize("module", [exit_codes, _inputs])
def test_examples_run(module: Any) -> None:
    """The docstring examples of the table and of the shared option checks hold."""
    assert doctest.testmod(module).failed == 0


@pytest.mark.parametrize(("argv", "named"), [
    (["plan", "{tmp}/nope", "-o", "{tmp}/out"], "nope"),
    (["verify", "{tmp}/nope.waypoints", "--scenario", str(TUTORIAL)], "nope.waypoints"),
    (["sim", "--home", "44,-71", "--speedup", "0"], "--speedup"),
    (["sim", "--home", "44,-71", "--base-port", "70000"], "--base-port"),
    (["sitl", "stop", "--workdir", "{tmp}"], "no running SITL launcher"),
    (["replay", "{tmp}/a.waypoints", "--parallel", "0"], "--parallel"),
    (["replay-log", "{tmp}/a.tlog", "--speed", "-1"], "--speed"),
    (["fly", "{tmp}", "--connect", "udpin:127.0.0.1:1"], "{tmp}"),
    (["serve", "--port", "70000", "--data-dir", "{tmp}/data"], "--port"),
    (["serve", "--speedup", "nan", "--data-dir", "{tmp}/data"], "--speedup"),
])
def test_bad_input_exits_2(argv: list[str], named: str, tmp_path: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    """A wrong file, folder, option or value exits 2 with one line naming it, no traceback."""
    code, _, err = run_main([a.replace("{tmp}", str(tmp_path)) for a in argv], capsys)
    assert code == ExitCode.BAD_INPUT
    assert err.startswith("error: ") and "Traceback" not in err
    assert named.replace("{tmp}", str(tmp_path)) in err


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """A missing argument or unknown option is bad input too."""
    code, _, err = run_main(["plan", str(TUTORIAL)], capsys)
    assert code == ExitCode.BAD_INPUT and "--out" in err


def test_bad_input_exits_2_from_the_console_script(tmp_path: Path) -> None:
    """The process itself ends with status 2 on bad input."""
    proc = subprocess.run([sys.executable, "-m", "dropline.cli", "replay",
                           str(tmp_path / "a.waypoints"), "--speedup", "-3"],
                          cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == ExitCode.BAD_INPUT, proc.stderr
    assert "--speedup" in proc.stderr and "Traceback" not in proc.stderr


def test_verify_violations_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A mission the verifier faults is a failed check: exit 1 with every violation listed."""
    mission = tmp_path / "low.waypoints"
    mission.write_text(BELOW_GROUND)
    code, out, _ = run_main(["verify", str(mission), "--scenario", str(TUTORIAL)], capsys)
    assert code == ExitCode.CHECK_FAILED
    assert "agl_low" in out and "violations in 1 sorties" in out


def test_sitl_status_without_instances_exits_1(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """``sitl status`` checks that instances run: none recorded is a failed check."""
    code, out, _ = run_main(["sitl", "status", "--workdir", str(tmp_path)], capsys)
    assert code == ExitCode.CHECK_FAILED and "no SITL launcher" in out


def test_plan_rejected_by_the_verifier_exits_3(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """A plan the verifier rejects exits 3, says nothing flyable was written, writes nothing."""
    def rejected(*_args: Any, **_kwargs: Any) -> Any:
        raise VerificationError(["S001 item 4: below the ground"])

    monkeypatch.setattr(plan_commands, "make_plan", rejected)
    out = tmp_path / "out"
    code, _, err = run_main(["plan", str(TUTORIAL), "-o", str(out), "--no-progress"], capsys)
    assert code == ExitCode.REJECTED
    assert "plan rejected by the verifier" in err and "nothing flyable was written" in err
    assert not out.exists()


@pytest.mark.sitl
@pytest.mark.parametrize("argv", [
    ["status", "--wait", "0.3"],
    ["rtl", "--wait", "0.3"],
    ["rtl", "--wait", "0.3", "--sysid", "7"],
])
def test_no_vehicle_answering_exits_4(argv: list[str],
                                      capsys: pytest.CaptureFixture[str]) -> None:
    """Nothing answering on the link: exit 4 saying no vehicle was heard."""
    code, _, err = run_main([*argv, "--connect", _silent_udp_url()], capsys)
    assert code == ExitCode.UNREACHABLE
    assert err.startswith("error: ") and "heard" in err


@pytest.mark.sitl
@pytest.mark.slow
def test_vehicle_refusing_signing_exits_3(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """A vehicle holding another signing key refuses ours: exit 3 before any command is sent."""
    from gcs.link import Link
    from gcs.signing import enable_signing
    from sitl.builtin import BuiltinFleet

    fleet = BuiltinFleet(vehicles=1, home=(44.061813, -71.136854, 176.0), speedup=20.0,
                         base_port=free_base_port(1), settle_s=2.0)
    fleet.start()
    try:
        with Link(fleet.connection_strings[0]) as link:
            assert link.wait(lambda m: m.get_type() == "HEARTBEAT", 10.0) is not None
            enable_signing(link, [1], bytes(range(32)))
        key_file = tmp_path / "other.key"
        key_file.write_text(bytes(range(1, 33)).hex() + "\n")
        code, _, err = run_main(["rtl", "--connect", fleet.connection_strings[0], "--sysid", "1",
                             "--wait", "3", "--sign-key-file", str(key_file)], capsys)
        assert code == ExitCode.REJECTED
        assert "signing" in err and "Traceback" not in err
        assert fleet.vehicle(0).snapshot().mode != "RTL"
    finally:
        fleet.stop()


def test_ctrl_c_exits_130(monkeypatch: pytest.MonkeyPatch,
                          capsys: pytest.CaptureFixture[str]) -> None:
    """Ctrl-C during a command that ends by itself exits 130."""
    def interrupted(_args: Any) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(plan_commands, "verify_command", interrupted)
    code, _, err = run_main(["verify", "x.plan", "--scenario", str(TUTORIAL)], capsys)
    assert code == ExitCode.INTERRUPTED and "interrupted" in err


def test_a_bug_keeps_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    """An error that is not dropline's is not hidden behind an exit code."""
    def broken(_args: Any) -> int:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(plan_commands, "verify_command", broken)
    with pytest.raises(ZeroDivisionError):
        main(["verify", "x.plan", "--scenario", str(TUTORIAL)])


def test_readme_lists_every_code() -> None:
    """The README's exit-code table has a row for every code of the table."""
    text = (REPO / "README.md").read_text()
    section = text.split("### Exit codes", 1)[1].split("\n#", 1)[0]
    rows = {int(m) for m in re.findall(r"^\| (\d+) \|", section, flags=re.MULTILINE)}
    assert rows == {int(c) for c in ExitCode}


def test_plan_out_that_is_a_file_exits_2(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """``plan -o`` naming a file (not a folder) is bad input: exit 2 naming --out, no traceback,
    and the file is left as it was."""
    target = tmp_path / "taken"
    target.write_text("not a folder")
    code = main(["plan", str(TUTORIAL), "-o", str(target), "--no-progress"])
    err = capsys.readouterr().err
    assert code == ExitCode.BAD_INPUT, err
    assert "field '--out'" in err and "cannot write the plan folder" in err, err
    assert "Traceback" not in err
    assert target.read_text() == "not a folder"


def test_sign_with_a_database_url_asks_for_a_key_file() -> None:
    """``--sign`` keeps keys beside a --db file; a database URL has no beside: refused, named."""
    import argparse

    from dropline.commands.fly import signing_keys

    args = argparse.Namespace(db="postgresql://fleet@db.example/dropline", sign=True,
                              sign_key_file=None)
    with pytest.raises(InputError, match="--sign-key-file") as caught:
        signing_keys(args)
    assert exit_code_for(caught.value) == ExitCode.BAD_INPUT
