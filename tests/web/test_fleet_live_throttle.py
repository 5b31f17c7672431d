"""The throttling proxy of the slow-link tests, in front of the real console server: it shapes
bytes to its rate, a cut link passes nothing until it returns, and the crew stream goes on
through it."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.helpers.throttle import ThrottleProxy, transfer_time_s
from tests.web.helpers import PASSWORD, make_app, serve, services
from web.server import WebServer


@pytest.fixture
def server(tmp_path: Path) -> Iterator[WebServer]:
    """The console on a real waitress server."""
    app = make_app(tmp_path / "data")
    yield from serve(app)
    services(app).close()


def test_the_proxy_shapes_downloads_to_its_rate(server: WebServer) -> None:
    """A static file through a 200 kbit/s proxy takes its size over the rate, not less."""
    plain = {"Accept-Encoding": "identity"}
    size = len(requests.get(f"{server.url}/static/common.js", timeout=10, headers=plain).content)
    with ThrottleProxy(server.host, server.port, rate_bps=200_000.0) as proxy:
        start = time.monotonic()
        r = requests.get(f"{proxy.url}/static/common.js", timeout=30, headers=plain)
        took = time.monotonic() - start
    assert r.status_code == 200 and len(r.content) == size
    assert transfer_time_s(size, 200_000.0) * 0.9 < took < transfer_time_s(size, 200_000.0) + 2
    assert proxy.bytes_down > size and proxy.bytes_up > 0


def test_a_cut_link_passes_nothing_until_it_returns(server: WebServer) -> None:
    """While cut, a request gets no answer; once restored it is answered on the same
    connection."""
    with ThrottleProxy(server.host, server.port, rate_bps=100_000.0) as proxy:
        proxy.cut()
        sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=10)
        sock.sendall(b"GET /api/csrf HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        sock.settimeout(2.0)
        with pytest.raises(TimeoutError):
            sock.recv(100)
        proxy.restore()
        sock.settimeout(10.0)
        assert sock.recv(100).startswith(b"HTTP/1.1 200")
        sock.close()
        start = time.monotonic()
        proxy.cut(1.5)
        r = requests.get(f"{proxy.url}/api/csrf", timeout=10)
        assert r.status_code == 200 and time.monotonic() - start >= 1.4


def test_the_crew_stream_through_a_slow_link(server: WebServer) -> None:
    """At 50 kbit/s the crew stream's state and ticks come through compressed; during a cut
    nothing arrives; after it the stream goes on with ticks of the present."""
    with ThrottleProxy(server.host, server.port, rate_bps=50_000.0) as proxy:
        s = requests.Session()
        token = s.get(f"{proxy.url}/api/csrf", timeout=30).json()["csrf_token"]
        assert s.post(f"{proxy.url}/api/login", json={"username": "crew", "password": PASSWORD},
                      headers={"X-CSRFToken": token}, timeout=30).status_code == 200
        with s.get(f"{proxy.url}/api/fleet/live?rate_hz=1", stream=True, timeout=30,
                   headers={"Accept-Encoding": "gzip"}) as r:
            assert r.headers["Content-Encoding"] == "gzip"
            lines = (line.decode() for line in r.iter_lines())
            assert next(line for line in lines if line.startswith("event:")) == "event: state"
            assert next(line for line in lines if line.startswith("event:")) == "event: tick"
            proxy.cut()
            cut_at = time.time()
            time.sleep(4.0)
            before = proxy.bytes_down
            time.sleep(2.0)
            assert proxy.bytes_down == before
            proxy.restore()
            while True:
                line = next(lines)
                if line.startswith("data:") and '"t":' in line:
                    t = float(line.split('"t":')[1].split(",")[0].rstrip("}"))
                    if t > cut_at + 6.0:
                        break
            assert time.time() - t < 3.0   # the present, not a backlog
