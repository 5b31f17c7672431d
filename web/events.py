"""Live events for Server-Sent Events streams, numbered so that a client catches up.

Every event gets the next id. The bus keeps the last ``keep`` events; a client reconnecting with
``Last-Event-ID`` gets every event after that id, or, when it is too far behind, a ``reset`` event
telling it to fetch the whole state again. Events are JSON objects with a ``type``.

Each open stream holds a server thread, so streams are counted: at most ``max_streams`` on the
server (leaving threads for ordinary requests), ``per_session`` per login session and
``per_user`` per account; one more gets :class:`~web.errors.TooManyRequests` (429 with
``Retry-After``) before it starts.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import zlib
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from web.errors import TooManyRequests


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """One published event: its id, kind and JSON-ready data, and its ``text/event-stream``
    text when made once for every stream (:meth:`EventBus.publish`)."""

    id: int
    kind: str
    data: dict[str, Any]
    text: str | None = None

    def sse(self) -> str:
        """The event in the ``text/event-stream`` format."""
        if self.text is not None:
            return self.text
        return sse_text(self.id, self.kind, self.data)


def sse_text(event_id: int, kind: str, data: dict[str, Any]) -> str:
    """One event in the ``text/event-stream`` format."""
    return f"id: {event_id}\nevent: {kind}\ndata: {json.dumps(data)}\n\n"


class EventBus:
    """Publishes events to any number of SSE streams.

    Parameters
    ----------
    keep
        How many past events are kept for clients that reconnect.
    max_streams, per_session, per_user
        How many streams may be open on the server, per login session and per account.
    """

    def __init__(self, keep: int = 5000, *, max_streams: int = 32, per_session: int = 8,
                 per_user: int = 16) -> None:
        self._events: deque[Event] = deque(maxlen=keep)
        self._cond = threading.Condition()
        self._next = 1
        self._closed = False
        self.max_streams = max_streams
        self.per_session = per_session
        self.per_user = per_user
        self._open: Counter[str] = Counter()

    @property
    def open_streams(self) -> int:
        """How many streams are open."""
        with self._cond:
            return self._open["*"]

    def open_stream(self, *, session: str, user: str, last_id: int,
                    heartbeat_s: float = 10.0, max_s: float | None = None) -> Iterator[str]:
        """A counted :meth:`stream` for the login ``session`` of account ``user``.

        Raises
        ------
        TooManyRequests
            The server, the session or the account has as many streams open as allowed.
        """
        return self.open_counted(
            session=session, user=user,
            make=lambda: self.stream(last_id, heartbeat_s=heartbeat_s, max_s=max_s))

    def open_counted(self, *, session: str, user: str,
                     make: Callable[[], Iterator[str]]) -> Iterator[str]:
        """The stream ``make`` returns, counted against the limits of :meth:`open_stream`
        (made only once admitted).

        Raises
        ------
        TooManyRequests
            The server, the session or the account has as many streams open as allowed.
        """
        keys = ("*", f"s:{session}", f"u:{user}")
        with self._cond:
            if self._open["*"] >= self.max_streams:
                raise TooManyRequests(f"the server has {self.max_streams} live event streams "
                                      "open already; try again later", retry_after_s=10.0)
            if self._open[keys[1]] >= self.per_session:
                raise TooManyRequests(f"at most {self.per_session} live event streams per "
                                      "login; close another console page", retry_after_s=10.0)
            if self._open[keys[2]] >= self.per_user:
                raise TooManyRequests(f"at most {self.per_user} live event streams per "
                                      "account; close another console page", retry_after_s=10.0)
            self._open.update(keys)
        try:
            inner = make()
        except BaseException:
            self._release(keys)
            raise
        return _CountedStream(inner, lambda: self._release(keys))

    def _release(self, keys: tuple[str, ...]) -> None:
        with self._cond:
            self._open.subtract(keys)
            for key in keys:
                if self._open[key] <= 0:
                    del self._open[key]

    @property
    def last_id(self) -> int:
        """The id of the latest event (0 before any)."""
        with self._cond:
            return self._next - 1

    def publish(self, kind: str, data: dict[str, Any]) -> Event:
        """Publish one event; returns it with its id. Its text is made here, once, not by
        each stream (``data`` must not change afterwards)."""
        with self._cond:
            event = Event(id=self._next, kind=kind, data=data,
                          text=sse_text(self._next, kind, data))
            self._next += 1
            self._events.append(event)
            self._cond.notify_all()
        return event

    def since(self, last_id: int) -> list[Event] | None:
        """Every kept event after ``last_id``; None if some were already forgotten."""
        with self._cond:
            if last_id >= self._next - 1:
                return []
            if not self._events or self._events[0].id > last_id + 1:
                return None
            # ids follow one another: the newest ``n`` events, read from the end
            n = self._next - 1 - last_id
            newest = list(itertools.islice(reversed(self._events), n))
        newest.reverse()
        return newest

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    def wait_after(self, last_id: int, timeout_s: float) -> None:
        """Wait until an event after ``last_id`` is published, the bus closes or ``timeout_s``
        passed."""
        with self._cond:
            if self._next - 1 <= last_id and not self._closed:
                self._cond.wait(max(0.0, timeout_s))

    def stream(self, last_id: int, *, heartbeat_s: float = 10.0,
               max_s: float | None = None) -> Iterator[str]:
        """SSE text for one client, from the event after ``last_id`` on.

        A comment line is sent every ``heartbeat_s`` without events (to keep proxies and the
        client's reconnection logic honest); the stream ends when the bus closes or after
        ``max_s`` seconds (the client then reconnects with its last id).
        """
        yield "retry: 1000\n\n"
        end = None if max_s is None else time.monotonic() + max_s
        while not self._closed and (end is None or time.monotonic() < end):
            events = self.since(last_id)
            if events is None:
                reset = Event(id=self.last_id, kind="reset", data={"type": "reset"})
                last_id = reset.id
                yield reset.sse()
                continue
            if events:
                last_id = events[-1].id
                yield "".join(e.sse() for e in events)
                continue
            idle = False
            with self._cond:
                if self._next - 1 <= last_id and not self._closed:
                    left_s = heartbeat_s if end is None else end - time.monotonic()
                    self._cond.wait(max(0.0, min(heartbeat_s, left_s)))
                    idle = self._next - 1 <= last_id and (end is None
                                                          or time.monotonic() < end)
            if idle:
                yield ": keep-alive\n\n"

    def close(self) -> None:
        """End every stream."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()


class _CountedStream:
    """An event stream that gives its slot back once, when it ends or is closed (the WSGI
    server closes it when the client goes away, even before the first event)."""

    def __init__(self, inner: Iterator[str], release: Any) -> None:
        self._inner = inner
        self._release: Any = release

    def __iter__(self) -> _CountedStream:
        return self

    def __next__(self) -> str:
        try:
            return next(self._inner)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """End the stream and free its slot (safe to call again)."""
        release, self._release = self._release, None
        if release is not None:
            close = getattr(self._inner, "close", None)
            if close is not None:
                close()
            release()


#: Content codings a stream can be sent in, best first, with their zlib window bits.
CODINGS = {"gzip": 31, "deflate": 15}


def pick_coding(accept_encoding: str) -> str | None:
    """The content coding (``gzip`` or ``deflate``) to send a stream in for a client's
    ``Accept-Encoding`` header, or None (as is).

    Examples
    --------
    >>> pick_coding("gzip, deflate, br"), pick_coding("deflate"), pick_coding("gzip;q=0, br")
    ('gzip', 'deflate', None)
    """
    offered = {}
    for part in accept_encoding.lower().split(","):
        name, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        offered[name.strip()] = q
    return next((c for c in CODINGS if offered.get(c, 0.0) > 0.0), None)


class CompressedStream:
    """A text stream compressed in ``coding`` (``gzip`` or ``deflate``), each chunk flushed
    on its own so that the client decodes it at once; closing it closes the inner stream.

    Examples
    --------
    >>> out = b"".join(CompressedStream(iter(["data: 1\\n\\n"] * 3), "gzip"))
    >>> zlib.decompress(out, 31).count(b"data: 1")
    3
    """

    def __init__(self, inner: Iterator[str], coding: str) -> None:
        self._inner = inner
        self._zip = zlib.compressobj(6, zlib.DEFLATED, CODINGS[coding])
        self._done = False

    def __iter__(self) -> CompressedStream:
        return self

    def __next__(self) -> bytes:
        if self._done:
            raise StopIteration
        try:
            chunk = next(self._inner)
        except StopIteration:
            self._done = True
            return self._zip.flush(zlib.Z_FINISH)
        return self._zip.compress(chunk.encode()) + self._zip.flush(zlib.Z_SYNC_FLUSH)

    def close(self) -> None:
        """Close the inner stream (safe to call again)."""
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()
