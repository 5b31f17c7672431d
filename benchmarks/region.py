"""A region on one machine: simulated vehicles in flight served by ``dropline worker``
processes, ``dropline serve --broker`` consoles and live browser streams over PostgreSQL and
Mosquitto; then one worker killed mid-flight.

Usage::

    .venv/bin/python -m benchmarks.region [--vehicles 300] [--hubs 3] [--workers 2]
                                          [--consoles 2] [--streams 50] [--duration 60]
                                          [--sample-every 5]
                                          [--out benchmarks/results/region.json]

Starts a throwaway PostgreSQL (``tests/helpers/postgres.py``), Mosquitto with the generated
config for hubs ``hub1`` .. ``hubN`` (``tests/helpers/mosquitto.py``), one ``dropline sim``
process per hub with that hub's share of the vehicles (TCP, system ids from 1 in each hub: a
hub is its own MAVLink network), takes every vehicle off in GUIDED and sends it cruising north
at 20 m (``benchmarks/sim_fleet.py``'s client, which then lets go of the links), starts the
consoles on the shared database and ``--workers`` workers per hub (real subprocesses), each
owning one block of its hub's vehicles through its TCP links and leases. The vehicles of the
worker killed (the first of ``hub1``) are also dialled by the other workers of its hub, split
between them: a built-in vehicle's TCP port serves one client and queues the next, so a backup
link carries nothing until its owner's socket closes (the shared radio of a real region).
``--streams`` browser sessions (several crew logins, split across the consoles) read
``/api/events`` for ``--duration`` s.

At most 254 vehicles per hub (a system id is one byte, 255 is the ground station's); the
consoles tell the same system id on two hubs apart (``gcs.bus.state.vehicle_id``).

Measured:

- latency: from the worker's publishing of a position (``at`` of its bus state message, Unix s
  rounded to 10 ms, the same machine clock) to that position's first arrival in each browser
  stream, over vehicles whose system id (on their hub) is a multiple of ``--sample-every``.
  The vehicle -> worker leg (MAVLink over loopback TCP, at most one telemetry period) is not
  included: no bus or console field carries when the vehicle sent it;
- messages and bytes published on the bus per second, counted on a subscriber of every topic
  (the console's ACL does not read ``$SYS``); the broker sends each one to every console and
  the monitor;
- PostgreSQL commits and rows written per second (``pg_stat_database``);
- CPU seconds per second of every process (``/proc/PID/stat``; PostgreSQL with its backends);
- then ``kill -9`` of worker 1: seconds until each of its vehicles is published by another
  worker, and the lease rows then: vehicles without a live lease, with more than one row, or
  still held by the dead worker.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
import requests

from benchmarks._bench_sim import REPO
from benchmarks._region_probes import (
    BusMonitor,
    StreamReader,
    cpu_seconds,
    latencies_ms,
    load_average,
    login,
    percentile,
    tree_cpu_seconds,
)
from gcs.bus.state import vehicle_id

HOME = "30.3165,78.0322,640"
PASSWORD = "region-bench-pass"
#: Vehicles per hub at most: system ids 1..254 (one byte, 255 is the ground station's).
MAX_PER_HUB = 254
#: Crew logins the streams are spread over (a login may hold 16 streams per console).
VIEWERS = 4


class Procs:
    """The subprocesses started, stopped in reverse order (SIGTERM, then SIGKILL)."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.started: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None,
              stdout: int | None = None) -> subprocess.Popen[bytes]:
        """Start ``dropline ARGV`` as ``name``, its stderr (and stdout) logged."""
        err = (self.logs / f"{name}.log").open("wb")
        proc = subprocess.Popen([sys.executable, "-m", "dropline.cli", *argv], cwd=REPO,
                                env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL,
                                stdout=err if stdout is None else stdout, stderr=err)
        err.close()
        self.started[name] = proc
        return proc

    def pid(self, name: str) -> int:
        """Process id of ``name``."""
        return self.started[name].pid

    def stop(self) -> None:
        """Stop every process still running."""
        for proc in reversed(list(self.started.values())):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.started.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_for(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll ``check`` until true; RuntimeError naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.2)


