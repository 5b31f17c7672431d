"""The crew view's live stream: the present state first (never a replayed backlog), then
ticks with only what changed, a heartbeat tick when nothing did, drops and alerts passed on,
a fresh state for a new run; the endpoint checks its rate, compresses when asked, and the page
arrives with its state inlined and its service worker served."""

from __future__ import annotations

import html
import itertools
import json
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.web.helpers import Client, make_app, services
from web.events import EventBus
from web.fleet_live import crew_stream


class FakeFleet:
    """Vehicles whose figures the test sets, and a state around them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.figures: dict[str, dict[str, Any]] = {"1": {"sysid": 1, "alt_rel_m": 0.0}}
        self.states = 0

    def vehicles(self) -> dict[str, dict[str, Any]]:
        with self.lock:
            return {k: dict(v) for k, v in self.figures.items()}

    def state(self) -> dict[str, Any]:
        self.states += 1
        return {"t": time.time(), "vehicles": self.vehicles(), "links": [], "run": None,
                "drops": [], "alerts": [], **self.trust()}

    def trust(self) -> dict[str, Any]:
        return {"unconfirmed": [], "link_flags": []}


def _parse(text: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in fields:
            out.append((fields["event"], json.loads(fields["data"])))
    return out


def _collect(stream: Iterator[str], seconds: float) -> list[tuple[str, dict[str, Any]]]:
    """Events of ``stream`` for about ``seconds`` (the stream ends by its max_s)."""
    text = "".join(stream)
    assert seconds > 0
    return _parse(text)


def test_state_first_then_deltas_and_heartbeats() -> None:
    """The state comes first with the rate and threshold; later ticks carry only changes,
    and a tick goes out within the heartbeat when nothing changed."""
    bus = EventBus()
    for i in range(50):   # a backlog the crew stream must not replay
        bus.publish("vehicle", {"type": "vehicle", "vehicle": {"sysid": 1, "n": i}})
    fleet = FakeFleet()

    def climb() -> None:
        for alt in (1.0, 2.0, 3.0):
            time.sleep(0.3)
            with fleet.lock:
                fleet.figures["1"]["alt_rel_m"] = alt

    threading.Thread(target=climb, daemon=True).start()
    events = _collect(crew_stream(fleet, bus, rate_hz=5.0, heartbeat_s=0.5, max_s=2.5), 2.5)
    kinds = [k for k, _ in events]
    assert kinds[0] == "state" and kinds.count("state") == 1
    assert "vehicle" not in kinds
    state = events[0][1]
    assert state["rate_hz"] == 5.0 and state["stale_s"] == 5.0
    assert state["vehicles"] == {"1": {"sysid": 1, "alt_rel_m": 0.0}}
    ticks = [d for k, d in events if k == "tick"]
    changes = [d["v"] for d in ticks if d["v"]]
    assert changes == [{"1": {"alt_rel_m": 1.0}}, {"1": {"alt_rel_m": 2.0}},
                       {"1": {"alt_rel_m": 3.0}}]
    quiet = [d["t"] for d in ticks if not d["v"]]
    assert quiet, "no heartbeat tick while nothing changed"
    times = [d["t"] for d in ticks]
    assert all(b - a <= 0.5 + 0.25 for a, b in itertools.pairwise(times))
    assert len(ticks) <= 3 + 2.5 / 0.5 + 1   # no tick per sample when nothing changed


def test_bus_events_pass_and_a_new_run_brings_a_new_state() -> None:
    """Drops, alerts and acknowledgements pass on; a vehicle's own events do not; a run event
    brings the whole state again."""
    bus = EventBus()
    fleet = FakeFleet()

    def publish() -> None:
        time.sleep(0.3)
        bus.publish("drop", {"type": "drop", "drop": {"drop_id": "P1", "state": "en_route"}})
        bus.publish("status", {"type": "status", "sysid": 1, "status": {}})
        bus.publish("alert", {"type": "alert", "alert": {"id": 7}})
        time.sleep(0.3)
        bus.publish("run", {"type": "run", "state": "started"})

    threading.Thread(target=publish, daemon=True).start()
    events = _collect(crew_stream(fleet, bus, rate_hz=2.0, max_s=1.5), 1.5)
    kinds = [k for k, _ in events]
    assert kinds.count("drop") == 1 and kinds.count("alert") == 1
    assert "status" not in kinds and "vehicle" not in kinds
    assert kinds.count("state") == 2 and fleet.states == 2
    assert kinds.index("drop") < kinds.index("alert") < len(kinds) - 1 - kinds[::-1].index("state")


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    """A console without vehicles whose streams end after 2.5 s (one heartbeat tick)."""
    console = make_app(tmp_path / "data", SSE_MAX_S=2.5)
    yield console
    services(console).close()


@pytest.mark.parametrize("rate", ["0", "0.05", "6", "abc", "nan", "inf", "-1"])
def test_a_rate_out_of_bounds_is_a_clear_400(app: Flask, rate: str) -> None:
    """A rate outside 0.1-5 Hz, or no number, is refused with the bounds named."""
    r = Client(app, "crew").get(f"/api/fleet/live?rate_hz={rate}")
    assert r.status_code == 400
    assert "between 0.1 and 5" in r.json["error"]


def test_the_stream_needs_a_login(app: Flask) -> None:
    """No login, no stream."""
    assert Client(app, None).get("/api/fleet/live").status_code == 401


@pytest.mark.parametrize(("accept", "coding", "wbits"), [("gzip, deflate", "gzip", 31),
                                                         ("deflate", "deflate", 15),
                                                         ("identity", None, None)])
def test_the_stream_is_compressed_when_accepted(app: Flask, accept: str, coding: str | None,
                                                wbits: int | None) -> None:
    """gzip or deflate as accepted (decoded to the same events), plain text otherwise."""
    r = Client(app, "crew").get("/api/fleet/live?rate_hz=2",
                                headers={"Accept-Encoding": accept}, buffered=True)
    assert r.status_code == 200 and r.mimetype == "text/event-stream"
    assert r.headers.get("Content-Encoding") == coding
    assert "Accept-Encoding" in r.headers["Vary"]
    body = r.get_data()
    text = (body if wbits is None else zlib.decompress(body, wbits)).decode()
    events = _parse(text)
    assert events[0][0] == "state" and events[0][1]["vehicles"] == {}
    assert events[0][1]["rate_hz"] == 2.0
    assert any(k == "tick" for k, _ in events)


def test_the_page_inlines_its_state_and_loads_the_map_later(app: Flask) -> None:
    """The fleet page carries the present state as JSON data, loads no map library in its
    head, and names the service worker, which is served from the root without caching."""
    c = Client(app, "crew")
    page = c.get("/fleet").get_data(as_text=True)
    start = page.index("data-state='") + len("data-state='")
    state = json.loads(html.unescape(page[start:page.index("'", start)]))
    assert 'id="fleet-state"' in page and "<script type=\"application/json\" id=\"fleet" \
        not in page
    assert state["vehicles"] == {} and state["alerts"] == [] and state["t"] > 0
    assert "leaflet.js" not in page.split('id="fleet-assets"')[0]
    assert '<script src="/static/vendor/leaflet/leaflet.js">' not in page
    assert 'data-service-worker="/sw.js"' in page
    with c.get("/sw.js") as worker:
        assert worker.status_code == 200 and worker.mimetype == "text/javascript"
        assert "no-cache" in worker.headers["Cache-Control"]
        assert b"caches.open" in worker.get_data()
    assert "leaflet.js" in c.get("/plans").get_data(as_text=True)   # other pages unchanged


def test_the_inlined_state_carries_names_as_text(app: Flask,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A name with quotes and markup in the inlined state stays inside its attribute and
    reads back as the same text."""
    from web.fleet_live import LiveFleet

    name = "'><script>window.__xss=1</script>\"&amp;"
    real = LiveFleet.state

    def state(self: LiveFleet) -> dict[str, Any]:
        out = real(self)
        out["vehicles"] = {"1": {"sysid": 1, "name": name}}
        return out

    monkeypatch.setattr(LiveFleet, "state", state)
    page = Client(app, "crew").get("/fleet").get_data(as_text=True)
    assert "<script>window.__xss" not in page
    start = page.index("data-state='") + len("data-state='")
    state_json = json.loads(html.unescape(page[start:page.index("'", start)]))
    assert state_json["vehicles"]["1"]["name"] == name
