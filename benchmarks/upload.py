"""Mission upload under packet loss, side by side with MAVProxy, and fleet telemetry latency.

Upload: for each size (``--items``, default 100 and 700) and loss rate (``--loss``, default 0,
0.1 and 0.3, applied to each direction of the link by the simulator), a synthetic mission is
uploaded ``--repeats`` times to one built-in simulated copter running at 1x in a process of its
own (its 1 s re-request and 8 s cancel timers run in simulated time):

- ``ours``: the two steps of :func:`gcs.transfer.upload_verified` over a
  :class:`gcs.link.Link` on a fresh connection, timed apart: ``upload_s`` when
  :func:`~gcs.transfer.upload` returned (the vehicle acked the list), ``verified_total_s`` when
  the read-back (:func:`~gcs.transfer.download`) compared equal item by item;
- ``mavproxy``: ``mavproxy.py --master tcp:... --default-modules=wp`` driven on its standard
  input with ``wp load FILE`` once it reports the vehicle online. ``acked_s`` is when it prints
  ``Got MISSION_ACK: TYPE_MISSION: ACCEPTED``, counted from the command being written;
  ``done_s`` also counts runs whose final ack was lost, at the moment the simulated vehicle
  closed the upload (polled every 0.25 s), when it then held the whole mission. MAVProxy does
  not read the mission back, so after each of its runs the vehicle's mission is downloaded on a
  clean link and compared, untimed: exactly, and within 2e-7 degrees (MAVProxy truncates
  degrees x 1e7 towards zero, moving some points by 1e-7 degrees);
- ``floor``: the round-trip floor: the median TIMESYNC round trip through a Link (RTT, measured
  before the loss is switched on) times the items, for the upload alone (``items x RTT``), and
  twice that for a verified upload (a read-back costs one more round trip per item).

Telemetry: ``--telemetry-vehicles`` (default 100) simulated copters in a process of their own,
one :class:`~gcs.link.Link` each, all attached to one :class:`~gcs.telemetry.TelemetryHub` that
asks for positions at ``--rate-hz`` and the rest of a snapshot at 2 Hz (``--streams lean``, the
hub's own requests; ``all``: every stream at ``--rate-hz``) and publishes snapshots to a
subscriber at ``--subscribe-hz`` per vehicle (default ``--rate-hz``).
The latency of a position is from the vehicle's own time of the GLOBAL_POSITION_INT (its
``time_boot_ms`` on the simulator's monotonic clock, which both processes share) to the first
snapshot delivered to the subscriber that carries it; the client's CPU share and the
simulator's are measured from the process times.

    python -m benchmarks.upload [--items 100 700] [--loss 0 0.1 0.3] [--repeats 3]
                                [--latency-ms MS] [--mavproxy PATH] [--no-upload] [--no-telemetry]
                                [--telemetry-vehicles 100] [--rate-hz 10] [--subscribe-hz HZ]
                                [--streams all|lean] [--duration 20] [--mavproxy-repeats N]
                                [--out benchmarks/results/upload.json]

Each case prints one JSON line; all of them are written to ``--out``.
"""

from __future__ import annotations

import argparse
import json
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

from benchmarks._bench_sim import HOME, REPO, SimProcess, open_link, serve
from benchmarks._bench_telemetry import telemetry_case

MAVPROXY_ACK = re.compile(r"Got MISSION_ACK: TYPE_MISSION: (\w+)")


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
def _ping(link: Any, kind: str, sysid: int, i: int) -> tuple[Any, Any]:
    """A request and the test for its answer."""
    if kind == "timesync":
        ts1 = 1_000_000 + i
        return link.mav.timesync_encode(0, ts1), lambda m: bool(
            m.get_type() == "TIMESYNC" and m.tc1 != 0 and m.ts1 == ts1
            and m.get_srcSystem() == sysid)
    return link.mav.param_request_read_encode(sysid, 1, b"WPNAV_SPEED", -1), lambda m: bool(
        m.get_type() == "PARAM_VALUE" and m.param_id == "WPNAV_SPEED"
        and m.get_srcSystem() == sysid)


