"""``dropline fly``, ``upload``, ``status`` and ``rtl`` against the built-in simulator."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from dropline.cli import main
from gcs.fleet.logs import FlightLog
from gcs.link import Link
from gcs.storage import differences
from gcs.transfer import Target, download
from planner.io.planfile import read_plan_json, write_plan_json
from planner.items import MissionType
from planner.plan_model import Plan
from tests.gcs import helpers
from tests.gcs.helpers import SPEEDUP, one_sortie, tutorial_case
from tests.helpers.ports import free_udp_port

pytestmark = pytest.mark.sitl
fleet_sim = helpers.fleet_sim


@pytest.fixture
def one_sortie_plan(tmp_path: Path) -> Path:
    """A plan folder holding a one-drop sortie of the three-drone tutorial scenario."""
    folder = tmp_path / "plan"
    folder.mkdir()
    write_plan_json(folder / "plan.json", one_sortie(tutorial_case(3)))
    return folder


def _connect(fleet: Any) -> list[str]:
    return [arg for url in fleet.connection_strings for arg in ("--connect", url)]


@pytest.mark.slow
def test_fly_delivers_and_exits_zero(fleet_sim: Any, one_sortie_plan: Path, tmp_path: Path,
                                     capsys: Any) -> None:
    """``dropline fly`` flies the plan, prints progress and the delivery, records it, exits 0."""
    fleet = fleet_sim(tutorial_case(3), 1)
    db = tmp_path / "log" / "fly.db"
    code = main(["fly", str(one_sortie_plan), *_connect(fleet), "--db", str(db),
                 "--speedup", str(SPEEDUP), "--reset-battery", "--timeout", "120"])
    out = capsys.readouterr().out
    assert code == 0, out
    plan = read_plan_json(one_sortie_plan / "plan.json")
    [drop_id] = plan.served_drop_ids
    assert "flies as system 1" in out
    assert f"drop {drop_id} " in out and "delivered" in out
    assert "drops: 1/1 delivered" in out
    flight_log = FlightLog(db)
    [flight] = flight_log.flights()
    assert flight.state == "completed"
    assert Path(flight.tlog_path or "").is_file()
    assert fleet.vehicle(0).snapshot().gripper_released_count == 1
    flight_log.close()


def test_upload_verifies_and_status_and_rtl_answer(fleet_sim: Any, one_sortie_plan: Path,
                                                   capsys: Any) -> None:
    """upload leaves the vehicle holding the sortie; status shows it; rtl is confirmed."""
    fleet = fleet_sim(tutorial_case(3), 1)
    plan: Plan = read_plan_json(one_sortie_plan / "plan.json")
    assert main(["upload", str(one_sortie_plan), *_connect(fleet)]) == 0
    out = capsys.readouterr().out
    assert f"ready for sortie {plan.sorties[0].id}" in out
    with Link(fleet.connection_strings[0]) as link:
        assert link.wait(lambda m: m.get_type() == "HEARTBEAT", 5.0) is not None
        got = download(link, Target(sysid=1), MissionType.FENCE)
        assert differences(plan.sorties[0].fence, got, MissionType.FENCE) == []
    assert main(["status", *_connect(fleet), "--wait", "1"]) == 0
    out = capsys.readouterr().out
    assert "system   1 " in out and "GPS fix" in out
    assert main(["rtl", *_connect(fleet), "--sysid", "1", "--wait", "3"]) == 0
    assert "system 1: returning to launch" in capsys.readouterr().out


def test_upload_refuses_a_vehicle_without_gripper(fleet_sim: Any, one_sortie_plan: Path,
                                                  capsys: Any) -> None:
    """upload names the missing gripper and exits 1."""
    fleet = fleet_sim(tutorial_case(3), 1, params={"GRIP_ENABLE": 0})
    assert main(["upload", str(one_sortie_plan), *_connect(fleet)]) == 1
    assert "NOT ready" in capsys.readouterr().out


def test_no_vehicle_exits_four(one_sortie_plan: Path, tmp_path: Path, capsys: Any) -> None:
    """Nothing answering on the link: fly and status exit 4 with the reason."""
    port = free_udp_port()
    url = f"udpin:127.0.0.1:{port}"
    assert main(["fly", str(one_sortie_plan), "--connect", url, "--wait", "0.5",
                 "--db", str(tmp_path / "f.db")]) == 4
    assert "0 answered" in capsys.readouterr().err
    assert main(["status", "--connect", url, "--wait", "0.3"]) == 4


def test_missing_plan_is_bad_input(tmp_path: Path, capsys: Any) -> None:
    """A folder without plan.json is exit 2, naming it."""
    assert main(["fly", str(tmp_path), "--connect", "udpin:127.0.0.1:1"]) == 2
    assert "plan.json" in capsys.readouterr().err


class _FakeFleet:
    """Just what the progress display reads from a fleet manager."""

    def __init__(self) -> None:
        from gcs.fleet.status import Phase, VehicleStatus
        from gcs.fleet.tracking import DropState, DropStatus
        from gcs.telemetry import TelemetryHub

        self.hub = TelemetryHub()
        self.status = [VehicleStatus(name="hub/q/1", sysid=1, link_url="x", phase=Phase.FLYING,
                                     sortie_id="S001")]
        self.drop_list = [DropStatus(drop_id="D1", sortie_id="S001", vehicle="hub/q/1",
                                     state=DropState.EN_ROUTE, release_seq=4,
                                     planned_lat_deg=44.0, planned_lon_deg=-71.0,
                                     planned_eta_s=100.0, eta_remaining_s=75.0)]

    def vehicles(self) -> list[Any]:
        return self.status

    def drops(self) -> list[Any]:
        return self.drop_list


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("tty", [True, False])
def test_progress_display_redraws_or_prints_changes(tty: bool) -> None:
    """On a terminal the block is redrawn in place; elsewhere each change is printed once."""
    from dropline.commands._fly_display import ProgressDisplay

    out: io.StringIO = _Tty() if tty else io.StringIO()
    display = ProgressDisplay(_FakeFleet(), out)  # type: ignore[arg-type]
    display.update()
    display.update()
    text = out.getvalue()
    assert ("\x1b[" in text) == tty
    assert text.count("sys 1 ") == (2 if tty else 1)
    if tty:
        assert "next D1 in 1:15" in text
    display.update(final=True)
    assert "D1 (S001): en_route" in out.getvalue()
