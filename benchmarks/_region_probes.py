"""Probes of the region benchmark: a bus monitor (what the workers publish, who publishes each
vehicle, when each position was first sent), browser-like readers of the consoles' event
stream, and the CPU seconds of processes from ``/proc``."""

from __future__ import annotations

import os
import re
import threading
import time
from collections import Counter
from pathlib import Path

import requests

from gcs.bus.client import BusClient
from gcs.bus.errors import MalformedMessage
from gcs.bus.messages import StateMessage
from gcs.bus.state import StateBook, vehicle_id
from gcs.bus.topics import parse_topic, presence_topic, vehicle_topic
from gcs.bus.url import BrokerUrl

#: A position as both ends print it: the console's id of the vehicle (hub and system id,
#: :func:`gcs.bus.state.vehicle_id`) and the JSON text of latitude and longitude.
PositionKey = tuple[int, str, str]

#: A vehicle not published for longer than this is not monitored (keep-alives every 2 s).
GAP_S = 3.0

_SYSID = re.compile(r'"sysid": (\d+)')
_LAT = re.compile(r'"lat_deg": ([-0-9.e]+)')
_LON = re.compile(r'"lon_deg": ([-0-9.e]+)')


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of process ``pid`` so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid``."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid:
                out.append(int(entry.name))
    return out


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of ``pid`` and its children now (PostgreSQL's server and backends)."""
    return cpu_seconds(pid) + sum(cpu_seconds(c) for c in children(pid))


class BusMonitor:
    """A console-login subscriber counting what crosses the bus, reassembling each vehicle's
    state and noting, for sampled vehicles, when each position was first sent by a worker
    (the ``at`` of its state message, Unix s of the worker's clock, 10 ms resolution). Vehicles
    are keyed by the console's id of hub and system id."""

    def __init__(self, url: str, *, sample_every: int) -> None:
        self.sample_every = sample_every
        self.book = StateBook(key=vehicle_id)
        self.lock = threading.Lock()
        self.messages: Counter[str] = Counter()
        self.payload_bytes = 0
        self.first_sent: dict[PositionKey, float] = {}
        #: Per vehicle: the last worker heard publishing it and when (monotonic s).
        self.last: dict[int, tuple[str, float]] = {}
        #: Per vehicle: when a worker other than ``self.dead`` first published it after
        #: ``self.dead_at`` (monotonic s), and which worker.
        self.back: dict[int, tuple[str, float]] = {}
        #: State silences longer than ``GAP_S`` (a keep-alive goes out every 2 s): how many,
        #: and their seconds beyond it, summed over vehicles.
        self.gaps = 0
        self.gap_s = 0.0
        self.dead: str | None = None
        self.dead_at = 0.0
        self.client = BusClient(BrokerUrl.parse(url), f"bench-monitor-{os.getpid()}",
                                on_message=self._on_message)
        for kind in ("state", "alert", "drop", "ack"):
            self.client.subscribe(vehicle_topic("+", "+", kind), qos=1)
        self.client.subscribe(presence_topic("+", "+"), qos=1)

    def start(self) -> BusMonitor:
        """Connect; returns self."""
        self.client.connect(10.0)
        return self

    def close(self) -> None:
        """Leave the broker."""
        self.client.close()

    def counts(self) -> tuple[int, int, int, float]:
        """Messages and payload bytes heard so far, silences and their seconds."""
        with self.lock:
            return sum(self.messages.values()), self.payload_bytes, self.gaps, self.gap_s

    def published_by(self, worker: str) -> set[int]:
        """Vehicles whose last state came from ``worker``."""
        with self.lock:
            return {s for s, (w, _) in self.last.items() if w == worker}

    def mark_dead(self, worker: str) -> None:
        """From now on, note when each vehicle is published by another worker."""
        with self.lock:
            self.dead, self.dead_at, self.back = worker, time.monotonic(), {}

    def _on_message(self, topic: str, payload: bytes) -> None:
        now = time.monotonic()
        try:
            parts = parse_topic(topic)
        except (MalformedMessage, ValueError):
            return
        with self.lock:
            self.messages[parts.kind] += 1
            self.payload_bytes += len(payload) + len(topic)
        if parts.kind != "state" or parts.sysid is None:
            return
        try:
            msg = StateMessage.from_payload(topic, payload)
        except MalformedMessage:
            return
        heard = self.book.apply(parts.hub, parts.sysid, msg)
        key = vehicle_id(parts.hub, parts.sysid)
        with self.lock:
            before = self.last.get(key)
            if before is not None and now - before[1] > GAP_S and self.dead is None:
                self.gaps += 1
                self.gap_s += now - before[1] - GAP_S
            self.last[key] = (msg.worker, now)
            if self.dead is not None and msg.worker != self.dead and key not in self.back:
                self.back[key] = (msg.worker, now)
            if heard is not None and parts.sysid % self.sample_every == 0:
                self.first_sent.setdefault((key, repr(heard.fields.get("lat_deg")),
                                            repr(heard.fields.get("lon_deg"))),
                                           msg.sent_at_s)


def login(url: str, username: str, password: str) -> requests.Session:
    """A session of ``username`` logged in to the console at ``url`` (CSRF as a browser)."""
    s = requests.Session()
    token = s.get(f"{url}/api/csrf", timeout=30).json()["csrf_token"]
    r = s.post(f"{url}/api/login", json={"username": username, "password": password},
               headers={"X-CSRFToken": token}, timeout=30)
    r.raise_for_status()
    s.headers["X-CSRFToken"] = s.get(f"{url}/api/csrf", timeout=30).json()["csrf_token"]
    return s


class StreamReader(threading.Thread):
    """One browser's live stream (``/api/events``) read until stopped: events by kind, body
    bytes, and for sampled vehicles the wall time each position first arrived."""

    def __init__(self, session: requests.Session, url: str, *, sample_every: int) -> None:
        super().__init__(daemon=True)
        self.session, self.url, self.sample_every = session, url, sample_every
        self.stop = threading.Event()
        self.events: Counter[str] = Counter()
        self.bytes = 0
        self.first_seen: dict[PositionKey, float] = {}
        self.error: str | None = None
        self.chunked: bool | None = None

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                self._read()
        except Exception as exc:  # reported with the results
            self.error = f"{type(exc).__name__}: {exc}"

    def _read(self) -> None:
        with self.session.get(f"{self.url}/api/events", stream=True, timeout=30,
                              headers={"Accept-Encoding": "identity"}) as r:
            r.raise_for_status()
            self.chunked = r.headers.get("Transfer-Encoding") == "chunked"
            text = ""
            for chunk in r.raw.stream(1 << 16, decode_content=False):
                now = time.time()
                if self.stop.is_set():
                    return
                self.bytes += len(chunk)
                text += chunk.decode()
                *blocks, text = text.split("\n\n")
                for block in blocks:
                    self._block(block, now)

    def _block(self, block: str, now: float) -> None:
        at = block.find("event: ")
        if at < 0:
            return
        kind = block[at + 7:block.find("\n", at)]
        self.events[kind] += 1
        if kind != "vehicle":
            return
        m = _SYSID.search(block)   # the console's id, the system id in its low byte
        if m is None or int(m.group(1)) % 256 % self.sample_every:
            return
        lat, lon = _LAT.search(block), _LON.search(block)
        if lat is None or lon is None:
            return
        self.first_seen.setdefault((int(m.group(1)), lat.group(1), lon.group(1)), now)


def latencies_ms(sent: dict[PositionKey, float], seen: dict[PositionKey, float],
                 since_s: float, until_s: float) -> list[float]:
    """Milliseconds from a position's first sending to its first arrival in one stream, for
    the positions that arrived between ``since_s`` and ``until_s`` (Unix s)."""
    out = []
    for key, t in seen.items():
        s = sent.get(key)
        if s is not None and since_s <= t <= until_s:
            out.append(1000.0 * (t - s))
    return out


def percentile(values: list[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) of ``values`` by nearest rank (None: no values)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def load_average() -> float:
    """The machine's one-minute load average."""
    return round(os.getloadavg()[0], 2)
