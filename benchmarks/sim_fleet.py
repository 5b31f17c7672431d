"""Built-in simulator at fleet scale: 10 and 100 copters streaming telemetry at 10 Hz.

For each fleet size it starts ``dropline sim --vehicles N`` as its own process, connects one
ground-station socket per vehicle from this process, asks every vehicle for all streams at
``--rate-hz`` (REQUEST_DATA_STREAM) and reads every byte of every stream for ``--duration``
seconds. It reports the simulator process's CPU share (of one core, from ``/proc``), the
achieved real-time factor of every vehicle (simulated ``time_boot_ms`` advanced between its
first and last position of the window per wall second between their arrivals, divided by the
speedup), the achieved GLOBAL_POSITION_INT rate and the
longest wall-time gap between two of a vehicle's positions; prints one JSON line per size and
writes them all to a JSON file.

    python -m benchmarks.sim_fleet [--sizes 10 100] [--rate-hz 10] [--duration 20]
                                   [--speedup 1] [--decode frames|full] [--fly]
                                   [--out benchmarks/results/sim_fleet.json]

With ``--fly`` every vehicle is taken off in GUIDED (once its pre-arm checks pass, about 42
simulated seconds after start) and sent cruising north at 20 m before the measurement, so that
the flight physics and controllers run for every vehicle, not only the telemetry.

The machine's one-minute load average is recorded with each case: on a shared machine other
work competes with the simulator, which then falls behind real time while its own CPU share
stays below one core.

``--decode frames`` (default) splits the byte streams into MAVLink 2 frames and counts them by
message id, decoding only positions and the pre-arm bit, so that the client stays light next to the
simulator on a small machine; ``--decode full`` decodes every message with the project's codec
(one Python client decodes about 25,000 messages per second, so beyond that it falls behind and
the simulator drops what it cannot send).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import selectors
import signal
import socket
import statistics
import struct
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from gcs.mavlink import GCS_COMPONENT_ID, GCS_SYSTEM_ID, codec, dialect
from tests.helpers.ports import free_base_port

REPO = Path(__file__).resolve().parents[1]
HOME = "30.3165,78.0322,640"
SYS_STATUS = 1
GLOBAL_POSITION_INT = 33
MAVLINK2_MAGIC = 0xFD
PREARM_OK = 0x10000000
CRUISE_ALT_M = 20.0


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far, from ``/proc/PID/stat``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Stream:
    """One vehicle's byte stream: message counts and the simulated clock it reports."""

    def __init__(self, decode: str) -> None:
        self.buf = bytearray()
        self.counts: Counter[int] = Counter()
        self.bytes = 0
        self.clock: list[tuple[float, int]] = []
        self.mav = codec(GCS_SYSTEM_ID, GCS_COMPONENT_ID) if decode == "full" else None
        self.ready = False
        self.lat_e7 = self.lon_e7 = 0
        self.rel_alt_m = 0.0
        self.phase = "ground"

    def _note(self, now: float, boot_ms: int, lat_e7: int, lon_e7: int, _alt_mm: int,
              rel_mm: int) -> None:
        self.clock.append((now, boot_ms))
        self.lat_e7, self.lon_e7, self.rel_alt_m = lat_e7, lon_e7, rel_mm / 1000

    def feed(self, data: bytes, now: float) -> None:
        """Account for received bytes."""
        self.bytes += len(data)
        if self.mav is not None:
            for msg in self.mav.parse_buffer(data) or ():
                self.counts[msg.get_msgId()] += 1
                if msg.get_msgId() == GLOBAL_POSITION_INT:
                    self._note(now, msg.time_boot_ms, msg.lat, msg.lon, msg.alt,
                               msg.relative_alt)
                elif msg.get_msgId() == SYS_STATUS:
                    self.ready = bool(msg.onboard_control_sensors_health & PREARM_OK)
            return
        buf = self.buf
        buf += data
        i, n = 0, len(buf)
        while True:
            j = buf.find(MAVLINK2_MAGIC, i)
            if j < 0 or n - j < 12:
                i = n if j < 0 else j
                break
            size = 12 + buf[j + 1] + (13 if buf[j + 2] & 1 else 0)
            if n - j < size:
                i = j
                break
            msg_id = buf[j + 7] | buf[j + 8] << 8 | buf[j + 9] << 16
            self.counts[msg_id] += 1
            if msg_id in (GLOBAL_POSITION_INT, SYS_STATUS):
                payload = bytes(buf[j + 10:j + 10 + buf[j + 1]]).ljust(28, b"\0")
                if msg_id == GLOBAL_POSITION_INT:
                    self._note(now, *struct.unpack_from("<Iiiii", payload))
                else:
                    self.ready = bool(struct.unpack_from("<I", payload, 8)[0] & PREARM_OK)
            i = j + size
        del buf[:i]

    def reset(self) -> None:
        """Forget what was counted (end of warm-up)."""
        self.counts.clear()
        self.bytes = 0
        self.clock.clear()


