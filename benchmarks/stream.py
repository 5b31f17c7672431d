"""The console's live stream on a poor mobile network: bytes per vehicle-minute and the first
useful screen at 50 kbit/s.

Usage::

    .venv/bin/python -m benchmarks.stream [--vehicles 3] [--seconds 60] [--rates 0.5 1 2]
                                          [--kbit 50] [--no-browser]
                                          [--out benchmarks/results/stream.json]

Built-in simulated copters take off (GUIDED) and fly away from the tutorial hub, served by a
real console; in the same minute of flight, clients read

- ``/api/events``, the full stream as before (a 584-byte snapshot per vehicle up to twice a
  second, full-precision floats, every field every time): its ``vehicle`` events and all of it;
- ``/api/fleet/live`` (the crew view: the state, then deltas of rounded figures) at each rate,
  gzip-compressed as a browser asks, and at 1 Hz without compression.

Bytes are the HTTP body bytes as sent on the wire (compressed where the stream is), per vehicle
per minute of flight. Then a cold phone-sized Chromium (390x844) opens the Fleet page through a
throttling proxy (``tests/helpers/throttle.py``) at ``--kbit`` kbit/s each way: the time from
navigation to the vehicle cards shown, and the bytes that crossed the link by then.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests

from benchmarks._bench_sim import REPO

HUB = "north_conway"
CHROMIUM = Path("/usr/bin/chromium")


class StreamCounter(threading.Thread):
    """Reads one stream for ``seconds`` and counts its body bytes as sent (still compressed)
    and, for the full stream, the bytes of its ``vehicle`` events."""

    def __init__(self, session: requests.Session, url: str, seconds: float,
                 headers: dict[str, str]) -> None:
        super().__init__(daemon=True)
        self.session, self.url, self.seconds, self.headers = session, url, seconds, headers
        self.wire_bytes = 0
        self.vehicle_bytes = 0
        self.events: dict[str, int] = {}
        self.coding: str | None = None

    def run(self) -> None:
        end = time.monotonic() + self.seconds
        with self.session.get(self.url, stream=True, timeout=30, headers=self.headers) as r:
            r.raise_for_status()
            self.coding = r.headers.get("Content-Encoding")
            import zlib
            decoder = None if self.coding is None else zlib.decompressobj(
                31 if self.coding == "gzip" else 15)
            text = ""
            for chunk in r.raw.stream(4096, decode_content=False):
                if time.monotonic() > end:
                    break
                self.wire_bytes += len(chunk)
                text += (chunk if decoder is None else decoder.decompress(chunk)).decode()
                *blocks, text = text.split("\n\n")
                for block in blocks:
                    kind = next((line[7:] for line in block.splitlines()
                                 if line.startswith("event: ")), None)
                    if kind is not None:
                        self.events[kind] = self.events.get(kind, 0) + 1
                        if kind == "vehicle":
                            self.vehicle_bytes += len(block) + 2


def login(url: str, username: str = "crew") -> requests.Session:
    """A logged-in session."""
    from tests.web.helpers import PASSWORD

    s = requests.Session()
    token = s.get(f"{url}/api/csrf", timeout=30).json()["csrf_token"]
    r = s.post(f"{url}/api/login", json={"username": username, "password": PASSWORD},
               headers={"X-CSRFToken": token}, timeout=30)
    r.raise_for_status()
    return s


def take_off(app: Any, vehicles: int, alt_rel_m: float = 40.0) -> None:
    """Arm every vehicle in GUIDED, climb to ``alt_rel_m`` and send each 5 km away in its
    own direction."""
    import math

    from gcs import commands
    from gcs.errors import GroundControlError
    from gcs.transfer import Target
    from tests.web.helpers import services

    fleet = services(app).fleet
    deadline = time.monotonic() + 60
    while len(fleet.vehicle_ids()) < vehicles and time.monotonic() < deadline:
        time.sleep(0.2)
    for i, sysid in enumerate(fleet.vehicle_ids()):
        link = fleet.hub.link_of(sysid)
        assert link is not None
        target = Target(sysid=sysid)
        while True:
            try:
                commands.set_mode(link, target, "GUIDED")
                commands.arm(link, target)
                commands.takeoff(link, target, alt_rel_m)
                break
            except GroundControlError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1.0)
        snap = fleet.hub.snapshot(sysid)
        assert snap is not None and snap.lat_deg is not None and snap.lon_deg is not None
        bearing = 2 * math.pi * i / vehicles
        lat = snap.lat_deg + 0.045 * math.cos(bearing)
        lon = snap.lon_deg + 0.045 * math.sin(bearing) / math.cos(math.radians(snap.lat_deg))
        threading.Thread(target=_go_when_up, args=(fleet, link, target, lat, lon, alt_rel_m),
                         daemon=True).start()
    while time.monotonic() < deadline + 60:
        snaps = fleet.hub.snapshots()
        if all((s.alt_rel_m or 0) > alt_rel_m * 0.8 and (s.groundspeed_m_s or 0) > 2
               for s in snaps):
            return
        time.sleep(0.5)
    raise RuntimeError("the vehicles did not get under way")


def _go_when_up(fleet: Any, link: Any, target: Any, lat: float, lon: float,
                alt_rel_m: float) -> None:
    from gcs import commands

    for _ in range(600):
        snap = fleet.hub.snapshot(target.sysid)
        if snap is not None and (snap.alt_rel_m or 0) > alt_rel_m * 0.9:
            break
        time.sleep(0.1)
    commands.goto(link, target, lat, lon, alt_rel_m)


def per_vehicle_minute(nbytes: int, vehicles: int, seconds: float) -> float:
    """Bytes per vehicle per minute."""
    return nbytes / vehicles / (seconds / 60.0)


def stream_cases(url: str, vehicles: int, seconds: float,
                 rates: list[float]) -> dict[str, Any]:
    """Every stream read side by side for ``seconds`` of flight."""
    session = login(url)
    gzip = {"Accept-Encoding": "gzip, deflate"}
    plain = {"Accept-Encoding": "identity"}
    counters = {"full (before)": StreamCounter(session, f"{url}/api/events", seconds, plain)}
    for rate in rates:
        counters[f"crew {rate:g} Hz gzip"] = StreamCounter(
            session, f"{url}/api/fleet/live?rate_hz={rate:g}", seconds, gzip)
    counters["crew 1 Hz uncompressed"] = StreamCounter(
        session, f"{url}/api/fleet/live?rate_hz=1", seconds, plain)
    for c in counters.values():
        c.start()
    for c in counters.values():
        c.join(seconds + 30)
    full = counters["full (before)"]
    before = per_vehicle_minute(full.vehicle_bytes, vehicles, seconds)
    cases = {}
    for name, c in counters.items():
        wire = per_vehicle_minute(c.wire_bytes, vehicles, seconds)
        cases[name] = {"bytes_per_vehicle_minute": round(wire),
                       "events": c.events, "coding": c.coding,
                       "times_less_than_before": round(before / wire, 1) if wire else None}
    cases["full (before)"]["vehicle_events_bytes_per_vehicle_minute"] = round(before)
    cases["full (before)"]["bytes_per_vehicle_event"] = round(
        full.vehicle_bytes / max(1, full.events.get("vehicle", 0)))
    return cases


def first_screen(url: str, kbit: float) -> dict[str, Any]:
    """A cold phone-sized page through a ``kbit`` kbit/s proxy: seconds to the vehicle cards,
    bytes over the link by then, and seconds to the map library."""
    from playwright.sync_api import sync_playwright

    from tests.helpers.throttle import ThrottleProxy
    from tests.web.helpers import PASSWORD

    host, port = url.removeprefix("http://").split(":")
    with ThrottleProxy(host, int(port), rate_bps=kbit * 1000) as proxy, \
            sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        context = browser.new_context(viewport={"width": 390, "height": 844})
        token = context.request.get(proxy.url + "/api/csrf").json()["csrf_token"]
        context.request.post(proxy.url + "/api/login", headers={"X-CSRFToken": token},
                             data={"username": "crew", "password": PASSWORD})
        page = context.new_page()
        start_bytes = proxy.bytes_down
        start = time.monotonic()
        page.goto(proxy.url + "/fleet", wait_until="commit", timeout=120_000)
        page.locator(".card.vehicle").first.wait_for(state="visible", timeout=120_000)
        cards_s = time.monotonic() - start
        cards_bytes = proxy.bytes_down - start_bytes
        page.wait_for_function("() => window.L !== undefined", timeout=300_000)
        map_s = time.monotonic() - start
        browser.close()
    return {"kbit_s": kbit, "first_useful_screen_s": round(cards_s, 1),
            "first_screen_bytes": cards_bytes, "map_library_s": round(map_s, 1)}


def main(argv: list[str] | None = None) -> int:
    """Fly, measure, print and write the results."""
    from planner.io.dem import load_dem
    from planner.io.scenario import load_scenario
    from sitl.builtin import BuiltinFleet
    from tests.helpers.ports import free_base_port
    from tests.web.helpers import make_app, serve, services

    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--vehicles", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rates", type=float, nargs="+", default=[0.5, 1.0, 2.0])
    parser.add_argument("--kbit", type=float, default=50.0)
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--out", type=Path,
                        default=REPO / "benchmarks" / "results" / "stream.json")
    args = parser.parse_args(argv)

    scenario = load_scenario(REPO / "missions" / "tutorial")
    depot = next(d for d in scenario.depots if d.id == HUB)
    dem = load_dem(scenario.terrain.dem_paths)
    ground_m = float(dem.elevation_amsl_m(depot.lon_deg, depot.lat_deg))
    fleet = BuiltinFleet(vehicles=args.vehicles, home=(depot.lat_deg, depot.lon_deg, ground_m),
                         speedup=1.0, base_port=free_base_port(args.vehicles), dem=dem,
                         drone_type=next(iter(scenario.drone_types.values())),
                         wind=scenario.wind, settle_s=2.0)
    fleet.start()
    results: dict[str, Any] = {"vehicles": args.vehicles, "seconds": args.seconds}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            app = make_app(Path(tmp), CONNECT=fleet.connection_strings, TIME_SCALE=1.0,
                           SSE_MAX_S=args.seconds + 60)
            try:
                for server in serve(app):
                    take_off(app, args.vehicles)
                    results["streams"] = stream_cases(server.url, args.vehicles,
                                                      args.seconds, args.rates)
                    for name, case in results["streams"].items():
                        print(json.dumps({"stream": name, **case}), flush=True)
                    if not args.no_browser:
                        results["first_screen"] = first_screen(server.url, args.kbit)
                        print(json.dumps(results["first_screen"]), flush=True)
            finally:
                services(app).close()
    finally:
        fleet.stop()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
