"""Serving the console with waitress: threads enough for live event streams, a known port."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from typing import Any

from flask import Flask
from waitress import wasyncore
from waitress.server import create_server

log = logging.getLogger(__name__)

#: Worker threads: each open page holds one for its event stream.
DEFAULT_THREADS = 48
#: Threads never given to event streams, so that logins and other requests are answered.
RESERVED_THREADS = 16


class WebServer:
    """A waitress server for ``app`` on ``host:port`` (port 0: any free port).

    Parameters
    ----------
    app
        The console app.
    host, port
        Where to listen.
    threads
        Worker threads; live event streams may hold all but :data:`RESERVED_THREADS` of them
        (at least 1), further streams get 429.
    reuse_port
        Share ``host:port`` with other consoles on this machine (``SO_REUSEPORT``): the
        kernel spreads new connections among them, so several consoles answer at one address.
    """

    def __init__(self, app: Flask, *, host: str = "127.0.0.1", port: int = 8080,
                 threads: int = DEFAULT_THREADS, reuse_port: bool = False) -> None:
        self.app = app
        where: dict[str, Any] = {"host": host, "port": port}
        if reuse_port:
            where = {"sockets": [shared_socket(host, port)]}
        self._server: Any = create_server(app, threads=threads, channel_timeout=300,
                                          ident="dropline", **where)
        self.host = host
        self.port = int(self._server.effective_port)
        services = app.extensions.get("dropline")
        if services is not None:
            streams = max(1, threads - RESERVED_THREADS)
            services.events.max_streams = min(services.events.max_streams, streams)
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()

    @property
    def url(self) -> str:
        """The console's address."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    def run(self) -> None:
        """Serve until :meth:`close` (or Ctrl-C)."""
        try:
            self._server.run()
        except (OSError, ValueError):
            # close() from another thread shuts the sockets under the loop's select
            if not self._closing.is_set():
                raise

    def start(self) -> WebServer:
        """Serve from a background thread."""
        self._thread = threading.Thread(target=self.run, daemon=True, name="web-server")
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and stop the app's services."""
        self._closing.set()
        services = self.app.extensions.get("dropline")
        if services is not None:
            services.close()
        self._server.close()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        # the connections still open (event streams, kept-alive ones) are closed too, not
        # left to the garbage collector
        with contextlib.suppress(OSError, ValueError):
            wasyncore.close_all(map=self._server._map, ignore_all=True)


def shared_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` that other processes may bind too
    (``SO_REUSEPORT``; the kernel spreads new connections among the listeners).

    Raises
    ------
    OSError
        The address cannot be bound (another program holds it without sharing).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock
