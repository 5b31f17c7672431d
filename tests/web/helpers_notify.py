"""Helpers of the notification tests: a real HTTP receiver, a real SMTP server (aiosmtpd), a
plan of two tutorial parcels with recipients, and drop events written as the fleet writes them."""

from __future__ import annotations

import email
import email.policy
import gc
import json
import socket
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from flask import Flask

from gcs.fleet.manager import plan_key
from gcs.fleet.tracking import DropEvent, DropState
from tests.web.helpers import Client, services, upload
from tests.web.helpers_tracking import EDITS

SECRET = "s3cret-webhook-key-0123456789"
#: The two parcels, with recipients (P020 has only a phone: no e-mail for it).
DROPS_CSV = (b"id,lat_deg,lon_deg,weight_kg,phone,email\n"
             b"P014,44.06875,-71.12162,0.4,+1 603 555 0142,anne@example.org\n"
             b"P020,44.04150,-71.12240,1.5,+1 603 555 0120,\n")


@dataclass
class Receiver:
    """A real HTTP server on loopback that records every POST; answers ``statuses`` first,
    then 200."""

    statuses: list[int] = field(default_factory=list)
    posts: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""

    def events(self) -> list[dict[str, Any]]:
        """Bodies of the POSTs answered 2xx, as JSON."""
        return [json.loads(body) for headers, body in self.posts if headers["_status"] == "200"]


@contextmanager
def receiver() -> Iterator[Receiver]:
    """A running :class:`Receiver`."""
    found = Receiver()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                status = found.statuses.pop(0) if found.statuses else 200
                headers = {k: v for k, v in self.headers.items()}
                headers["_status"] = str(status)
                found.posts.append((headers, body))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    found.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@dataclass
class Inbox:
    """What the SMTP server received."""

    messages: list[EmailMessage] = field(default_factory=list)
    port: int = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def smtp_server() -> Iterator[Inbox]:
    """A real SMTP server (aiosmtpd) on a free loopback port."""
    inbox = Inbox()
    inbox.port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()
        # the server's finished sessions still hold their streams: let them go here, where
        # their "loop is closed" / unclosed-socket warnings belong to nobody else's test
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()


def write_settings(folder: Path, hook_url: str | None, smtp_port: int | None,
                   extra: str = "") -> Path:
    """A notification settings file (and its secret file) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hook.secret").write_text(SECRET + "\n")
    lines = ['public_url = "https://hub.example.org"', 'timezone = "Asia/Shanghai"',
             "retry_s = 0.01", extra]
    if hook_url is not None:
        lines += ["[webhook]", f'url = "{hook_url}"', 'secret_file = "hook.secret"']
    if smtp_port is not None:
        lines += ["[email]", 'host = "127.0.0.1"', f"port = {smtp_port}",
                  'from = "Dropline <noreply@example.org>"']
    path = folder / "notify.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def recipients_plan(app: Flask, c: Client) -> str:
    """A planned plan of the two tutorial parcels of :data:`DROPS_CSV` (with recipients)."""
    r = c.post("/api/plans", json={"scenario": "tutorial", "edits": EDITS})
    assert r.status_code == 201, r.json
    plan_id = str(r.json["id"])
    assert upload(c, plan_id, "drops", "drops.csv", DROPS_CSV).status_code == 200
    assert c.post(f"/api/plans/{plan_id}/run").status_code == 202
    services(app).plans.wait(plan_id, 120.0)
    assert c.get(f"/api/plans/{plan_id}").json["state"] == "done"
    return plan_id


class Run:
    """A run of a plan in the console's flight log, written as the fleet writes it."""

    def __init__(self, app: Flask, plan_id: str) -> None:
        svc = services(app)
        record = svc.plans.get(plan_id)
        plan = svc.plans.plan_of(record)
        self.log = svc.fleet.flight_log
        self.run_id = self.log.start_run(plan_key=plan_key(plan), plan_name=record.name,
                                         plan_path=str(record.plan_json), resume=False).id
        self.tokens = svc.deliveries.issue_tokens(plan_id)
        self.sortie_of = {d: s.id for s in plan.sorties for d in s.drop_ids}

    def event(self, drop_id: str, state: str, *, eta_at: float | None = None,
              detail: str | None = None) -> None:
        """Record one drop's new state."""
        self.log.record_drop_event(self.run_id, DropEvent(
            drop_id=drop_id, sortie_id=self.sortie_of[drop_id], state=DropState(state),
            at_s=0.0, detail=detail), eta_at=eta_at)

    def end(self) -> None:
        """End the run."""
        self.log.end_run(self.run_id, "test")
