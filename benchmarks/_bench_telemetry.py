"""Telemetry half of ``benchmarks/upload.py``: 100 vehicles through one TelemetryHub."""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Sequence
from typing import Any

from benchmarks._bench_sim import SimProcess


def _received(links: Sequence[Any]) -> int:
    """Messages the links received from their vehicles so far."""
    return sum(link.health(sysid).received for link in links for sysid in link.vehicles)


def telemetry_case(vehicles: int, rate_hz: float, duration_s: float,
                   subscribe_hz: float | None = None, streams: str = "lean") -> dict[str, Any]:
    """Snapshot latency and CPU with ``vehicles`` copters streaming at ``rate_hz``, published to
    a subscriber at ``subscribe_hz`` per vehicle (default ``rate_hz``).

    ``streams="lean"``: the hub's own requests, positions at ``rate_hz`` and the rest of a
    snapshot at 2 Hz; ``"all"``: every stream at ``rate_hz``.
    """
    subscribe_hz = rate_hz if subscribe_hz is None else subscribe_hz
    from gcs.link import Link
    from gcs.telemetry import TelemetryHub

    sim = SimProcess(vehicles)
    links = []
    hub = TelemetryHub(stream_rate_hz=rate_hz, status_rate_hz=None if streams == "all" else 2.0)
    try:
        for url in sim.urls:
            link = Link(url).open()
            links.append(link)
            hub.attach(link)
        heard = hub.wait_for_vehicles(vehicles, 60.0)
        time.sleep(3.0)  # streams requested and flowing
        delivered: list[tuple[float, int, float | None]] = []
        lock = threading.Lock()

        def on_snapshot(snap: Any) -> None:
            now = time.monotonic()
            with lock:
                delivered.append((now, snap.sysid, snap.boot_time_s))

        sub = hub.subscribe(on_snapshot, rate_hz=subscribe_hz)
        time.sleep(1.0)
        with lock:
            delivered.clear()
        rx0 = _received(links)
        cpu0, sim_cpu0, wall0 = time.process_time(), sim.cpu_s(), time.monotonic()
        time.sleep(duration_s)
        wall = time.monotonic() - wall0
        cpu, sim_cpu = time.process_time() - cpu0, sim.cpu_s() - sim_cpu0
        rx1 = _received(links)
        sub.close()
        with lock:
            rows = list(delivered)
    finally:
        hub.close()
        for link in links:
            link.close()
        sim.close()
    first: dict[tuple[int, float], float] = {}
    for at, sysid, boot in rows:
        if boot is not None and (sysid, boot) not in first:
            first[(sysid, boot)] = at
    latencies = sorted(at - (sim.wall0 + boot) for (_, boot), at in first.items())
    positions_per_s = len(first) / wall

    def pct(q: float) -> float | None:
        if not latencies:
            return None
        return round(1000 * latencies[min(len(latencies) - 1, math.ceil(q * len(latencies)) - 1)],
                     2)

    return {
        "telemetry_vehicles": vehicles, "vehicles_heard": len(heard), "rate_hz": rate_hz,
        "subscribe_hz": subscribe_hz, "streams": streams,
        "messages_per_s": round((rx1 - rx0) / wall, 1),
        "duration_s": round(wall, 2), "snapshots_delivered": len(rows),
        "positions_delivered_per_s": round(positions_per_s, 1),
        "positions_per_vehicle_hz": round(positions_per_s / max(1, len(heard)), 2),
        "latency_ms_p50": pct(0.50), "latency_ms_p90": pct(0.90), "latency_ms_p99": pct(0.99),
        "latency_ms_max": round(1000 * latencies[-1], 2) if latencies else None,
        "client_cpu_share": round(cpu / wall, 3), "sim_cpu_share": round(sim_cpu / wall, 3),
        "machine_load_1min": round(os.getloadavg()[0], 2),
    }
