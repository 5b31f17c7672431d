"""Mission upload under packet loss, side by side with MAVProxy, and fleet telemetry latency.

Upload: for each size (``--items``, default 100 and 700) and loss rate (``--loss``, default 0,
0.1 and 0.3, applied to each direction of the link by the simulator), a synthetic mission is
uploaded ``--repeats`` times to one built-in simulated copter running at 1x in a process of its
own (its 1 s re-request and 8 s cancel timers run in simulated time):

- ``ours``: :func:`gcs.transfer.upload_verified` (upload, read-back, item-by-item compare) over a
  :class:`gcs.link.Link`; ``upload_s`` is when the vehicle's MISSION_ACK ACCEPTED arrived (seen
  by a link listener), ``total_s`` when the verified read-back returned;
- ``mavproxy``: ``mavproxy.py --master tcp:... --default-modules=wp`` driven on its standard
  input with ``wp load FILE`` once it reports the vehicle online; ``upload_s`` is when it prints
  ``Got MISSION_ACK: TYPE_MISSION: ACCEPTED``, counted from the command being written. MAVProxy
  does not read the mission back, so after each of its runs the vehicle's mission is downloaded
  on a clean link and compared (``holds_mission``), untimed;
- ``floor``: the round-trip floor: the median TIMESYNC round trip through a Link (RTT, measured
  before the loss is switched on) times the items, for the upload alone (``items x RTT``), and
  twice that for a verified upload (a read-back costs one more round trip per item).

Telemetry: ``--telemetry-vehicles`` (default 100) simulated copters in a process of their own,
one :class:`~gcs.link.Link` each, all attached to one :class:`~gcs.telemetry.TelemetryHub` that
asks for every stream at ``--rate-hz`` and publishes snapshots to a subscriber at the same rate.
The latency of a position is from the vehicle's own time of the GLOBAL_POSITION_INT (its
``time_boot_ms`` on the simulator's monotonic clock, which both processes share) to the first
snapshot delivered to the subscriber that carries it; the client's CPU share and the
simulator's are measured from the process times.

    python -m benchmarks.upload [--items 100 700] [--loss 0 0.1 0.3] [--repeats 3]
                                [--mavproxy PATH] [--no-upload] [--no-telemetry]
                                [--telemetry-vehicles 100] [--rate-hz 10] [--duration 20]
                                [--out benchmarks/results/upload.json]

Each case prints one JSON line; all of them are written to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import queue
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
HOME = (30.3165, 78.0322, 640.0)
MAVPROXY_ACK = re.compile(r"Got MISSION_ACK: TYPE_MISSION: (\w+)")


# -- the simulator process -------------------------------------------------------------------
def serve(argv: Sequence[str]) -> int:
    """Run a built-in fleet; print its clock origin and URLs; obey ``faults`` lines on stdin."""
    from sitl.builtin import BuiltinFleet

    parser = argparse.ArgumentParser(prog="benchmarks.upload serve")
    parser.add_argument("--vehicles", type=int, default=1)
    parser.add_argument("--base-port", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    fleet = BuiltinFleet(vehicles=args.vehicles, home=HOME, speedup=1.0, seed=args.seed,
                         base_port=args.base_port, settle_s=2.0)
    fleet.start()
    try:
        print(f"wall0 {fleet.clock._wall0!r}", flush=True)
        for url in fleet.connection_strings:
            print(url, flush=True)
        for line in sys.stdin:
            words = line.split()
            if not words or words[0] == "quit":
                break
            if words[0] == "faults":
                index, loss, duplicate, reorder = int(words[1]), *map(float, words[2:5])
                fleet.vehicle(index).set_link_faults(loss=loss, duplicate=duplicate,
                                                     reorder=reorder)
                print("ok", flush=True)
    finally:
        fleet.stop()
    return 0


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far, from ``/proc/PID/stat``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class SimProcess:
    """The simulator in a child process (so that it never competes for our interpreter)."""

    def __init__(self, vehicles: int, seed: int = 0) -> None:
        from tests.sitl.ports import free_base_port

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.upload", "serve", "--vehicles", str(vehicles),
             "--base-port", str(free_base_port(vehicles)), "--seed", str(seed)], cwd=REPO,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        assert self.proc.stdout is not None
        first = self.proc.stdout.readline().split()
        if len(first) != 2 or first[0] != "wall0":
            raise RuntimeError("the simulator process did not start")
        self.wall0 = float(first[1])
        self.urls = [self.proc.stdout.readline().strip() for _ in range(vehicles)]

    def faults(self, index: int, loss: float, duplicate: float = 0.0,
               reorder: float = 0.0) -> None:
        """Set the link faults of vehicle ``index`` (both directions)."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"faults {index} {loss} {duplicate} {reorder}\n")
        self.proc.stdin.flush()
        if self.proc.stdout.readline().strip() != "ok":
            raise RuntimeError("the simulator did not take the faults")

    def cpu_s(self) -> float:
        """CPU seconds the simulator used so far."""
        return cpu_seconds(self.proc.pid)

    def close(self) -> None:
        """Stop the simulator."""
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
            self.proc.wait(timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()


# -- missions ----------------------------------------------------------------------------------
def synthetic_mission(count: int) -> tuple[Any, ...]:
    """Home, take-off, a lawnmower of waypoints 20-60 m above home, RTL: ``count`` items.

    Positions are whole 1e-6 degrees and altitudes whole centimetres, so that a text file
    round trip (MAVProxy) changes nothing.
    """
    from planner.items import Cmd, Frame, MissionItem

    lat0, lon0, alt0 = HOME
    items = [MissionItem(command=Cmd.NAV_WAYPOINT, frame=Frame.GLOBAL, lat_deg=lat0,
                         lon_deg=lon0, alt_m=alt0),
             MissionItem(command=Cmd.NAV_TAKEOFF, frame=Frame.GLOBAL_RELATIVE_ALT, alt_m=20.0)]
    for i in range(count - 3):
        row, col = divmod(i, 20)
        col = col if row % 2 == 0 else 19 - col
        items.append(MissionItem(command=Cmd.NAV_WAYPOINT, frame=Frame.GLOBAL_RELATIVE_ALT,
                                 lat_deg=round(lat0 + row * 2e-4, 6),
                                 lon_deg=round(lon0 + col * 2e-4, 6),
                                 alt_m=20.0 + (i % 41)))
    items.append(MissionItem(command=Cmd.NAV_RETURN_TO_LAUNCH, frame=Frame.GLOBAL_RELATIVE_ALT))
    return tuple(items)


# -- our client --------------------------------------------------------------------------------
def open_link(url: str) -> Any:
    """An open Link that has heard the vehicle."""
    from gcs.link import Link

    link = Link(url).open()
    if link.wait(lambda m: m.get_type() == "HEARTBEAT", 20.0) is None:
        link.close()
        raise RuntimeError(f"no heartbeat on {url}")
    return link


def measure_rtt_s(link: Any, sysid: int = 1, pings: int = 60) -> float:
    """Median TIMESYNC round trip through ``link`` (request sent, reply handed to a reader)."""
    samples = []
    for i in range(pings):
        ts1 = 1_000_000 + i

        def reply(m: Any, ts1: int = ts1) -> bool:
            return bool(m.get_type() == "TIMESYNC" and m.tc1 != 0 and m.ts1 == ts1
                        and m.get_srcSystem() == sysid)

        with link.subscribe(reply) as sub:
            t0 = time.perf_counter()
            link.send(link.mav.timesync_encode(0, ts1))
            if sub.get(1.0) is not None:
                samples.append(time.perf_counter() - t0)
        time.sleep(0.005)
    return statistics.median(samples)


def run_ours(sim: SimProcess, items: Sequence[Any], loss: float) -> dict[str, Any]:
    """One verified upload at ``loss``: timings and outcome."""
    from gcs.transfer import Target, upload_verified
    from planner.errors import DroplineError
    from planner.items import MissionType

    link = open_link(sim.urls[0])
    acked: list[float] = []

    def on_message(m: Any) -> None:
        if m.get_type() == "MISSION_ACK" and m.type == 0 and \
                getattr(m, "mission_type", 0) == 0 and not acked:
            acked.append(time.perf_counter())

    try:
        sim.faults(0, loss)
        link.add_listener(on_message)
        t0 = time.perf_counter()
        error = None
        try:
            upload_verified(link, Target(sysid=1), items, MissionType.MISSION)
        except DroplineError as exc:
            error = f"{type(exc).__name__}: {exc}"
        total = time.perf_counter() - t0
    finally:
        sim.faults(0, 0.0)
        link.close()
    return {"verified": error is None, "upload_s": round(acked[0] - t0, 4) if acked else None,
            "total_s": round(total, 4), "error": error}


def vehicle_holds(sim: SimProcess, items: Sequence[Any]) -> bool:
    """Whether the vehicle's mission equals ``items`` (read on a clean link)."""
    from gcs.transfer import Target, differences, download
    from planner.items import MissionType

    link = open_link(sim.urls[0])
    try:
        got = download(link, Target(sysid=1), MissionType.MISSION)
    finally:
        link.close()
    return differences(items, got, MissionType.MISSION) == []


# -- MAVProxy ----------------------------------------------------------------------------------
def find_mavproxy(given: str | None) -> str | None:
    """``mavproxy.py`` given, on PATH, or beside this interpreter."""
    if given:
        return given
    found = shutil.which("mavproxy.py")
    if found:
        return found
    beside = Path(sys.executable).parent / "mavproxy.py"
    return str(beside) if beside.exists() else None


def run_mavproxy(sim: SimProcess, mavproxy: str, wpl: Path, loss: float,
                 timeout_s: float) -> dict[str, Any]:
    """One ``wp load`` through MAVProxy at ``loss``: time to MISSION_ACK and its result."""
    proc = subprocess.Popen(
        [mavproxy, "--master", sim.urls[0], "--no-state",
         "--default-modules=wp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, bufsize=1, cwd=wpl.parent)
    lines: queue.Queue[tuple[float, str]] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put((time.perf_counter(), line))

    threading.Thread(target=pump, daemon=True).start()

    def wait_for(pattern: re.Pattern[str] | str, until: float) -> tuple[float, Any] | None:
        while (left := until - time.perf_counter()) > 0:
            try:
                at, line = lines.get(timeout=left)
            except queue.Empty:
                return None
            found = re.search(pattern, line)
            if found:
                return at, found
        return None

    try:
        if wait_for("online system", time.perf_counter() + 30) is None:
            return {"acked": False, "upload_s": None, "error": "vehicle never online"}
        time.sleep(0.5)
        sim.faults(0, loss)
        assert proc.stdin is not None
        t0 = time.perf_counter()
        proc.stdin.write(f"wp load {wpl.name}\n")
        proc.stdin.flush()
        got = wait_for(MAVPROXY_ACK, t0 + timeout_s)
        if got is None:
            return {"acked": False, "upload_s": None,
                    "error": f"no MISSION_ACK within {timeout_s:g} s"}
        at, match = got
        ok = match.group(1) == "ACCEPTED"
        return {"acked": ok, "upload_s": round(at - t0, 4) if ok else None,
                "error": None if ok else f"MISSION_ACK {match.group(1)}"}
    finally:
        sim.faults(0, 0.0)
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- upload cases ------------------------------------------------------------------------------
def _summary(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"median": None, "min": None, "max": None}
    return {"median": round(statistics.median(values), 4), "min": round(min(values), 4),
            "max": round(max(values), 4)}


def upload_cases(sizes: Sequence[int], losses: Sequence[float], repeats: int,
                 mavproxy: str | None, mavproxy_timeout_s: float) -> list[dict[str, Any]]:
    """Every size x loss case, ours and MAVProxy's, against one simulator process."""
    from planner.io.wpl import write_wpl

    sim = SimProcess(1)
    results = []
    try:
        link = open_link(sim.urls[0])
        try:
            time.sleep(1.0)
            rtt = measure_rtt_s(link)
        finally:
            link.close()
        with tempfile.TemporaryDirectory() as tmp:
            for size in sizes:
                items = synthetic_mission(size)
                wpl = Path(tmp) / f"mission{size}.waypoints"
                write_wpl(wpl, items)
                for loss in losses:
                    ours = [run_ours(sim, items, loss) for _ in range(repeats)]
                    theirs: list[dict[str, Any]] = []
                    if mavproxy is not None:
                        for _ in range(repeats):
                            run = run_mavproxy(sim, mavproxy, wpl, loss, mavproxy_timeout_s)
                            if not run.get("acked"):
                                time.sleep(9.0)  # let the vehicle's upload time out
                            run["holds_mission"] = vehicle_holds(sim, items)
                            theirs.append(run)
                    case = _upload_case(size, loss, rtt, ours, theirs, mavproxy)
                    print(json.dumps(case), flush=True)
                    results.append(case)
    finally:
        sim.close()
    return results


def _upload_case(size: int, loss: float, rtt: float, ours: list[dict[str, Any]],
                 theirs: list[dict[str, Any]], mavproxy: str | None) -> dict[str, Any]:
    ok = [r for r in ours if r["verified"]]
    upload_times = [r["upload_s"] for r in ours if r["upload_s"] is not None]
    case: dict[str, Any] = {
        "items": size, "loss": loss, "repeats": len(ours),
        "rtt_ms": round(rtt * 1000, 3),
        "floor_upload_s": round(size * rtt, 4), "floor_verified_s": round(2 * size * rtt, 4),
        "ours_verified": f"{len(ok)}/{len(ours)}",
        "ours_upload_s": _summary(upload_times),
        "ours_verified_total_s": _summary([r["total_s"] for r in ok]),
        "ours_errors": [r["error"] for r in ours if r["error"]],
    }
    med_up = case["ours_upload_s"]["median"]
    med_total = case["ours_verified_total_s"]["median"]
    case["ours_upload_over_floor"] = round(med_up / case["floor_upload_s"], 2) \
        if med_up else None
    case["ours_verified_over_floor"] = round(med_total / case["floor_verified_s"], 2) \
        if med_total else None
    if mavproxy is None:
        case["mavproxy"] = "not found (give --mavproxy PATH)"
        return case
    acked = [r for r in theirs if r.get("acked")]
    case.update({
        "mavproxy_acked": f"{len(acked)}/{len(theirs)}",
        "mavproxy_holds_mission": f"{sum(1 for r in theirs if r['holds_mission'])}/"
                                  f"{len(theirs)}",
        "mavproxy_upload_s": _summary([r["upload_s"] for r in acked]),
        "mavproxy_errors": [r["error"] for r in theirs if r.get("error")],
    })
    return case


# -- telemetry ---------------------------------------------------------------------------------
def telemetry_case(vehicles: int, rate_hz: float, duration_s: float) -> dict[str, Any]:
    """Snapshot latency and CPU with ``vehicles`` copters streaming at ``rate_hz``."""
    from gcs.link import Link
    from gcs.telemetry import TelemetryHub

    sim = SimProcess(vehicles)
    links = []
    hub = TelemetryHub(stream_rate_hz=rate_hz)
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

        sub = hub.subscribe(on_snapshot, rate_hz=rate_hz)
        time.sleep(1.0)
        with lock:
            delivered.clear()
        cpu0, sim_cpu0, wall0 = time.process_time(), sim.cpu_s(), time.monotonic()
        time.sleep(duration_s)
        wall = time.monotonic() - wall0
        cpu, sim_cpu = time.process_time() - cpu0, sim.cpu_s() - sim_cpu0
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
        "duration_s": round(wall, 2), "snapshots_delivered": len(rows),
        "positions_delivered_per_s": round(positions_per_s, 1),
        "positions_per_vehicle_hz": round(positions_per_s / max(1, len(heard)), 2),
        "latency_ms_p50": pct(0.50), "latency_ms_p90": pct(0.90), "latency_ms_p99": pct(0.99),
        "latency_ms_max": round(1000 * latencies[-1], 2) if latencies else None,
        "client_cpu_share": round(cpu / wall, 3), "sim_cpu_share": round(sim_cpu / wall, 3),
        "machine_load_1min": round(os.getloadavg()[0], 2),
    }


# -- main --------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    """Run the upload and telemetry cases; print and write the results."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve"]:
        return serve(argv[1:])
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--items", type=int, nargs="+", default=[100, 700])
    parser.add_argument("--loss", type=float, nargs="+", default=[0.0, 0.1, 0.3])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--mavproxy", default=None, metavar="PATH",
                        help="mavproxy.py to compare with (default: on PATH or beside python)")
    parser.add_argument("--no-mavproxy", action="store_true")
    parser.add_argument("--mavproxy-timeout", type=float, default=300.0, metavar="S")
    parser.add_argument("--no-upload", action="store_true")
    parser.add_argument("--no-telemetry", action="store_true")
    parser.add_argument("--telemetry-vehicles", type=int, default=100)
    parser.add_argument("--rate-hz", type=float, default=10.0)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--out", type=Path,
                        default=REPO / "benchmarks" / "results" / "upload.json")
    args = parser.parse_args(argv)
    mavproxy = None if args.no_mavproxy else find_mavproxy(args.mavproxy)
    results: dict[str, Any] = {}
    if not args.no_upload:
        results["upload"] = upload_cases(args.items, args.loss, args.repeats, mavproxy,
                                         args.mavproxy_timeout)
    if not args.no_telemetry:
        case = telemetry_case(args.telemetry_vehicles, args.rate_hz, args.duration)
        print(json.dumps(case), flush=True)
        results["telemetry"] = case
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "mavproxy": mavproxy, "results": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
