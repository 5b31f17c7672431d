"""Independent checker of answers to Cheng et al. (2020) drone routing instances.

It shares no code with ``planner.routing``: its own parser, its own geometry and energy
arithmetic. An answer is a list of trips ``{"drone": D, "nodes": [...]}`` (customer node numbers
as in the instance file; a drone's trips listed in flying order), optionally with ``"start_s"``,
the departure from the depot. Checked:

- every customer served exactly once, only customer nodes, drones numbered 0..DroneNum-1;
- payload at take-off at most 1.5 kg;
- energy of every trip, ``sum k (W + m + q)^1.5 t / 3.6e6`` kWh with the payload ``q`` on board
  on each arc (it falls at each delivery), ``k = sqrt(g^3 / (2 rho zeta h))``, at most 0.27 kWh;
- time windows on the arrival (a drone arriving before the ready time waits, at no energy cost;
  after the due time is a violation), flights at 1 m/s, no service time;
- a drone's trips one after the other, the first leaving at or after the depot's ready time and
  the last landing by the depot's due time. Without ``start_s`` a trip leaves as soon as the
  previous one lands (leaving early never hurts when waiting is allowed).

    python -m benchmarks._check_energy_trips INSTANCE.txt ANSWER.json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

GRAVITY = 9.81
RHO = 1.204
ZETA = 0.0064
ROTORS = 6
FRAME = 1.5
BATTERY = 1.5
CAPACITY = 1.5
BATTERY_KWH = 0.27
TIME_TOL = 1e-6
ENERGY_TOL_KWH = 1e-12


def read_instance(text: str) -> dict[str, Any]:
    """Customer count, drone count and node rows ``(x, y, demand, ready, due)``."""
    n = drones = None
    rows: dict[int, tuple[float, float, float, float, float]] = {}
    for line in text.splitlines():
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        if parts[0] == "CustNum":
            n = int(parts[1])
        elif parts[0] == "DroneNum":
            drones = int(parts[1])
        else:
            node = int(float(parts[0]))
            x, y, dem, ready, due = (float(v) for v in parts[1:6])
            rows[node] = (x, y, dem, ready, due)
    if n is None or drones is None or sorted(rows) != list(range(n + 2)):
        raise ValueError("not a Cheng et al. instance: need CustNum, DroneNum and nodes 0..n+1")
    return {"n": n, "drones": drones, "rows": rows}


def _power_const() -> float:
    return math.sqrt(GRAVITY**3 / (2.0 * RHO * ZETA * ROTORS))


def check(text: str, trips: list[dict[str, Any]]) -> dict[str, Any]:
    """Re-check an answer; returns feasibility, cost, violations and per-trip figures."""
    inst = read_instance(text)
    n, rows = inst["n"], inst["rows"]
    k = _power_const()
    depot = rows[0]
    horizon = min(rows[0][4], rows[n + 1][4])
    bad: list[str] = []

    def dist(a: int, b: int) -> float:
        return math.sqrt((rows[a][0] - rows[b][0]) ** 2 + (rows[a][1] - rows[b][1]) ** 2)

    seen: dict[int, int] = {}
    for t, trip in enumerate(trips):
        for v in trip["nodes"]:
            if not 1 <= v <= n:
                bad.append(f"trip {t}: node {v} is not a customer")
            seen[v] = seen.get(v, 0) + 1
    for v in range(1, n + 1):
        if seen.get(v, 0) != 1:
            bad.append(f"customer {v} served {seen.get(v, 0)} times")
    drone_ids = {int(trip["drone"]) for trip in trips}
    if any(d < 0 or d >= inst["drones"] for d in drone_ids):
        bad.append(f"drones {sorted(drone_ids)} outside 0..{inst['drones'] - 1}")
    free_at: dict[int, float] = {}
    cost = 0.0
    energies: list[float] = []
    loads: list[float] = []
    etas: list[list[float]] = []
    for t, trip in enumerate(trips):
        nodes = [int(v) for v in trip["nodes"]]
        if not nodes:
            bad.append(f"trip {t}: empty")
        valid = [v for v in nodes if 1 <= v <= n]
        drone = int(trip["drone"])
        load = sum(rows[v][2] for v in valid)
        loads.append(load)
        if load > CAPACITY + 1e-9:
            bad.append(f"trip {t}: payload {load:.3f} kg over {CAPACITY}")
        ready_at = free_at.get(drone, depot[3])
        start = float(trip.get("start_s", ready_at))
        if start < ready_at - TIME_TOL:
            bad.append(f"trip {t}: drone {drone} leaves at {start:.3f} s before {ready_at:.3f} s")
        clock = start
        prev = 0
        on_board = load
        energy = 0.0
        arrive: list[float] = []
        for v in [*valid, 0]:
            d = dist(prev, v)
            cost += d
            energy += k * (FRAME + BATTERY + on_board) ** 1.5 * d / 3.6e6
            clock += d
            if v != 0:
                clock = max(clock, rows[v][3])
                arrive.append(clock)
                if clock > rows[v][4] + TIME_TOL:
                    bad.append(f"trip {t}: customer {v} served at {clock:.3f} s after its due "
                               f"time {rows[v][4]:g}")
                on_board -= rows[v][2]
            prev = v
        if clock > horizon + TIME_TOL:
            bad.append(f"trip {t}: lands at {clock:.3f} s after the depot closes at {horizon:g}")
        if energy > BATTERY_KWH + ENERGY_TOL_KWH:
            bad.append(f"trip {t}: energy {energy:.6f} kWh over {BATTERY_KWH}")
        free_at[drone] = clock
        energies.append(energy)
        etas.append(arrive)
    return {"feasible": not bad, "cost": cost, "violations": bad,
            "trip_energy_kwh": energies, "trip_load_kg": loads, "eta_s": etas,
            "drones_used": len(drone_ids), "trips": len(trips)}


def main(argv: list[str] | None = None) -> int:
    """Check ``ANSWER.json`` (the ``--json`` output of ``benchmarks.cheng2020``)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("instance", type=Path)
    ap.add_argument("answer", type=Path)
    args = ap.parse_args(argv)
    answer = json.loads(args.answer.read_text())
    report = check(args.instance.read_text(), answer["trips"])
    print(json.dumps({k: v for k, v in report.items() if k != "eta_s"}, indent=1))
    return 0 if report["feasible"] else 1


if __name__ == "__main__":
    sys.exit(main())
