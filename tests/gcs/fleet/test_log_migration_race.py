"""Flight logs opened at once on one new SQLite file (replays fly missions in parallel
threads; workers start together): each migration waits for the other, none fails."""

from __future__ import annotations

import threading
from pathlib import Path

from gcs.fleet.logs import FlightLog


def test_threads_opening_one_new_flight_log_at_once_all_succeed(tmp_path: Path) -> None:
    """Eight threads open the same new database together: every one gets a working log."""
    path = tmp_path / "flight.db"
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []
    run_ids: list[int] = []

    def open_one() -> None:
        barrier.wait()
        try:
            log = FlightLog(path, tlog_dir=tmp_path)
            try:
                run_ids.append(log.start_run(plan_key="k", plan_name="p", resume=False).id)
            finally:
                log.close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(run_ids) == list(range(1, 9))