def measure_rtt_s(link: Any, kind: str, sysid: int = 1, pings: int = 200) -> float:
    """Median round trip through ``link``: ``"timesync"`` (TIMESYNC answered) or ``"param"``
    (PARAM_REQUEST_READ answered by PARAM_VALUE). Back to back, as a transfer's items go."""
    samples = []
    for i in range(pings):
        request, reply = _ping(link, kind, sysid, i)
        with link.subscribe(reply) as sub:
            t0 = time.perf_counter()
            link.send(request)
            if sub.get(1.0) is not None:
                samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def run_ours(sim: SimProcess, items: Sequence[Any], loss: float,
             latency_s: float = 0.0) -> dict[str, Any]:
    """One verified upload at ``loss``: the two steps of
    :func:`gcs.transfer.upload_verified` (upload, then read-back and compare), timed apart."""
    from gcs.storage import differences
    from gcs.transfer import Target, download, upload
    from planner.errors import DroplineError
    from planner.items import MissionType

    link = open_link(sim.urls[0])
    target, kind = Target(sysid=1), MissionType.MISSION
    uploaded = None
    try:
        sim.faults(0, 0.0, latency_s=latency_s)
        rtt = {k: measure_rtt_s(link, k, pings=100 if latency_s < 0.005 else 20)
               for k in ("timesync", "param")}
        sim.faults(0, loss, latency_s=latency_s)
        t0 = time.perf_counter()
        error = None
        try:
            upload(link, target, items, kind)
            uploaded = time.perf_counter()
            diffs = differences(items, download(link, target, kind), kind)
            if diffs:
                error = "read-back differs: " + "; ".join(diffs)
        except DroplineError as exc:
            error = f"{type(exc).__name__}: {exc}"
        total = time.perf_counter() - t0
    finally:
        sim.faults(0, 0.0)
        link.close()
    return {"verified": error is None,
            "upload_s": None if uploaded is None else round(uploaded - t0, 4),
            "total_s": round(total, 4), "error": error, "rtt_s": rtt}


def clear_vehicle(sim: SimProcess) -> None:
    """Delete the vehicle's mission (home stays), so that a failed upload cannot pass for a
    successful one by leaving an earlier copy in place."""
    from gcs.transfer import Target, clear
    from planner.items import MissionType

    link = open_link(sim.urls[0])
    try:
        clear(link, Target(sysid=1), MissionType.MISSION)
    finally:
        link.close()


def vehicle_holds(sim: SimProcess, items: Sequence[Any]) -> tuple[bool, bool]:
    """Whether the vehicle's mission equals ``items`` (read on a clean link): exactly (every
    1e-7 degree), and within 2e-7 degrees (MAVProxy truncates degrees x 1e7 towards zero)."""
    from gcs.storage import differences
    from gcs.transfer import Target, download
    from planner.items import MissionType

    link = open_link(sim.urls[0])
    try:
        got = download(link, Target(sysid=1), MissionType.MISSION)
    finally:
        link.close()
    exact = differences(items, got, MissionType.MISSION) == []
    near = len(got) == len(items) and all(
        a.command == b.command and abs(a.lat_deg - b.lat_deg) <= 2e-7
        and abs(a.lon_deg - b.lon_deg) <= 2e-7 and abs(a.alt_m - b.alt_m) <= 0.011
        for a, b in zip(items[1:], got[1:], strict=False))
    return exact, near


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
                 timeout_s: float, latency_s: float = 0.0) -> dict[str, Any]:
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
            return {"acked": False, "done_s": None, "error": "vehicle never online"}
        time.sleep(0.5)
        sim.faults(0, loss, latency_s=latency_s)
        assert proc.stdin is not None
        t0 = time.perf_counter()
        proc.stdin.write(f"wp load {wpl.name}\n")
        proc.stdin.flush()
        return _watch_mavproxy(sim, wait_for, t0, timeout_s)
    finally:
        sim.faults(0, 0.0)
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _watch_mavproxy(sim: SimProcess, wait_for: Any, t0: float,
                    timeout_s: float) -> dict[str, Any]:
    """Wait for MAVProxy's MISSION_ACK line, or for the vehicle to close (or never open) the
    upload without one reaching MAVProxy."""
    seen_open, closed_polls = False, 0
    while (now := time.perf_counter()) < t0 + timeout_s:
        got = wait_for(MAVPROXY_ACK, now + 0.25)
        if got is not None:
            at, match = got
            ok = match.group(1) == "ACCEPTED"
            return {"acked": ok, "done_s": round(at - t0, 4) if ok else None,
                    "error": None if ok else f"MISSION_ACK {match.group(1)}"}
        polled = time.perf_counter()
        if sim.receiving(0):
            seen_open, closed_polls = True, 0
            continue
        if not seen_open:
            if polled - t0 > 10.0:
                return {"acked": False, "done_s": None,
                        "error": "the upload never started (MISSION_COUNT lost; MAVProxy does "
                                 "not send it again)"}
            continue
        closed_polls += 1
        if closed_polls == 1:
            closed_at = polled
        if closed_polls >= 4:  # closed for a second with no ack line: the ack was lost
            return {"acked": False, "done_s": round(closed_at - t0, 4),
                    "error": "no MISSION_ACK reached MAVProxy; the vehicle closed the upload"}
    return {"acked": False, "done_s": None, "error": f"nothing within {timeout_s:g} s"}


