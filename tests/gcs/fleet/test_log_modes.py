"""Flight logs are readable by their owner only: the database, its WAL files and every
``.tlog`` are created 0600 in folders created 0700, whatever the process umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dropline.cli import main
from gcs.fleet.logs import FlightLog
from gcs.tlog.writer import TlogWriter
from planner.io.planfile import write_plan_json
from tests.gcs import helpers
from tests.gcs.helpers import SPEEDUP, one_sortie, tutorial_case

fleet_sim = helpers.fleet_sim


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that lets anyone read new files (0022), restored after."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


class _Message:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def get_msgbuf(self) -> bytes:
        return self.data


def test_flight_log_and_tlog_files_are_private(tmp_path: Path, open_umask: None) -> None:
    """A flight log opened directly creates its database (and WAL) 0600 in a 0700 folder;
    a flight's ``.tlog`` goes 0600 into a ``tlogs`` folder made 0700."""
    db = tmp_path / "logs" / "flights.db"
    flight_log = FlightLog(db)
    try:
        run_id = flight_log.start_run(plan_key="k" * 16, plan_name="tutorial").id
        flight_log.open_flight(run_id, sortie_id="S1", vehicle="hub/quad/1", sysid=1)
        writer = TlogWriter(flight_log.tlog_path(run_id, "S1", 1))
        writer.write(_Message(b"\xfd\x09\x00\x00\x00\x01\x01\x00\x00\x00"))
        writer.close()
        files = [db, db.with_name("flights.db-wal"), flight_log.tlog_path(run_id, "S1", 1)]
        assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}
        assert _mode(db.parent) == 0o700 and _mode(flight_log.tlog_dir) == 0o700
        assert flight_log.tlog_path(run_id, "S1", 1).stat().st_size == 18
    finally:
        flight_log.close()


def test_existing_files_are_narrowed_and_existing_folders_kept(tmp_path: Path,
                                                               open_umask: None) -> None:
    """A ``.tlog`` left readable by others is narrowed to 0600 when appended to; a folder the
    user chose keeps its mode."""
    tmp_path.chmod(0o755)
    old = tmp_path / "old.tlog"
    old.write_bytes(b"")
    old.chmod(0o644)
    TlogWriter(old).close()
    assert _mode(old) == 0o600 and _mode(tmp_path) == 0o755


@pytest.mark.sitl
@pytest.mark.slow
def test_dropline_fly_writes_private_logs(fleet_sim: Any, tmp_path: Path, open_umask: None,
                                          capsys: Any) -> None:
    """``dropline fly`` of a one-drop plan on the built-in simulator leaves its database and
    the flight's ``.tlog`` 0600 in folders made 0700."""
    folder = tmp_path / "plan"
    folder.mkdir()
    write_plan_json(folder / "plan.json", one_sortie(tutorial_case(3)))
    fleet = fleet_sim(tutorial_case(3), 1)
    db = tmp_path / "log" / "fly.db"
    code = main(["fly", str(folder),
                 *[a for url in fleet.connection_strings for a in ("--connect", url)],
                 "--db", str(db), "--speedup", str(SPEEDUP), "--reset-battery",
                 "--timeout", "120"])
    assert code == 0, capsys.readouterr().out
    flight_log = FlightLog(db)
    try:
        [flight] = flight_log.flights()
        tlog = Path(flight.tlog_path or "")
        assert tlog.stat().st_size > 0
    finally:
        flight_log.close()
    written = [p for p in db.parent.rglob("*") if p.is_file()]
    assert tlog in written and db in written
    assert {p.name: _mode(p) for p in written} == {p.name: 0o600 for p in written}
    assert {_mode(p) for p in (db.parent, tlog.parent)} == {0o700}