def connect_all(urls: list[str], timeout_s: float) -> list[socket.socket]:
    """One TCP connection per ``tcp:HOST:PORT``."""
    socks = []
    for url in urls:
        _, host, port = url.split(":")
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                socks.append(socket.create_connection((host, int(port)), timeout=2.0))
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
    return socks


def run_size(vehicles: int, rate_hz: float, duration_s: float, speedup: float, decode: str,
             fly: bool) -> dict[str, Any]:
    """Start a fleet, stream from every vehicle (flying them first with ``fly``), measure."""
    base = free_base_port(vehicles)
    proc = subprocess.Popen(
        [sys.executable, "-m", "dropline.cli", "sim", "--vehicles", str(vehicles), "--home",
         HOME, "--speedup", str(speedup), "--base-port", str(base)], cwd=REPO,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        urls = [proc.stdout.readline().strip() for _ in range(vehicles)]
        if not all(urls):
            raise RuntimeError(f"dropline sim failed: {proc.communicate()[1]}")
        client = Client(urls, decode)
        try:
            client.start(rate_hz)
            airborne = client.fly(speedup) if fly else 0
            result = client.measure(proc.pid, duration_s, speedup)
        finally:
            client.close()
        result.update(rate_hz=rate_hz, decode=decode, flying_at_start=airborne,
                      flying_at_end=sum(1 for s in client.streams if s.rel_alt_m > 10),
                      machine_load_1min=round(os.getloadavg()[0], 2))
        return result
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


class Client:
    """One ground station holding a TCP connection to every vehicle of a fleet."""

    def __init__(self, urls: list[str], decode: str) -> None:
        self.socks = connect_all(urls, 30.0)
        self.streams = [Stream(decode) for _ in self.socks]
        self.sel = selectors.DefaultSelector()
        self.gcs = codec(GCS_SYSTEM_ID, GCS_COMPONENT_ID)
        self.next_beat = 0.0

    def send(self, index: int, msg: Any) -> None:
        """Send one message to vehicle ``index`` (system ``index + 1``)."""
        self.socks[index].sendall(msg.pack(self.gcs))

    def command(self, index: int, command: int, *params: float) -> None:
        """COMMAND_LONG to vehicle ``index``."""
        p = [float(x) for x in params] + [0.0] * (7 - len(params))
        self.send(index, self.gcs.command_long_encode(index + 1, 1, command, 0, *p))

    def start(self, rate_hz: float) -> None:
        """Say hello and ask every vehicle for every stream at ``rate_hz``."""
        for i, sock in enumerate(self.socks):
            self.send(i, self.gcs.heartbeat_encode(dialect.MAV_TYPE_GCS,
                                                   dialect.MAV_AUTOPILOT_INVALID, 0, 0, 0))
            self.send(i, self.gcs.request_data_stream_encode(
                i + 1, 1, dialect.MAV_DATA_STREAM_ALL, round(rate_hz), 1))
            sock.setblocking(False)
            self.sel.register(sock, selectors.EVENT_READ, self.streams[i])

    def pump(self, seconds: float) -> None:
        """Read every stream for ``seconds``, with a GCS HEARTBEAT to each vehicle every second."""
        end = time.monotonic() + seconds
        while (now := time.monotonic()) < end:
            for key, _ in self.sel.select(timeout=0.05):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                key.data.feed(sock.recv(65536), time.monotonic())
            if now >= self.next_beat:
                self.next_beat = now + 1.0
                beat = self.gcs.heartbeat_encode(dialect.MAV_TYPE_GCS,
                                                 dialect.MAV_AUTOPILOT_INVALID, 0, 0, 0)
                for i in range(len(self.socks)):
                    self.send(i, beat)

    def fly(self, speedup: float) -> int:
        """Take every vehicle off in GUIDED once it is ready, then send it cruising 5 km north
        at 20 m; return how many are cruising (waits at most the settle time plus a climb)."""
        deadline = time.monotonic() + 90.0 / speedup + 30.0
        while time.monotonic() < deadline:
            self.pump(0.2)
            for i, s in enumerate(self.streams):
                if s.phase == "ground" and s.ready:
                    self.command(i, dialect.MAV_CMD_DO_SET_MODE,
                                 dialect.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED, 4)
                    self.command(i, dialect.MAV_CMD_COMPONENT_ARM_DISARM, 1)
                    self.command(i, dialect.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, 0, 0, 0, CRUISE_ALT_M)
                    s.phase = "climb"
                elif s.phase == "climb" and s.rel_alt_m > CRUISE_ALT_M - 5:
                    self.send(i, self.gcs.set_position_target_global_int_encode(
                        0, i + 1, 1, dialect.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT, 0b110111111000,
                        s.lat_e7 + 450_000, s.lon_e7, CRUISE_ALT_M, 0, 0, 0, 0, 0, 0, 0, 0))
                    s.phase = "cruise"
            if all(s.phase == "cruise" for s in self.streams):
                break
        return sum(1 for s in self.streams if s.phase == "cruise")

    def measure(self, pid: int, duration_s: float, speedup: float) -> dict[str, Any]:
        """Warm up, then read every stream for ``duration_s`` and summarise."""
        self.pump(3.0)
        for s in self.streams:
            s.reset()
        cpu0, wall0, client0 = cpu_seconds(pid), time.monotonic(), time.process_time()
        self.pump(duration_s)
        wall = time.monotonic() - wall0
        sim_cpu = cpu_seconds(pid) - cpu0
        client_cpu = time.process_time() - client0
        rtf, pos_hz, gaps = [], [], []
        for s in self.streams:
            if len(s.clock) >= 2:
                (t_a, ms_a), (t_b, ms_b) = s.clock[0], s.clock[-1]
                span = t_b - t_a if t_b - t_a > wall / 2 else wall  # bursty delivery: window
                rtf.append((ms_b - ms_a) / 1000 / span / speedup)
                times = [t for t, _ in s.clock]
                gaps.append(max(b - a for a, b in itertools.pairwise(times)))
            pos_hz.append(s.counts[GLOBAL_POSITION_INT] / wall)
        n = len(self.streams)
        return {
            "vehicles": n, "speedup": speedup, "duration_s": round(wall, 2),
            "sim_cpu_share": round(sim_cpu / wall, 3),
            "sim_cpu_ms_per_vehicle_s": round(1000 * sim_cpu / wall / n, 3),
            "client_cpu_share": round(client_cpu / wall, 3),
            "realtime_factor_min": round(min(rtf), 3) if rtf else None,
            "realtime_factor_median": round(statistics.median(rtf), 3) if rtf else None,
            "position_gap_max_s": round(max(gaps), 3) if gaps else None,
            "position_hz_min": round(min(pos_hz), 2),
            "position_hz_median": round(statistics.median(pos_hz), 2),
            "messages_per_s": round(sum(sum(s.counts.values()) for s in self.streams) / wall, 1),
            "kbytes_per_s": round(sum(s.bytes for s in self.streams) / wall / 1000, 1),
            "message_types": len(set().union(*(s.counts for s in self.streams))),
            "vehicles_silent": sum(1 for s in self.streams if not s.counts),
        }

    def close(self) -> None:
        """Close every connection."""
        self.sel.close()
        for sock in self.socks:
            sock.close()


def main(argv: list[str] | None = None) -> int:
    """Run every fleet size; print and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--rate-hz", type=float, default=10.0)
    parser.add_argument("--duration", type=float, default=20.0, help="wall seconds measured")
    parser.add_argument("--speedup", type=float, default=1.0)
    parser.add_argument("--decode", choices=("frames", "full"), default="frames")
    parser.add_argument("--fly", action="store_true",
                        help="take every vehicle off and cruise before measuring")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" /
                        "sim_fleet.json")
    args = parser.parse_args(argv)
    results = []
    for n in args.sizes:
        result = run_size(n, args.rate_hz, args.duration, args.speedup, args.decode, args.fly)
        print(json.dumps(result), flush=True)
        results.append(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "results": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
