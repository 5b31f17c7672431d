"""``dropline serve`` against real ArduCopter SITL at 10x, without --speedup: the console reads
the speed-up, serves the sample district's terrain before any plan is uploaded, and keeps the
vehicle's GCS failsafe quiet while it flies."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from gcs import commands
from gcs.errors import CommandRejected, GroundControlError
from gcs.link import Link
from gcs.transfer import Target
from planner.terrain import Dem
from tests.gcs.helpers_terrain import ARDUCOPTER, BIN, HUB, arm
from tests.helpers.shared_data import needs
from tests.helpers.waiting import poll
from tests.web.helpers import PASSWORD, REPO

#: SITL instance (TCP 5760 + 10 N for the console, 5762 + 10 N for the test's own link).
INSTANCE = 61
SPEEDUP = 10

pytestmark = [pytest.mark.sitl, pytest.mark.slow, needs(ARDUCOPTER)]


def test_serve_follows_sitl_speedup_and_serves_terrain(tmp_path: Path,
                                                       district_dem: Dem) -> None:
    """About 30 s wall after connecting, the fleet API shows the vehicle's terrain loaded (none
    pending) and its speed-up read as 10; hovering 20 s wall (200 s of its time) heartbeated by
    the console alone, it says no "GCS Failsafe"."""
    dem = district_dem
    home_alt = float(dem.elevation_amsl_m(HUB[1], HUB[0]))
    work = Path(tempfile.mkdtemp(prefix="dropline-console-sitl-", dir=tmp_path))
    (work / "delivery.parm").write_text("FS_GCS_ENABLE 1\nFS_OPTIONS 0\nTERRAIN_ENABLE 1\n"
                                        "TERRAIN_SPACING 100\n")
    with (work / "sitl.log").open("wb") as sitl_log:
        sitl = subprocess.Popen(
            [str(ARDUCOPTER), "--model", "+", "--speedup", str(SPEEDUP), "-I", str(INSTANCE),
             "--home", f"{HUB[0]},{HUB[1]},{home_alt:.2f},0",
             "--defaults", f"{BIN / 'copter.parm'},delivery.parm", "--wipe"],
            cwd=work, stdout=sitl_log, stderr=subprocess.STDOUT)
    console = subprocess.Popen(
        [sys.executable, "-m", "dropline.cli", "serve", "--port", "0", "--data-dir",
         str(tmp_path / "data"), "--connect", f"tcp:127.0.0.1:{5760 + 10 * INSTANCE}"],
        cwd=REPO, env={**os.environ, "DROPLINE_ADMIN_PASSWORD": PASSWORD},
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    mine: Link | None = None
    texts: list[str] = []
    http = requests.Session()
    try:
        assert console.stdout is not None
        found = None
        for _ in range(5):
            found = re.search(r"dropline console: (http://\S+)/", console.stdout.readline())
            if found:
                break
        assert found, "the console printed no address"
        base = found.group(1)
        token = http.get(base + "/api/csrf", timeout=30).json()["csrf_token"]
        r = http.post(base + "/api/login", headers={"X-CSRFToken": token}, timeout=30,
                      json={"username": "admin", "password": PASSWORD})
        assert r.status_code == 200, r.text
        started = time.monotonic()

        def vehicle() -> dict[str, Any] | None:
            vs = http.get(base + "/api/fleet", timeout=30).json()["vehicles"]
            return vs[0] if vs else None

        def loaded() -> bool:
            v = vehicle()
            return v is not None and v["terrain_pending"] == 0 and \
                (v["terrain_loaded"] or 0) > 0 and v["terrain_amsl_m"] is not None

        assert poll(loaded, 45.0, period_s=1.0), f"terrain never loaded: {vehicle()}"
        took = time.monotonic() - started
        v = vehicle()
        assert v is not None
        print(f"terrain loaded {took:.1f} s after the console started: {v['terrain_loaded']} "
              f"tiles, {v['terrain_amsl_m']} m AMSL at home (DEM {home_alt:.1f} m)")
        assert v["speedup"] == SPEEDUP
        assert v["terrain_amsl_m"] == pytest.approx(home_alt, abs=3.0)
        assert http.get(base + "/api/fleet", timeout=30).json()["run"] is None

        # a second link that never heartbeats: only the console keeps the failsafe quiet
        mine = Link(f"tcp:127.0.0.1:{5762 + 10 * INSTANCE}", heartbeat_period_s=0).open()
        mine.add_listener(lambda m: texts.append(str(m.text))
                          if m.get_type() == "STATUSTEXT" else None)
        target = Target(sysid=1)
        commands.set_mode(mine, target, "GUIDED")
        arm(mine, target, 60.0)
        commands.takeoff(mine, target, 20.0)
        assert poll(lambda: ((vehicle() or {}).get("alt_rel_m") or 0) > 15, 30.0, period_s=0.5)
        time.sleep(20.0)
        v = vehicle()
        assert v is not None
        failsafes = [t for t in texts if "Failsafe" in t and "GCS" in t]
        assert not failsafes, failsafes
        assert v["mode"] == "GUIDED" and v["armed"], v
        alerts = http.get(base + "/api/fleet", timeout=30).json()["alerts"]
        assert not [a for a in alerts if "GCS" in str(a.get("message"))], alerts
    finally:
        if mine is not None:
            with contextlib.suppress(CommandRejected, GroundControlError):
                commands.set_mode(mine, Target(sysid=1), "LAND")
            mine.close()
        http.close()
        if console.poll() is None:
            console.send_signal(signal.SIGINT)
            try:
                console.wait(30)
            except subprocess.TimeoutExpired:
                console.kill()
                console.wait(10)
        if console.stdout is not None:
            console.stdout.close()
        sitl.kill()
        sitl.wait(timeout=10)
