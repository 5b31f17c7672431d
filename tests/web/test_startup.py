"""``dropline serve`` on a damaged data folder: a corrupt or truncated database or an empty
signing key stops the start with exit code 2 and a message naming the file, and nothing is
written to it. A fresh data folder is private to its owner (0700, files 0600)."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from tests.helpers.shared_data import REPO
from tests.web.helpers import PASSWORD, make_app, services


def _serve(data_dir: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "DROPLINE_ADMIN_PASSWORD": PASSWORD}
    return subprocess.Popen(
        [sys.executable, "-m", "dropline.cli", "serve", "--port", "0", "--data-dir",
         str(data_dir)], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)


def _garbage(path: Path) -> None:
    path.write_bytes(b"this is not a SQLite database\n" * 200)


def _truncated(path: Path) -> None:
    app = make_app(path.parent)
    with app.app_context():
        for i in range(300):
            services(app).db.audit(username="operator", action="rtl", target=f"vehicle {i}",
                                   result="ok", detail="x" * 400)
    services(app).close()
    for extra in ("secret_key", "flights.db", "flights.db-wal", "flights.db-shm"):
        (path.parent / extra).unlink(missing_ok=True)
    data = path.read_bytes()
    assert len(data) > 64 * 1024
    path.write_bytes(data[: len(data) // 3])


def _empty(path: Path) -> None:
    path.write_bytes(b"")


@pytest.mark.parametrize(("name", "damage"), [
    ("console.db", _garbage), ("console.db", _truncated), ("flights.db", _garbage),
    ("secret_key", _empty)])
def test_a_damaged_file_stops_the_start_naming_it(tmp_path: Path, name: str,
                                                  damage: Callable[[Path], None]) -> None:
    """Exit 2, ``error: <file>: ...`` on stderr without a traceback, the file unchanged."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    path = data_dir / name
    damage(path)
    before = path.read_bytes()
    proc = _serve(data_dir)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, (out, err)
    assert "Traceback" not in err and f"error: {path}" in err, err
    assert path.read_bytes() == before


def _modes(data_dir: Path) -> dict[str, int]:
    found = {".": stat.S_IMODE(data_dir.stat().st_mode)}
    for p in data_dir.rglob("*"):
        found[str(p.relative_to(data_dir))] = stat.S_IMODE(p.stat().st_mode)
    return found


def test_the_data_folder_is_private(tmp_path: Path) -> None:
    """The data folder is 0700 and its files (database, key, plans, tiles) 0600, with folders
    0700 inside."""
    data_dir = tmp_path / "data"
    proc = _serve(data_dir)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = re.search(r"dropline console: (http://\S+)/", line)
        assert url, line
        s = requests.Session()
        token = s.get(f"{url.group(1)}/api/csrf").json()["csrf_token"]
        s.post(f"{url.group(1)}/api/login", json={"username": "admin", "password": PASSWORD},
               headers={"X-CSRFToken": token})
        token = s.get(f"{url.group(1)}/api/csrf").json()["csrf_token"]
        r = s.post(f"{url.group(1)}/api/plans", json={"scenario": "district"},
                   headers={"X-CSRFToken": token})
        assert r.status_code == 201, r.text
        s.get(f"{url.group(1)}/tiles/12/1238/1492.png")
        modes = _modes(data_dir)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    assert modes["."] == 0o700
    for name in ("console.db", "flights.db", "secret_key"):
        assert modes[name] == 0o600, (name, oct(modes[name]))
    assert any(name.startswith("plans") for name in modes), modes
    loose = {k: oct(m) for k, m in modes.items() if m & 0o077}
    assert not loose, loose