# -- upload cases ------------------------------------------------------------------------------
def _summary(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"median": None, "min": None, "max": None}
    return {"median": round(statistics.median(values), 4), "min": round(min(values), 4),
            "max": round(max(values), 4)}


def upload_cases(sizes: Sequence[int], losses: Sequence[float], repeats: int,
                 mavproxy: str | None, mavproxy_repeats: int,
                 mavproxy_timeout_s: float, latency_s: float = 0.0) -> list[dict[str, Any]]:
    """Every size x loss case, ours and MAVProxy's, against one simulator process, with
    ``latency_s`` added each way."""
    from planner.io.wpl import write_wpl

    sim = SimProcess(1)
    results = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for size in sizes:
                items = synthetic_mission(size)
                wpl = Path(tmp) / f"mission{size}.waypoints"
                write_wpl(wpl, items)
                for loss in losses:
                    ours = []
                    for _ in range(repeats):
                        clear_vehicle(sim)
                        ours.append(run_ours(sim, items, loss, latency_s))
                    theirs: list[dict[str, Any]] = []
                    if mavproxy is not None:
                        for _ in range(mavproxy_repeats):
                            clear_vehicle(sim)
                            run = run_mavproxy(sim, mavproxy, wpl, loss, mavproxy_timeout_s,
                                               latency_s)
                            if run["done_s"] is None:
                                time.sleep(9.0)  # let the vehicle's upload time out
                            run["holds_exact"], run["holds_within_2e7"] = \
                                vehicle_holds(sim, items)
                            theirs.append(run)
                    case = _upload_case(size, loss, ours, theirs, mavproxy)
                    case["latency_ms"] = round(latency_s * 1000, 3)
                    print(json.dumps(case), flush=True)
                    results.append(case)
    finally:
        sim.close()
    return results


