"""``dropline demo`` and ``dropline serve``: what they print, the first login, bad options."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from dropline.cli import main
from tests.helpers.shared_data import REPO


@pytest.mark.parametrize("argv", [
    ["serve", "--port", "70000"], ["demo", "--port", "-1"], ["serve", "--speedup", "0"],
    ["demo", "--speedup", "nan"]])
def test_bad_options_exit_2(argv: list[str], tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    """A bad port or speedup is refused before anything starts, naming the option."""
    assert main([*argv, "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and ("--port" in err or "--speedup" in err)


def test_short_admin_password_is_refused_before_the_fleet_starts(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A DROPLINE_ADMIN_PASSWORD under 8 characters exits 2 naming it, with no simulator."""
    monkeypatch.setenv("DROPLINE_ADMIN_PASSWORD", "short")
    assert main(["demo", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "DROPLINE_ADMIN_PASSWORD" in err and "8 characters" in err
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
def test_demo_prints_url_and_first_login(tmp_path: Path) -> None:
    """The demo starts the console and simulated copters, prints the address and a generated
    admin password that logs in; the login page is served; Ctrl-C stops it cleanly."""
    env = {k: v for k, v in os.environ.items() if k != "DROPLINE_ADMIN_PASSWORD"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dropline.cli", "demo", "--port", "0", "--data-dir",
         str(tmp_path / "data"), "--speedup", "10"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(3)]
        assert "14 simulated copters at 5 depots" in lines[0], lines
        text = "".join(lines)
        url = re.search(r"dropline console: (http://\S+)/", text)
        password = re.search(r"first login: admin / (\S+)", text)
        assert url and password, text
        session = requests.Session()
        assert session.get(url.group(1) + "/login").status_code == 200
        token = session.get(url.group(1) + "/api/csrf").json()["csrf_token"]
        r = session.post(url.group(1) + "/api/login", headers={"X-CSRFToken": token},
                         json={"username": "admin", "password": password.group(1)})
        assert r.status_code == 200
        listing = session.get(url.group(1) + "/api/plans").json()
        plans = listing["plans"]
        assert [p["name"] for p in plans] == ["district"]
        assert plans[0]["state"] == "draft" and "depots" not in plans[0]["edits"]
        assert listing["default"] == plans[0]["id"]
        draft = session.get(url.group(1) + f"/api/plans/{plans[0]['id']}").json()
        assert len(draft["scenario"]["depots"]) == 5 and len(draft["scenario"]["drops"]) == 49
        session.close()
    finally:
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert (tmp_path / "data" / "console.db").is_file()
