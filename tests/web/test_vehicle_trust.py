"""The console trusts only authentic vehicles: a vehicle stays on the link it was first heard
on (spoofed heartbeats over another link are flagged, audited and ignored), new vehicles on a
listening link wait for an operator, and ``dropline serve --sign`` keys every vehicle so that
unsigned packets are ignored. Real sockets, the built-in simulator, a real HTTP server."""

from __future__ import annotations

import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from dropline.cli import main
from gcs import commands
from gcs.errors import FleetError, LinkTimeout
from gcs.fleet.assign import assign_vehicles
from gcs.link import Link
from gcs.signing import KeyStore, enable_signing
from gcs.transfer import Retry, Target
from tests.gcs.helpers import sim as sim
from tests.gcs.helpers_binding import heartbeat, send
from tests.helpers.ports import free_udp_port
from tests.helpers.shared_data import REPO
from tests.helpers.waiting import wait_until
from tests.web.helpers import PASSWORD, Client, make_app, services
from web import db as tables

pytestmark = pytest.mark.sitl


def _vehicle(client: Client, sysid: int) -> dict[str, Any] | None:
    state = client.get("/api/fleet").json
    return next((v for v in state["vehicles"] if v["sysid"] == sysid), None)


def test_spoofed_heartbeats_on_another_link_change_nothing(sim: Any, tmp_path: Path) -> None:
    """Vehicle 1 on TCP; HEARTBEATs claiming it (RTL, armed) over the console's UDP listening
    link are flagged once in the audit log and leave it alone; system id 77 heard there is no
    vehicle (no command, no plan) until an operator accepts it."""
    fleet = sim()
    port = free_udp_port()
    udp_url = f"udpin:127.0.0.1:{port}"
    app = make_app(tmp_path / "data", CONNECT=[fleet.connection_strings[0], udp_url],
                   TIME_SCALE=20.0)
    try:
        operator = Client(app, "operator")
        wait_until(lambda: (v := _vehicle(operator, 1)) is not None and v["mode"] != "UNKNOWN",
                   15, "vehicle 1 in the console")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as spoofer:
            send(spoofer, port, heartbeat(1, "RTL", armed=True), 10)
            send(spoofer, port, heartbeat(77, "LOITER", armed=False), 3)
            wait_until(lambda: len(operator.get("/api/fleet").json["link_flags"]) >= 2, 5,
                       "the spoof flagged")
            time.sleep(0.5)  # every spoofed packet has arrived
            state = operator.get("/api/fleet").json
            one = _vehicle(operator, 1)
            assert one is not None and one["mode"] == fleet.vehicle(0).snapshot().mode != "RTL"
            assert not one["armed"] and one["link_url"] == fleet.connection_strings[0]
            assert [v["sysid"] for v in state["vehicles"]] == [1]
            flags = {f["sysid"]: f for f in state["link_flags"]}
            assert flags[1]["message"].startswith(
                f"system id 1 heard on another link {udp_url}")
            assert flags[1]["count"] == 10
            assert [u["sysid"] for u in state["unconfirmed"]] == [77]
            assert operator.post("/api/fleet/vehicles/77/rtl").status_code == 404
            with pytest.raises(FleetError):  # what an upload of a two-drone plan meets
                assign_vehicles(["hub/q/1", "hub/q/2"], services(app).fleet.hub.vehicles)
            rows = services(app).db.rows(sa.select(tables.audit_log))
            spoofs = [(r.action, r.target, r.result) for r in rows
                      if r.username == "ground station"]
            assert sorted(spoofs) == [("spoofed vehicle", "vehicle 1", "ignored"),
                                      ("unconfirmed vehicle", "vehicle 77", "held")]
            assert Client(app, "crew").post("/api/fleet/vehicles/77/accept").status_code == 403
            r = operator.post("/api/fleet/vehicles/77/accept")
            assert r.status_code == 200, r.json
            send(spoofer, port, heartbeat(77, "LOITER", armed=False), 3)
            wait_until(lambda: _vehicle(operator, 77) is not None, 5, "vehicle 77 accepted")
            assert operator.get("/api/fleet").json["unconfirmed"] == []
    finally:
        services(app).close()