def fly(urls: list[str]) -> int:
    """Take every vehicle of one hub (system ids 1..N, in the order of ``urls``) off and send
    it cruising; release the links; how many cruise."""
    from benchmarks.sim_fleet import Client

    client = Client(urls, "frames")
    try:
        client.start(4.0)
        return client.fly(1.0)
    finally:
        client.close()


def blocks(vehicles: int, workers: int) -> list[list[int]]:
    """System ids of each worker's block (as even as can be)."""
    return [list(range(1 + k * vehicles // workers, 1 + (k + 1) * vehicles // workers))
            for k in range(workers)]


def pg_counters(conninfo: str, database: str) -> dict[str, int]:
    """Commits and rows written so far in ``database``."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        row = conn.execute(
            "SELECT xact_commit, tup_inserted, tup_updated, tup_deleted "
            "FROM pg_stat_database WHERE datname = %s", (database,)).fetchone()
    assert row is not None
    return dict(zip(("commits", "inserted", "updated", "deleted"), map(int, row),
                    strict=True))


def lease_rows(conninfo: str, hub: str, vehicles: int, dead: str) -> dict[str, int]:
    """The lease table of ``hub`` (its system ids 1..``vehicles``) after the takeover: vehicles
    without an unexpired lease, vehicles with more than one row, and vehicles still the dead
    worker's."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        rows = conn.execute("SELECT vehicle, worker_id, expires_at > extract(epoch from now()) "
                            "FROM vehicle_leases").fetchall()
    per: dict[str, list[tuple[str, bool]]] = {}
    for vehicle, worker, live in rows:
        per.setdefault(str(vehicle), []).append((str(worker), bool(live)))
    keys = [f"{hub}/{s}" for s in range(1, vehicles + 1)]
    return {"vehicles_without_live_lease": sum(
                1 for k in keys if not any(live for _, live in per.get(k, []))),
            "vehicles_with_several_rows": sum(1 for k in keys if len(per.get(k, [])) > 1),
            "vehicles_held_by_dead_worker": sum(
                1 for k in keys if any(w == dead and live for w, live in per.get(k, [])))}


def run(args: argparse.Namespace, tmp: Path, stack: ExitStack) -> dict[str, Any]:
    """One whole run; every process it starts is stopped by ``stack``."""
    from tests.helpers.mosquitto import running_mosquitto
    from tests.helpers.ports import free_base_port, free_tcp_port
    from tests.helpers.postgres import start_postgres

    hubs = [f"hub{h + 1}" for h in range(args.hubs)]
    per_hub = blocks(args.vehicles, args.hubs)
    sizes = {hub: len(ids) for hub, ids in zip(hubs, per_hub, strict=True)}
    result: dict[str, Any] = {"vehicles": args.vehicles, "hubs": args.hubs,
                              "workers": args.workers * args.hubs,
                              "consoles": args.consoles, "streams": args.streams,
                              "load_1min_start": load_average()}
    t0 = time.monotonic()
    pg = start_postgres()

    def stop_pg() -> None:
        pg.stop()
        shutil.rmtree(pg.folder, ignore_errors=True)

    stack.callback(stop_pg)
    with psycopg.connect(pg.conninfo(), autocommit=True) as conn:
        conn.execute("CREATE DATABASE region")
    db_url, db_info = pg.url("region"), pg.conninfo("region")
    broker = stack.enter_context(running_mosquitto(tmp / "broker", hubs))
    procs = Procs(tmp)
    stack.callback(procs.stop)

    urls: dict[str, list[str]] = {}   # per hub, of system ids 1..N
    for hub in hubs:
        base = free_base_port(sizes[hub])
        sim = procs.start(f"sim-{hub}", ["sim", "--vehicles", str(sizes[hub]), "--home",
                                         HOME, "--speedup", "1", "--base-port", str(base)],
                          stdout=subprocess.PIPE)
        assert sim.stdout is not None
        urls[hub] = [sim.stdout.readline().decode().strip() for _ in range(sizes[hub])]
        if not all(u.startswith("tcp:") for u in urls[hub]):
            raise RuntimeError(f"dropline sim of {hub} did not start: "
                               f"{(tmp / f'sim-{hub}.log').read_text()}")
        sim.stdout.close()

    env = {"DATABASE_URL": db_url, "DROPLINE_ADMIN_PASSWORD": PASSWORD}
    consoles = []
    for k in range(args.consoles):
        port = free_tcp_port()
        procs.start(f"console-{k + 1}", ["serve", "--broker", broker.url("console"),
                                         "--port", str(port), "--data-dir",
                                         str(tmp / f"console-{k + 1}")], env=env)
        url = f"http://127.0.0.1:{port}"
        wait_for(partial(_answers, url), 120, f"console {k + 1}")
        consoles.append(url)
    admin = login(consoles[0], "admin", PASSWORD)
    for v in range(VIEWERS):
        made = admin.post(f"{consoles[0]}/api/users", timeout=30, json={
            "username": f"viewer{v + 1}", "password": PASSWORD, "role": "crew"})
        if not made.ok:
            raise RuntimeError(f"user viewer{v + 1} not made: {made.text}")
    result["setup_consoles_s"] = round(time.monotonic() - t0, 1)

    with ThreadPoolExecutor(len(hubs)) as pool:
        result["cruising"] = sum(pool.map(fly, (urls[hub] for hub in hubs)))
    result["setup_flying_s"] = round(time.monotonic() - t0, 1)

    monitor = BusMonitor(broker.url("console"), sample_every=args.sample_every).start()
    stack.callback(monitor.close)
    names: list[str] = []
    owned: dict[str, list[int]] = {}   # worker -> system ids on its hub
    for h, hub in enumerate(hubs):
        own = blocks(sizes[hub], args.workers)
        backups: dict[int, list[int]] = {k: [] for k in range(1, args.workers)}
        if h == 0:   # the killed worker's vehicles
            for i, sysid in enumerate(own[0]):
                backups[1 + i % (args.workers - 1)].append(sysid)
        for k in range(args.workers):
            name = f"w{h * args.workers + k + 1}"
            names.append(name)
            owned[name] = own[k]
            argv = ["worker", "--hub", hub, "--broker", broker.url(f"worker-{hub}"),
                    "--worker-id", name, "--database", db_url, "--speedup", "1"]
            for sysid in own[k] + backups.get(k, []):
                argv += ["--connect", urls[hub][sysid - 1]]
            procs.start(name, argv)
            wait_for(partial(_publishes, monitor, name,
                             {vehicle_id(hub, s) for s in own[k]}), 180,
                     f"worker {name} of {hub} publishing its {len(own[k])} vehicles")
    result["setup_workers_s"] = round(time.monotonic() - t0, 1)

    readers = []
    for i in range(args.streams):
        url = consoles[i % len(consoles)]
        session = login(url, f"viewer{1 + (i // len(consoles)) % VIEWERS}", PASSWORD)
        readers.append(StreamReader(session, url, sample_every=args.sample_every))
    for r in readers:
        r.start()
    for r in readers:
        stack.callback(r.stop.set)
    time.sleep(5.0)  # every stream open and past its first burst

    pids = {**{f"simulator {hub}": procs.pid(f"sim-{hub}") for hub in hubs},
            **{n: procs.pid(n) for n in names},
            **{f"console-{k + 1}": procs.pid(f"console-{k + 1}")
               for k in range(args.consoles)},
            "mosquitto": broker.process.pid}
    pg_pid = int((pg.data_dir / "postmaster.pid").read_text().split()[0])

    def cpu() -> dict[str, float]:
        out = {name: cpu_seconds(pid) for name, pid in pids.items()}
        out["postgresql"] = tree_cpu_seconds(pg_pid)
        out["benchmark (monitor, streams)"] = time.process_time()
        return out

    cpu0, pg0, (msg0, bytes0, gaps0, gap_s0) = cpu(), pg_counters(pg.conninfo(), "region"), \
        monitor.counts()
    events0 = sum(sum(r.events.values()) for r in readers)
    wall0, unix0 = time.monotonic(), time.time()
    time.sleep(args.duration)
    wall = time.monotonic() - wall0
    cpu1, pg1, (msg1, bytes1, gaps1, gap_s1) = cpu(), pg_counters(pg.conninfo(), "region"), \
        monitor.counts()
    unix1 = time.time()
    events1 = sum(sum(r.events.values()) for r in readers)
    result["load_1min_measured"] = load_average()
    result["measured_s"] = round(wall, 1)

    with monitor.lock:
        sent = dict(monitor.first_sent)
    per_stream = [latencies_ms(sent, dict(r.first_seen), unix0, unix1) for r in readers]
    every = [x for lat in per_stream for x in lat]
    result["latency_ms"] = {
        "interval": "worker publishes a position (bus 'at') -> first arrival in a browser "
                    "stream (/api/events)",
        "samples": len(every), "p50": _r(percentile(every, 0.5)),
        "p99": _r(percentile(every, 0.99)), "max": _r(max(every) if every else None),
        "p99_of_worst_stream": _r(max((percentile(s, 0.99) or 0.0) for s in per_stream)
                                  if per_stream else None)}
    result["bus"] = {"messages_per_s": round((msg1 - msg0) / wall, 1),
                     "kbytes_per_s": round((bytes1 - bytes0) / wall / 1000, 1),
                     "messages_per_vehicle_s": round((msg1 - msg0) / wall / args.vehicles, 3),
                     "deliveries_per_s": round((msg1 - msg0) / wall * (args.consoles + 1), 1),
                     "by_kind": dict(monitor.messages),
                     "silences_over_3s": gaps1 - gaps0,
                     "unmonitored_share": round((gap_s1 - gap_s0) / wall / args.vehicles, 4)}
    result["postgresql"] = {k: round((pg1[k] - pg0[k]) / wall, 1) for k in pg0}
    result["postgresql"]["rows_written_per_s"] = round(
        sum(pg1[k] - pg0[k] for k in ("inserted", "updated", "deleted")) / wall, 1)
    result["cpu_share"] = {k: round((cpu1[k] - cpu0[k]) / wall, 3) for k in cpu0}
    result["browser"] = {"events_per_s": round((events1 - events0) / wall, 1),
                         "streams_failed": [r.error for r in readers if r.error],
                         "streams_chunked": sum(1 for r in readers if r.chunked)}

    victim = names[0]
    expected = {vehicle_id(hubs[0], s) for s in owned[victim]}
    monitor.mark_dead(victim)
    kill_at = monitor.dead_at
    procs.started[victim].send_signal(signal.SIGKILL)
    try:
        wait_for(lambda: expected <= set(monitor.back), args.takeover_timeout,
                 "every vehicle of the killed worker published again")
    except RuntimeError as exc:
        result["takeover_error"] = str(exc)
    with monitor.lock:
        back = dict(monitor.back)
    times = sorted(back[s][1] - kill_at for s in expected if s in back)
    result["takeover"] = {
        "killed": victim, "vehicles": len(expected), "monitored_again": len(times),
        "all_back_s": round(times[-1], 2) if len(times) == len(expected) else None,
        "median_s": round(statistics.median(times), 2) if times else None,
        "first_s": round(times[0], 2) if times else None,
        "by_worker": {w: sum(1 for s in expected if back.get(s, ("",))[0] == w)
                      for w in names[1:args.workers]}}
    time.sleep(2.0)
    result["leases_after_takeover"] = lease_rows(db_info, hubs[0], sizes[hubs[0]], victim)
    result["flying_at_end"] = sum(
        1 for h in monitor.book.vehicles().values() if (h.fields.get("alt_rel_m") or 0) > 10)
    return result


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _publishes(monitor: BusMonitor, worker: str, vehicles: set[int]) -> bool:
    return vehicles <= monitor.published_by(worker)


def _answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/api/csrf", timeout=2).ok
    except requests.RequestException:
        return False


def table(r: dict[str, Any]) -> str:
    """The run as a Markdown table."""
    lat, bus, pg, tk = r["latency_ms"], r["bus"], r["postgresql"], r["takeover"]
    rows = [("vehicles / hubs / workers / consoles / streams",
             f"{r['vehicles']} / {r.get('hubs', 1)} / {r['workers']} / {r['consoles']} / "
             f"{r['streams']}"),
            ("load average (1 min) at start / measured", f"{r['load_1min_start']} / "
                                                         f"{r['load_1min_measured']}"),
            ("latency worker -> browser p50 / p99 / max (ms)",
             f"{lat['p50']} / {lat['p99']} / {lat['max']} ({lat['samples']} samples)"),
            ("bus messages/s published (per vehicle)",
             f"{bus['messages_per_s']} ({bus['messages_per_vehicle_s']})"),
            ("bus deliveries/s, kB/s published", f"{bus['deliveries_per_s']}, "
                                                 f"{bus['kbytes_per_s']}"),
            ("vehicle silences > 3 s (share of vehicle-time unmonitored)",
             f"{bus['silences_over_3s']} ({bus['unmonitored_share']})"),
            ("browser events/s (all streams)", f"{r['browser']['events_per_s']}"),
            ("PostgreSQL commits/s, rows written/s",
             f"{pg['commits']}, {pg['rows_written_per_s']}"),
            *((f"CPU {k} (cores)", f"{v}") for k, v in r["cpu_share"].items()),
            ("kill -9 worker: all its vehicles published again (s)",
             f"{tk['all_back_s']} (median {tk['median_s']}, first {tk['first_s']}; "
             f"{tk['monitored_again']}/{tk['vehicles']})"),
            ("leases: without live lease / several rows / dead worker's",
             " / ".join(str(v) for v in r["leases_after_takeover"].values()))]
    return "\n".join(["| measure | value |", "|---|---|",
                      *(f"| {a} | {b} |" for a, b in rows)])


def main(argv: list[str] | None = None) -> int:
    """Run, print the table and write the JSON."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--vehicles", type=int, default=300,
                        help=f"simulated vehicles, split between the hubs (at most "
                             f"{MAX_PER_HUB} per hub)")
    parser.add_argument("--hubs", type=int, default=3,
                        help="hubs, each its own MAVLink network with one simulator")
    parser.add_argument("--workers", type=int, default=2, help="workers per hub")
    parser.add_argument("--consoles", type=int, default=2)
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60.0, help="wall seconds measured")
    parser.add_argument("--sample-every", type=int, default=5,
                        help="latency of the vehicles whose system id (on their hub) is a "
                             "multiple of this")
    parser.add_argument("--takeover-timeout", type=float, default=60.0)
    parser.add_argument("--out", type=Path,
                        default=REPO / "benchmarks" / "results" / "region.json")
    args = parser.parse_args(argv)
    if args.hubs < 1 or args.workers < 2 or args.vehicles < args.workers * args.hubs \
            or args.consoles < 1:
        parser.error("expected a hub, at least 2 workers per hub, a vehicle per worker and a "
                     "console")
    if -(-args.vehicles // args.hubs) > MAX_PER_HUB:
        parser.error(f"--vehicles: expected at most {MAX_PER_HUB} per hub, got "
                     f"{args.vehicles} on {args.hubs} hub(s): a MAVLink system id is one byte "
                     "(255 is the ground station's); add hubs")
    with tempfile.TemporaryDirectory(prefix="dropline-region-") as folder, ExitStack() as stack:
        result = run(args, Path(folder), stack)
        result["machine"] = {"cores": os.cpu_count(), "python": platform.python_version()}
    print(json.dumps(result), flush=True)
    print(table(result), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
