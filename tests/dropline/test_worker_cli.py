"""``dropline worker``, ``dropline serve --broker`` and ``dropline broker config``: bad options,
the generated broker files, and a worker process's presence through a clean stop and a kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from dropline.cli import main
from gcs.bus.client import BusClient
from gcs.bus.messages import Presence
from gcs.bus.topics import presence_topic
from gcs.bus.url import BrokerUrl
from tests.helpers.mosquitto import running_mosquitto
from tests.helpers.ports import free_base_port, free_tcp_port
from tests.helpers.shared_data import REPO
from tests.helpers.waiting import wait_until

BAD_URLS = ["http://u:p@127.0.0.1:1883", "mqtt://u:p@:1883", "mqtt://u:p@127.0.0.1:99999",
            "mqtt://u:p@127.0.0.1:1883/dropline", "127.0.0.1:1883"]


@pytest.mark.parametrize("url", BAD_URLS)
@pytest.mark.parametrize("command", ["worker", "serve"])
def test_bad_broker_urls_exit_2(command: str, url: str, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    """A --broker that is not mqtt://USER:PASS@HOST:PORT is refused naming the option, before
    any link or console starts."""
    argv = ["worker", "--hub", "north", "--connect", "tcp:127.0.0.1:9"] \
        if command == "worker" else ["serve", "--data-dir", str(tmp_path / "data")]
    assert main([*argv, "--broker", url]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "--broker" in err
    assert not (tmp_path / "data" / "console.db").exists()


@pytest.mark.parametrize(("argv", "named"), [
    (["worker", "--hub", "a/b", "--broker", "mqtt://u:p@h", "--connect", "tcp:h:1"], "--hub"),
    (["worker", "--hub", "a", "--broker", "mqtt://u:p@h"], "--connect"),
    (["worker", "--hub", "a", "--broker", "mqtt://u:p@h", "--connect", "tcp:h:1",
      "--worker-id", "w+1"], "--worker-id"),
    (["serve", "--broker", "mqtt://u:p@h", "--connect", "tcp:h:1"], "--broker"),
    (["serve", "--broker", "mqtt://u:p@h", "--sign"], "--broker"),
    (["broker", "config", "--hubs", "a,b/c", "--out", "{tmp}"], "--hubs"),
])
def test_bad_options_exit_2(argv: list[str], named: str, tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    """Bad hub or worker ids, missing links, links or signing with a broker are refused."""
    argv = [a.replace("{tmp}", str(tmp_path / "out")) for a in argv]
    if argv[0] == "serve":
        argv += ["--data-dir", str(tmp_path / "data")]
    assert main(argv) == 2
    assert named in capsys.readouterr().err


def test_a_broker_that_is_not_there_exits_4(capsys: pytest.CaptureFixture[str]) -> None:
    """Nothing listening at the broker's address: exit 4 naming it."""
    port = free_tcp_port()
    assert main(["worker", "--hub", "a", "--broker", f"mqtt://u:p@127.0.0.1:{port}",
                 "--connect", "tcp:127.0.0.1:9"]) == 4
    assert f"MQTT broker at 127.0.0.1:{port}" in capsys.readouterr().err


def test_broker_config_writes_the_files_and_keeps_passwords(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The config listens on loopback only, with logins and ACL; every file is owner-only;
    a second run for one more hub keeps the earlier passwords."""
    out = tmp_path / "broker"
    assert main(["broker", "config", "--hubs", "north,south", "--out", str(out),
                 "--port", "1884"]) == 0
    printed = capsys.readouterr().out
    assert "mqtt://worker-north@127.0.0.1:1884" in printed and "mosquitto -c" in printed
    conf = (out / "mosquitto.conf").read_text()
    assert "listener 1884 127.0.0.1" in conf and "allow_anonymous false" in conf
    first = tomllib.loads((out / "credentials.toml").read_text())["users"]
    assert sorted(first) == ["console", "worker-north", "worker-south"]
    assert main(["broker", "config", "--hubs", "north,south,east", "--out", str(out)]) == 0
    second = tomllib.loads((out / "credentials.toml").read_text())["users"]
    assert second["console"]["password"] == first["console"]["password"]
    assert (out / "worker-north.password").read_text().strip() == \
        first["worker-north"]["password"]
    assert "user worker-east" in (out / "acl").read_text()
    for name in ("mosquitto.conf", "passwd", "acl", "credentials.toml", "console.password"):
        assert (out / name).stat().st_mode & 0o077 == 0, name
    passwd = (out / "passwd").read_text()
    assert first["console"]["password"] not in passwd and "console:$7$101$" in passwd


@pytest.mark.slow
def test_worker_presence_through_a_clean_stop_and_a_kill(tmp_path: Path) -> None:
    """SIGTERM: the worker says offline (with its time) and exits 0; killed, the broker
    publishes its last will (offline, no time)."""
    from sitl.builtin import BuiltinFleet

    seen: list[Presence] = []
    with running_mosquitto(tmp_path / "broker", ["north"]) as broker:
        fleet = BuiltinFleet(vehicles=1, home=(44.0618, -71.1369, 160.0), speedup=10.0,
                             base_port=free_base_port(1), settle_s=1.0)
        fleet.start()
        watcher = BusClient(BrokerUrl.parse(broker.url("console")), "c-presence",
                            on_message=lambda t, p: seen.append(Presence.from_payload(t, p)))
        watcher.subscribe(presence_topic("north", "+"))
        watcher.connect()
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        env["DROPLINE_BROKER_PASSWORD"] = broker.files.credentials["worker-north"]
        argv = [sys.executable, "-m", "dropline.cli", "worker", "--hub", "north",
                "--broker", broker.files.url("worker-north"), "--worker-id", "w1",
                "--connect", fleet.connection_strings[0], "--scenario",
                str(REPO / "missions" / "tutorial")]
        try:
            for how in (signal.SIGTERM, signal.SIGKILL):
                seen.clear()
                proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)
                try:
                    wait_until(lambda: seen and seen[-1].state == "online"
                               and seen[-1].vehicles == (1,), 30, "online with vehicle 1")
                    assert broker.files.credentials["worker-north"] not in " ".join(argv)
                    proc.send_signal(how)
                    _out, err = proc.communicate(timeout=30)
                finally:
                    if proc.poll() is None:
                        proc.kill()
                        proc.communicate()
                wait_until(lambda: seen[-1].state == "offline", 20, "offline")
                if how == signal.SIGTERM:
                    assert proc.returncode == 0, err
                    assert seen[-1].at_s is not None
                else:
                    assert proc.returncode == -signal.SIGKILL
                    assert seen[-1].at_s is None   # the last will
        finally:
            watcher.close()
            fleet.stop()
