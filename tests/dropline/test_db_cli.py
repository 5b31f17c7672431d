"""``dropline db``: upgrade and current on PostgreSQL, copying a one-hub setup's SQLite files
into an empty PostgreSQL database with the same rows and ids, and one-line errors (exit 2) for
a non-empty target, bad URLs, an unreachable server and a wrong password."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from gcs.fleet import logs
from gcs.fleet.failsafe import Alert, AlertKind, Severity
from gcs.fleet.logs import FlightLog
from gcs.fleet.tracking import DropEvent, DropState
from tests.helpers.cli import run_main
from tests.helpers.ports import free_tcp_port
from tests.helpers.postgres import PASSWORD, PASSWORD_USER, PostgresServer
from web import db as tables
from web.db import Database


def _table_rows(url: str, metadata: sa.MetaData) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table of ``metadata`` in the database of ``url``, by key."""
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            return {t.name: [tuple(r) for r in conn.execute(
                sa.select(t).order_by(*t.primary_key.columns))]
                for t in metadata.sorted_tables if t.name != "schema_version"}
    finally:
        engine.dispose()


def _hub_files(folder: Path) -> tuple[Path, Path]:
    """A console database and a flight log with rows in every table that has ids."""
    console, flights = folder / "console.db", folder / "flights.db"
    db = Database(f"sqlite:///{console}")
    db.write(sa.insert(tables.users).values(username="olga", password_hash="h", role="admin",
                                            created_at=1.0, disabled=False))
    for i in range(5):
        db.audit(username="olga", action=f"rtl {i}", target="vehicle 1", result="ok")
    db.write(sa.delete(tables.audit_log).where(tables.audit_log.c.id == 2))  # a gap in the ids
    db.write(sa.insert(tables.plans).values(
        id="p1", name="tutorial", folder="/x", edits="{}", state="done", created_by="olga",
        created_at=2.0, lineage_id="p1", version=1))
    db.write(sa.insert(tables.parcels).values(token="t1", plan_id="p1", lineage_id="p1",
                                              drop_id="P014", created_at=3.0, delivered_at=4.0,
                                              delivered_run_id=1))
    db.close()
    log = FlightLog(flights)
    run = log.start_run(plan_key="k", plan_name="p", plan_path="/x/plan.json")
    log.record_vehicle(run.id, name="a", sysid=1, link_url="udp:x")
    flight = log.open_flight(run.id, sortie_id="S1", vehicle="a", sysid=1)
    log.record_alert(run.id, Alert(kind=AlertKind.BATTERY_LOW, severity=Severity.WARNING,
                                   message="low", sysid=1, sortie_id="S1", at_s=0.0),
                     flight_id=flight)
    log.record_drop_event(run.id, DropEvent(drop_id="P014", sortie_id="S1",
                                            state=DropState.DELIVERED, at_s=1.0, lat_deg=44.0,
                                            lon_deg=-71.0), flight_id=flight)
    log.close()
    return console, flights


def test_upgrade_and_current_on_postgresql(postgres_url: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """``db current`` shows an empty database unmigrated, ``db upgrade`` migrates both stores
    and a second upgrade finds them at the head."""
    code, out, _ = run_main(["db", "current", "--database", postgres_url], capsys)
    assert code == 0 and "console: none" in out and "flight log: none" in out
    code, out, _ = run_main(["db", "upgrade", "--database", postgres_url], capsys)
    assert code == 0 and "console: migrated to c0002" in out, out
    assert "flight log: migrated to fl0002" in out
    code, out, _ = run_main(["db", "upgrade", "--database", postgres_url], capsys)
    assert code == 0 and out.count("already at") == 2, out
    code, out, _ = run_main(["db", "current", "--database", postgres_url], capsys)
    assert out.splitlines() == ["console: c0002 (head)", "flight log: fl0002 (head)"]


def test_copy_keeps_every_row_and_id(tmp_path: Path, postgres_url: str,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    """Both SQLite files copied into PostgreSQL give the same rows with the same ids, new rows
    continue after the copied ids, and a second copy into the same database is refused."""
    console, flights = _hub_files(tmp_path)
    code, out, err = run_main(["db", "copy", "--from", str(console), "--from",
                               f"sqlite:///{flights}", "--to", postgres_url], capsys)
    assert code == 0, err
    assert "4 audit_log" in out and "1 delivery_events" in out
    for metadata, source in ((tables.metadata, console), (logs.metadata, flights)):
        assert _table_rows(postgres_url, metadata) == \
            _table_rows(f"sqlite:///{source}", metadata)
    db = Database(postgres_url)
    try:
        db.audit(username="olga", action="land", target="vehicle 1", result="ok")
        assert max(r.id for r in db.rows(sa.select(tables.audit_log))) == 6
    finally:
        db.close()
    log = FlightLog(postgres_url, tlog_dir=tmp_path / "tlogs")
    try:
        assert log.start_run(plan_key="k2", plan_name="p").id == 2
        assert log.delivered_drops("k") == {"P014": 1}
    finally:
        log.close()
    code, _, err = run_main(["db", "copy", "--from", str(console), "--to", postgres_url],
                            capsys)
    assert code == 2 and "not empty" in err and "Traceback" not in err, err


@pytest.mark.parametrize("case", ["scheme", "garbage", "closed port", "password",
                                  "no file"])
def test_bad_databases_are_one_line_errors(case: str, tmp_path: Path,
                                           postgres_server: PostgresServer,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """A bad URL, a closed port, a wrong password and a missing file exit 2 with one line and
    no password shown."""
    url = {
        "scheme": "mysql://u@127.0.0.1/x",
        "garbage": "postgresql://u@127.0.0.1:notaport/x",
        "closed port": f"postgresql://u@127.0.0.1:{free_tcp_port()}/x",
        "password": postgres_server.url(user=f"{PASSWORD_USER}:wrong-{PASSWORD}"),
        "no file": str(tmp_path / "missing.db"),
    }[case]
    code, out, err = run_main(["db", "current", "--database", url], capsys)
    assert code == 2 and out == "", (out, err)
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert f"wrong-{PASSWORD}" not in err


def test_the_right_password_is_accepted(postgres_server: PostgresServer,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """The role that needs a password connects with it (the wrong-password case is not a
    refusal of everything)."""
    url = postgres_server.url(user=f"{PASSWORD_USER}:{PASSWORD}", scheme="postgres")
    code, out, err = run_main(["db", "current", "--database", url], capsys)
    assert code == 0 and "console: none" in out, err
