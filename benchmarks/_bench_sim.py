"""The built-in simulator in a process of its own for the upload and telemetry benchmarks:
it prints its clock origin and connection strings and takes link-fault commands on stdin."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
#: Where the simulated copters stand (the recorded traces' home).
HOME = (30.3165, 78.0322, 640.0)


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
                index, loss, duplicate, reorder, latency_s = int(words[1]), *map(
                    float, words[2:6])
                fleet.vehicle(index).set_link_faults(loss=loss, duplicate=duplicate,
                                                     reorder=reorder, latency_s=latency_s)
                print("ok", flush=True)
            elif words[0] == "receiving":  # is vehicle I's mission upload still open?
                with fleet._lock:
                    receiving = fleet._vehicles[int(words[1])].transfers[0].receiving
                print("yes" if receiving else "no", flush=True)
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
        from tests.helpers.ports import free_base_port

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
               reorder: float = 0.0, latency_s: float = 0.0) -> None:
        """Set the link faults of vehicle ``index`` (both directions; latency one way)."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"faults {index} {loss} {duplicate} {reorder} {latency_s}\n")
        self.proc.stdin.flush()
        if self.proc.stdout.readline().strip() != "ok":
            raise RuntimeError("the simulator did not take the faults")

    def receiving(self, index: int) -> bool:
        """Whether vehicle ``index`` has a mission upload open."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"receiving {index}\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip() == "yes"

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


def open_link(url: str) -> Any:
    """An open Link that has heard the vehicle."""
    from gcs.link import Link

    link = Link(url).open()
    if link.wait(lambda m: m.get_type() == "HEARTBEAT", 20.0) is None:
        link.close()
        raise RuntimeError(f"no heartbeat on {url}")
    return link