def _upload_case(size: int, loss: float, ours: list[dict[str, Any]],
                 theirs: list[dict[str, Any]], mavproxy: str | None) -> dict[str, Any]:
    """One case's summary. Each of our runs measured its link's round trip just before (at 0
    loss); its floor is ``items x RTT`` (upload) and twice that (verified upload)."""
    ok = [r for r in ours if r["verified"]]
    rtt = statistics.median(r["rtt_s"]["timesync"] for r in ours)
    rtt_param = statistics.median(r["rtt_s"]["param"] for r in ours)
    up_ratio = [r["upload_s"] / (size * r["rtt_s"]["timesync"]) for r in ours
                if r["upload_s"] is not None]
    up_ratio_param = [r["upload_s"] / (size * r["rtt_s"]["param"]) for r in ours
                      if r["upload_s"] is not None]
    total_ratio = [r["total_s"] / (2 * size * r["rtt_s"]["timesync"]) for r in ok]
    case: dict[str, Any] = {
        "items": size, "loss": loss, "repeats": len(ours),
        "rtt_timesync_ms": round(rtt * 1000, 3), "rtt_param_ms": round(rtt_param * 1000, 3),
        "floor_upload_s": round(size * rtt, 4), "floor_verified_s": round(2 * size * rtt, 4),
        "ours_verified": f"{len(ok)}/{len(ours)}",
        "ours_upload_s": _summary([r["upload_s"] for r in ours if r["upload_s"] is not None]),
        "ours_verified_total_s": _summary([r["total_s"] for r in ok]),
        "ours_errors": [r["error"] for r in ours if r["error"]],
        "ours_runs": [{"upload_s": r["upload_s"], "verified_total_s": r["total_s"],
                       "rtt_ms": round(1000 * r["rtt_s"]["timesync"], 3)} for r in ours],
        "ours_upload_over_floor": _summary(up_ratio)["median"],
        "ours_upload_over_param_floor": _summary(up_ratio_param)["median"],
        "ours_verified_over_floor": _summary(total_ratio)["median"],
    }
    if mavproxy is None:
        case["mavproxy"] = "not run (--no-mavproxy, or mavproxy.py not found: --mavproxy PATH)"
        return case
    acked = [r for r in theirs if r.get("acked")]
    done = [r for r in theirs if r["done_s"] is not None and r["holds_within_2e7"]]
    case.update({
        "mavproxy_acked": f"{len(acked)}/{len(theirs)}",
        "mavproxy_completed": f"{len(done)}/{len(theirs)}",
        "mavproxy_done_s": _summary([r["done_s"] for r in done]),
        "mavproxy_holds_exact": f"{sum(1 for r in theirs if r['holds_exact'])}/{len(theirs)}",
        "mavproxy_holds_within_2e7": f"{sum(1 for r in theirs if r['holds_within_2e7'])}/"
                                     f"{len(theirs)}",
        "mavproxy_acked_s": _summary([r["done_s"] for r in acked]),
        "mavproxy_errors": [r["error"] for r in theirs if r.get("error")],
        "mavproxy_runs": [{"done_s": r["done_s"], "acked": r["acked"],
                           "holds_within_2e7": r["holds_within_2e7"]} for r in theirs],
    })
    return case


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
    parser.add_argument("--latency-ms", type=float, default=0.0, metavar="MS",
                        help="delay added by the simulated link each way (a radio link's), in "
                             "simulated milliseconds (default 0: loopback)")
    parser.add_argument("--mavproxy", default=None, metavar="PATH",
                        help="mavproxy.py to compare with (default: on PATH or beside python)")
    parser.add_argument("--no-mavproxy", action="store_true")
    parser.add_argument("--mavproxy-repeats", type=int, default=None, metavar="N",
                        help="MAVProxy runs per case (default --repeats)")
    parser.add_argument("--mavproxy-timeout", type=float, default=1500.0, metavar="S")
    parser.add_argument("--no-upload", action="store_true")
    parser.add_argument("--no-telemetry", action="store_true")
    parser.add_argument("--telemetry-vehicles", type=int, default=100)
    parser.add_argument("--rate-hz", type=float, default=10.0)
    parser.add_argument("--subscribe-hz", type=float, default=None,
                        help="snapshot rate per vehicle of the subscriber (default --rate-hz)")
    parser.add_argument("--streams", choices=("all", "lean"), default="lean",
                        help="positions at --rate-hz and the rest of a snapshot at 2 Hz (the "
                             "hub's own requests), or every stream at --rate-hz")
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--out", type=Path,
                        default=REPO / "benchmarks" / "results" / "upload.json")
    args = parser.parse_args(argv)
    mavproxy = None if args.no_mavproxy else find_mavproxy(args.mavproxy)
    results: dict[str, Any] = {}
    if not args.no_upload:
        results["upload"] = upload_cases(
            args.items, args.loss, args.repeats, mavproxy,
            args.repeats if args.mavproxy_repeats is None else args.mavproxy_repeats,
            args.mavproxy_timeout, args.latency_ms / 1000.0)
    if not args.no_telemetry:
        case = telemetry_case(args.telemetry_vehicles, args.rate_hz, args.duration,
                              args.subscribe_hz, args.streams)
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
