"""Recipient notifications: out for delivery, a moved ETA, delivered and failed, through a
signed webhook to a real HTTP receiver and e-mail to a real SMTP server; each event once per
channel, also across a restart; retries, dead letters and their API."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from tests.helpers.shared_data import REPO
from tests.web.helpers import Client, make_app, services
from tests.web.helpers_notify import (
    SECRET,
    Inbox,
    Receiver,
    Run,
    receiver,
    recipients_plan,
    smtp_server,
    write_settings,
)
from web import create_app
from web.notify.config import load_notify_config


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as found:
        yield found


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    with smtp_server() as found:
        yield found


def _app(tmp_path: Path, settings: Path) -> Flask:
    return make_app(tmp_path / "data", NOTIFY=load_notify_config(settings),
                    NOTIFY_AUTOSTART=False)


def _restarted(tmp_path: Path, settings: Path) -> Flask:
    """The console started again on the same data folder (its users exist)."""
    return create_app({"DATA_DIR": str(tmp_path / "data"),
                       "MISSIONS_DIR": str(REPO / "missions"), "SAMPLE_SCENARIO": "tutorial",
                       "NOTIFY": load_notify_config(settings), "NOTIFY_AUTOSTART": False})


def _tick(app: Flask, rounds: int = 1) -> None:
    notify = services(app).notify
    assert notify is not None
    for _ in range(rounds):
        notify.tick()
        time.sleep(0.05)


def _kinds(hook: Receiver) -> list[tuple[str, str]]:
    return [(e["parcel"], e["event"]) for e in hook.events()]


def test_a_day_of_events_each_told_once_also_after_a_restart(
        tmp_path: Path, hook: Receiver, inbox: Inbox) -> None:
    """On its way, a moved ETA (not a small one), delivered, failed: each event reaches the
    webhook and (where there is an address) the mailbox exactly once, and a restarted console
    tells nothing again."""
    settings = write_settings(tmp_path / "conf", hook.url, inbox.port,
                              extra="eta_margin_min = 10")
    app = _app(tmp_path, settings)
    c = Client(app, "operator")
    plan_id = recipients_plan(app, c)
    run = Run(app, plan_id)
    _tick(app)
    assert hook.posts == [] and inbox.messages == []  # issued, nothing on its way yet

    eta = time.time() + 1200.0
    run.event("P014", "en_route", eta_at=eta)
    run.event("P020", "queued", eta_at=eta + 900.0)
    _tick(app, 2)
    assert _kinds(hook) == [("P014", "out_for_delivery")]
    out = hook.events()[0]
    assert out["recipient"] == {"phone": "+1 603 555 0142", "email": "anne@example.org"}
    assert out["tracking_url"] == f"https://hub.example.org/track/{run.tokens['P014']}"
    assert out["eta_at"] == pytest.approx(eta, abs=0.1)
    assert "North Conway hub" in out["text"] and "Expected around" in out["text"]

    run.event("P014", "en_route", eta_at=eta + 120.0)  # 2 min: within the margin
    _tick(app)
    assert len(hook.events()) == 1
    run.event("P014", "en_route", eta_at=eta + 1500.0)  # 25 min later
    run.event("P020", "en_route", eta_at=eta + 900.0)
    _tick(app, 2)
    assert _kinds(hook)[1:] == [("P014", "eta_changed"), ("P020", "out_for_delivery")]
    moved = hook.events()[1]
    assert moved["previous_eta_at"] == pytest.approx(eta, abs=0.1)

    run.event("P014", "delivered")
    run.event("P020", "failed", detail="vehicle 2 landed away from a depot (LAND)")
    run.end()
    _tick(app, 3)
    assert sorted(_kinds(hook)[3:]) == [("P014", "delivered"), ("P020", "failed")]
    failed = next(e for e in hook.events() if e["event"] == "failed")
    assert failed["reason"] == "The drone could not reach the drop point."
    assert "back at the hub" in failed["next_step"] and "LAND" not in failed["text"]

    # e-mail: P014's four events, none for P020 (no address)
    subjects = [m["Subject"] for m in inbox.messages]
    assert subjects == ["Your parcel P014 is on its way",
                        "New delivery time for your parcel P014",
                        "Your parcel P014 was delivered"]
    assert {m["To"] for m in inbox.messages} == {"anne@example.org"}
    assert len({m["Message-ID"] for m in inbox.messages}) == 3

    services(app).close()
    again = _restarted(tmp_path, settings)
    _tick(again, 3)
    assert len(hook.posts) == 5 and len(inbox.messages) == 3
    events = [e["id"] for e in hook.events()]
    assert len(set(events)) == len(events)
    rows = Client(again, "operator").get("/api/notifications").json
    assert rows["enabled"] and rows["channels"] == ["webhook", "email"]
    assert len(rows["notifications"]) == 8
    assert {r["state"] for r in rows["notifications"]} == {"sent"}
    services(again).close()


def test_webhook_is_signed_and_a_resend_after_a_failure_is_told_again(
        tmp_path: Path, hook: Receiver) -> None:
    """Every POST carries the event id, a timestamp and the HMAC-SHA256 of both with the
    body; a parcel re-sent after a failed delivery is on its way again (a new event)."""
    app = _app(tmp_path, write_settings(tmp_path / "conf", hook.url, None))
    c = Client(app, "operator")
    plan_id = recipients_plan(app, c)
    first = Run(app, plan_id)
    first.event("P020", "en_route", eta_at=time.time() + 600)
    _tick(app)
    first.event("P020", "failed", detail="skipped: not flown")
    first.end()
    _tick(app)
    second = Run(app, plan_id)
    second.event("P020", "en_route", eta_at=time.time() + 600)
    _tick(app)
    second.event("P020", "delivered")
    second.end()
    _tick(app, 2)
    assert [e["id"].split("/", 1)[1] for e in hook.events()] == [
        "P020/out/0", "P020/failed/0", "P020/out/1", "P020/delivered"]
    assert hook.events()[1]["reason"] == "The delivery flight did not take place."
    for headers, body in hook.posts:
        stamp = headers["X-Dropline-Timestamp"]
        mac = hmac.new(SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256)
        assert headers["X-Dropline-Signature"] == "sha256=" + mac.hexdigest()
        assert abs(int(stamp) - time.time()) < 60
        assert headers["X-Dropline-Event"].encode() in body
    services(app).close()


def test_retries_then_dead_letter_listed_and_queued_again(tmp_path: Path,
                                                           hook: Receiver) -> None:
    """A receiver failing with 503 is tried again until it takes the event; one answering 400
    makes a dead letter at once (audited), which an operator lists and queues again; a crew
    member may not see recipients or retry; a retry of a sent row is a 409."""
    app = _app(tmp_path, write_settings(tmp_path / "conf", hook.url, None,
                                        extra="max_attempts = 5"))
    c = Client(app, "operator")
    plan_id = recipients_plan(app, c)
    run = Run(app, plan_id)
    hook.statuses[:] = [503, 503]
    run.event("P014", "en_route", eta_at=time.time() + 600)
    _tick(app, 4)
    assert [h["_status"] for h, _ in hook.posts] == ["503", "503", "200"]
    sent = c.get("/api/notifications?state=sent").json["notifications"]
    assert [(r["parcel"], r["attempts"]) for r in sent] == [("P014", 3)]

    hook.statuses[:] = [400]
    run.event("P020", "en_route", eta_at=time.time() + 600)
    _tick(app, 3)
    dead = c.get("/api/notifications?state=dead").json["notifications"]
    assert len(dead) == 1 and dead[0]["parcel"] == "P020" and dead[0]["attempts"] == 1
    assert dead[0]["last_error"] == "the receiver answered HTTP 400"
    audit = services(app).db.audit_page(action="notification dead").rows
    assert len(audit) == 1 and "P020/out/0" in audit[0]["target"]

    crew = Client(app, "crew")
    assert crew.get("/api/notifications").status_code == 403
    assert crew.post(f"/api/notifications/{dead[0]['id']}/retry").status_code == 403
    assert c.http.post(f"/api/notifications/{dead[0]['id']}/retry").status_code == 400  # CSRF
    assert c.post(f"/api/notifications/{sent[0]['id']}/retry").status_code == 409
    assert c.post("/api/notifications/99999/retry").status_code == 404
    assert c.get("/api/notifications?state=lost").status_code == 400
    assert c.get("/api/notifications?limit=0").status_code == 400
    r = c.post(f"/api/notifications/{dead[0]['id']}/retry")
    assert r.status_code == 200 and r.json["state"] == "pending"
    _tick(app)
    assert [e["parcel"] for e in hook.events()] == ["P014", "P020"]
    assert services(app).db.audit_page(action="notification retry").rows[0]["username"] == \
        "operator"

    hook.statuses[:] = [500] * 10
    run.event("P014", "delivered")
    _tick(app, 8)
    dead = c.get("/api/notifications?state=dead").json["notifications"]
    assert [(r["parcel"], r["event"], r["attempts"]) for r in dead] == [
        ("P014", "delivered", 5)]
    services(app).close()


def test_without_settings_nothing_is_told(tmp_path: Path) -> None:
    """A console without --notify lists no notifications and refuses a retry."""
    app = make_app(tmp_path / "data")
    c = Client(app, "operator")
    assert c.get("/api/notifications").json == {"enabled": False, "channels": [],
                                                "notifications": []}
    assert c.post("/api/notifications/1/retry").status_code == 409
    services(app).close()


def test_two_consoles_on_one_database_tell_each_event_once(
        tmp_path: Path, hook: Receiver, inbox: Inbox, postgres_url: str) -> None:
    """Two consoles sharing one PostgreSQL database both run the notifier: a due row is sent by
    the one console that claims it, so every event reaches the webhook and the mailbox once."""
    import threading

    from web.notify.outbox import CLAIM_S

    settings = write_settings(tmp_path / "conf", hook.url, inbox.port)
    first = make_app(tmp_path / "data", DATABASE_URL=postgres_url,
                     NOTIFY=load_notify_config(settings), NOTIFY_AUTOSTART=False)
    second = create_app({"DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": postgres_url,
                         "MISSIONS_DIR": str(REPO / "missions"), "SAMPLE_SCENARIO": "tutorial",
                         "NOTIFY": load_notify_config(settings), "NOTIFY_AUTOSTART": False})
    try:
        plan_id = recipients_plan(first, Client(first, "operator"))
        run = Run(first, plan_id)
        eta = time.time() + 1200.0
        for parcel in ("P014", "P020"):
            run.event(parcel, "en_route", eta_at=eta)
        first_notify, second_notify = services(first).notify, services(second).notify
        assert first_notify is not None and second_notify is not None
        first_notify.queue_events()
        second_notify.queue_events()

        # both read the same due rows; only one claim of each wins
        due_first = first_notify.outbox.due()
        due_second = second_notify.outbox.due()
        assert [r.id for r in due_first] == [r.id for r in due_second] and due_first
        wins = [(first_notify.outbox.claim(a), second_notify.outbox.claim(b))
                for a, b in zip(due_first, due_second, strict=True)]
        assert wins == [(True, False)] * len(due_first)
        assert first_notify.outbox.due() == []  # held while being sent
        # a console that died holding them: they are due again after the claim's time
        later = time.time() + CLAIM_S + 1.0
        second_notify.outbox.clock = lambda: later
        assert len(second_notify.outbox.due()) == len(due_first)
        second_notify.outbox.clock = time.time

        run.event("P014", "delivered")
        run.event("P020", "delivered")
        run.end()
        barrier = threading.Barrier(2)

        def ticks(notify: object) -> None:
            barrier.wait()
            for _ in range(5):
                notify.tick()  # type: ignore[attr-defined]

        threads = [threading.Thread(target=ticks, args=(n,))
                   for n in (first_notify, second_notify)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        events = [e["id"] for e in hook.events()]
        assert sorted(_kinds(hook)) == [("P014", "delivered"), ("P020", "delivered")]
        assert len(set(events)) == len(events)
        assert [m["Subject"] for m in inbox.messages] == ["Your parcel P014 was delivered"]
    finally:
        services(second).close()
        services(first).close()
