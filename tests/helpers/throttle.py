"""A throttling TCP proxy for tests and benchmarks: a slow mobile link in front of a server.

:class:`ThrottleProxy` listens on a free loopback port and forwards every connection to the
target, shaping the bytes of all connections together to ``rate_bps`` bits per second in each
direction (one link, shared like a phone's), with an optional one-way ``delay_s`` on each
chunk. :meth:`ThrottleProxy.cut` takes the link down (nothing passes either way, connections
stay open, as when a phone loses its signal) for some seconds or until
:meth:`ThrottleProxy.restore`. It runs an asyncio loop in a thread of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from types import TracebackType

#: Bytes forwarded at once: small enough that connections share the link fairly.
CHUNK_BYTES = 512


class _Direction:
    """One direction of the link: a queue that lets ``rate_bps`` bits through per second."""

    def __init__(self, rate_bps: float) -> None:
        self.rate_bps = rate_bps
        self.free_at = 0.0
        self.bytes = 0

    async def send(self, size: int) -> None:
        """Wait until ``size`` bytes have gone through the link."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        self.free_at = max(now, self.free_at) + size * 8.0 / self.rate_bps
        self.bytes += size
        await asyncio.sleep(self.free_at - now)


class ThrottleProxy:
    """A shaped TCP link from a free loopback port to ``host:port``.

    Parameters
    ----------
    host, port
        The server behind the link.
    rate_bps
        Bits per second, each way.
    delay_s
        One-way delay added to each chunk (besides its time on the link).
    """

    def __init__(self, host: str, port: int, *, rate_bps: float = 50_000.0,
                 delay_s: float = 0.0) -> None:
        if rate_bps <= 0:
            raise ValueError(f"Expected rate_bps > 0, got {rate_bps}")
        self.target = (host, port)
        self.delay_s = delay_s
        self.up = _Direction(rate_bps)      # client to server
        self.down = _Direction(rate_bps)    # server to client
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._open: asyncio.Event | None = None
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._restore: asyncio.TimerHandle | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="throttle-proxy")

    @property
    def url(self) -> str:
        """The proxy's http address."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def bytes_down(self) -> int:
        """Bytes sent from the server to clients so far."""
        return self.down.bytes

    @property
    def bytes_up(self) -> int:
        """Bytes sent from clients to the server so far."""
        return self.up.bytes

    def start(self) -> ThrottleProxy:
        """Listen and forward from a background thread."""
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10.0)
        return self

    async def _start(self) -> None:
        self._open = asyncio.Event()
        self._open.set()
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)  # closed at the end even when cancelled before connecting
        opened: list[asyncio.StreamWriter] = [writer]
        try:
            try:
                up_reader, up_writer = await asyncio.open_connection(*self.target)
            except OSError:
                return
            opened.append(up_writer)
            self._writers.add(up_writer)
            await asyncio.gather(self._pipe(reader, up_writer, self.up),
                                 self._pipe(up_reader, writer, self.down))
        except asyncio.CancelledError:
            pass        # closing the proxy: end quietly (the connection closes below)
        finally:
            for w in opened:
                self._writers.discard(w)
                w.close()
            # the transports give their sockets back once closed, not at the next GC
            await asyncio.gather(*(w.wait_closed() for w in opened), return_exceptions=True)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    direction: _Direction) -> None:
        assert self._open is not None
        try:
            while True:
                await self._open.wait()
                data = await reader.read(CHUNK_BYTES)
                if not data:
                    break
                await direction.send(len(data))
                if self.delay_s > 0:
                    await asyncio.sleep(self.delay_s)
                await self._open.wait()          # a cut while on the link holds it
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(OSError, RuntimeError):
                if writer.can_write_eof():
                    writer.write_eof()

    def cut(self, seconds: float | None = None) -> None:
        """Take the link down: nothing passes either way until :meth:`restore` (or after
        ``seconds``)."""
        def down() -> None:
            assert self._open is not None
            self._open.clear()
            if self._restore is not None:
                self._restore.cancel()
            self._restore = None if seconds is None else \
                self._loop.call_later(seconds, self._up)
        self._loop.call_soon_threadsafe(down)

    def restore(self) -> None:
        """Bring the link back up."""
        self._loop.call_soon_threadsafe(self._up)

    def _up(self) -> None:
        assert self._open is not None
        if self._restore is not None:
            self._restore.cancel()
            self._restore = None
        self._open.set()

    def close(self) -> None:
        """Close every connection and stop listening."""
        async def stop() -> None:
            if self._server is not None:
                self._server.close()
            # connections accepted just now: their handlers start and register their writers
            # (a handler cancelled before it starts would leave its socket open)
            for _ in range(3):
                await asyncio.sleep(0)
            for w in list(self._writers):
                w.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.sleep(0.1)  # let the closed transports give their sockets back
        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10.0)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10.0)
        self._loop.close()

    def __enter__(self) -> ThrottleProxy:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def transfer_time_s(size_bytes: int, rate_bps: float) -> float:
    """Seconds ``size_bytes`` take on a link of ``rate_bps`` bits per second.

    Examples
    --------
    >>> transfer_time_s(6250, 50_000.0)
    1.0
    """
    return size_bytes * 8.0 / rate_bps