def test_console_signing_ignores_unsigned_packets(sim: Any, tmp_path: Path) -> None:
    """With ``SIGN`` the console keys the vehicle (key kept owner-only in the data folder);
    commands still work and an unsigned spoofed HEARTBEAT on the same link is ignored."""
    fleet = sim(udp=True)
    app = make_app(tmp_path / "data", CONNECT=fleet.connection_strings, TIME_SCALE=20.0,
                   SIGN=True)
    try:
        signer = services(app).signer
        assert signer is not None and signer.wait([1], 20.0)
        store = tmp_path / "data" / "signing.json"
        assert stat.S_IMODE(store.stat().st_mode) == 0o600
        assert KeyStore(store).keys()[1] == signer.signed[1]
        operator = Client(app, "operator")
        r = operator.post("/api/fleet/vehicles/1/pause")
        assert r.status_code == 200, r.json
        assert fleet.vehicle(0).snapshot().mode == "LOITER"
        [link] = services(app).fleet.links
        address = link.local_address
        assert address is not None
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as spoofer:
            send(spoofer, address[1], heartbeat(1, "RTL", armed=True), 10)
        time.sleep(1.0)
        one = _vehicle(operator, 1)
        assert one is not None and one["mode"] == "LOITER" and not one["armed"]
    finally:
        services(app).close()


def test_serve_with_sign_keys_the_vehicles(sim: Any, tmp_path: Path) -> None:
    """``dropline serve --sign``: the console commands the vehicle it keyed; a keyless station
    is ignored by the vehicle afterwards, the key kept in the data folder commands it."""
    fleet = sim()
    data = tmp_path / "data"
    env = {**os.environ, "DROPLINE_ADMIN_PASSWORD": PASSWORD}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dropline.cli", "serve", "--port", "0", "--data-dir", str(data),
         "--connect", fleet.connection_strings[0], "--speedup", "20", "--sign"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        text = proc.stdout.readline()
        url = re.search(r"dropline console: (http://\S+)/", text)
        assert url, text
        base = url.group(1)
        wait_until(lambda: (data / "signing.json").exists()
                   and KeyStore(data / "signing.json").keys().get(1) is not None, 20,
                   "the vehicle keyed")
        session = requests.Session()
        token = session.get(base + "/api/csrf").json()["csrf_token"]
        r = session.post(base + "/api/login", headers={"X-CSRFToken": token},
                         json={"username": "admin", "password": PASSWORD})
        assert r.status_code == 200
        token = session.get(base + "/api/csrf").json()["csrf_token"]

        def rtl_ok() -> bool:
            r = session.post(base + "/api/fleet/vehicles/1/rtl", headers={"X-CSRFToken": token})
            return r.status_code == 200

        wait_until(rtl_ok, 20, "RTL confirmed through the signed link")
        assert fleet.vehicle(0).snapshot().mode == "RTL"
        session.close()
    finally:
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    key = KeyStore(data / "signing.json").keys()[1]
    with Link(fleet.connection_strings[0]) as keyless:
        assert keyless.wait(lambda m: m.get_type() == "HEARTBEAT", 10) is not None
        with pytest.raises(LinkTimeout):
            commands.set_mode(keyless, Target(sysid=1), "LOITER", Retry(timeout_s=0.4, tries=2))
        enable_signing(keyless, [1], key)
        commands.set_mode(keyless, Target(sysid=1), "LOITER")


@pytest.mark.parametrize("command", ["serve", "demo"])
def test_unreadable_key_file_exits_two(command: str, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """A --sign-key-file that cannot be read is bad input before anything starts."""
    assert main([command, "--data-dir", str(tmp_path / "d"), "--sign-key-file",
                 str(tmp_path / "missing")]) == 2
    assert "cannot read the key file" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()

