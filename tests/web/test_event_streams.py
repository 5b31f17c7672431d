"""Live event streams are bounded per login, per account and per server, so that streams
cannot take every server thread: logins keep answering."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.web.helpers import PASSWORD, make_app, serve, services
from web.server import DEFAULT_THREADS, RESERVED_THREADS, WebServer


@pytest.fixture
def server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[WebServer]:
    """The console on a real waitress server with the default thread count."""
    app = make_app(tmp_path / "data", **getattr(request, "param", {}))
    yield from serve(app)
    services(app).close()


def _login(url: str, username: str = "crew") -> str:
    """A fresh session cookie of ``username``."""
    s = requests.Session()
    token = s.get(f"{url}/api/csrf").json()["csrf_token"]
    r = s.post(f"{url}/api/login", json={"username": username, "password": PASSWORD},
               headers={"X-CSRFToken": token}, timeout=10)
    assert r.status_code == 200
    cookie = s.cookies.get("session")
    assert cookie is not None
    return cookie


def _open_stream(server: WebServer, cookie: str) -> tuple[socket.socket, int, str]:
    """Open /api/events; the socket (kept open), the status and the response head."""
    sock = socket.create_connection((server.host, server.port), timeout=10)
    sock.sendall(f"GET /api/events HTTP/1.1\r\nHost: x\r\nCookie: session={cookie}\r\n"
                 "Accept: text/event-stream\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            break
        head += chunk
    text = head.decode(errors="replace")
    return sock, int(text.split(" ", 2)[1]), text


def _login_time_s(url: str) -> float:
    start = time.monotonic()
    _login(url, "operator")
    return time.monotonic() - start


def test_fifty_streams_of_one_login_leave_logins_answering(server: WebServer) -> None:
    """One crew login opens 50 streams: 8 are served, 42 get 429 with Retry-After, and a
    login still answers within 2 s."""
    cookie = _login(server.url)
    socks, statuses = [], []
    try:
        for _ in range(50):
            sock, status, head = _open_stream(server, cookie)
            socks.append(sock)
            statuses.append(status)
            if status == 429:
                assert "Retry-After:" in head
        assert statuses.count(200) == 8 and statuses.count(429) == 42
        assert _login_time_s(server.url) < 2.0
    finally:
        for s in socks:
            s.close()


@pytest.mark.parametrize("server", [{"SSE_PER_USER": 100}], indirect=True)
def test_the_server_keeps_threads_for_requests(server: WebServer) -> None:
    """Fifty streams over thirteen logins of one account: at most threads - reserved are
    served, logins still answer, and closed streams give their slots back."""
    cookies = [_login(server.url) for _ in range(13)]
    limit = DEFAULT_THREADS - RESERVED_THREADS
    socks, statuses = [], []
    try:
        for i in range(50):
            sock, status, _ = _open_stream(server, cookies[i % 13])
            socks.append(sock)
            statuses.append(status)
        assert statuses.count(200) == limit and statuses.count(429) == 50 - limit
        assert _login_time_s(server.url) < 2.0
    finally:
        for s in socks:
            s.close()
    events = services(server.app).events
    deadline = time.monotonic() + 30.0
    while events.open_streams > 0 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert events.open_streams == 0
    sock, status, _ = _open_stream(server, cookies[0])
    sock.close()
    assert status == 200
