"""The Cheng et al. (2020) benchmark command and its independent checker."""

from __future__ import annotations

import copy
import json
import math
import subprocess
import sys
from typing import Any

import pytest

from benchmarks._check_energy_trips import check
from tests.helpers.shared_data import REPO, SHARED, needs

INSTANCE = SHARED / "data" / "cheng2020" / "SetA_type1" / "Set_A1_Cust_10_1.txt"

needs_data = needs(INSTANCE)

# A hand-made instance: depot at the origin, two drones, horizon 3000 s.
#   1: 300 m east, 0.5 kg, window [0, 2000]      2: 300 m north, 1.0 kg, window [0, 2000]
#   3: 100 m west, 0.2 kg, window [1000, 1200]   4: 650 m east, 1.2 kg, window [0, 3000]
TEXT = """CustNum\t4
DroneNum\t2
#Node\tX\tY\tDemand\tReady\tDue
0\t0\t0\t0.0\t0\t3000
1\t300\t0\t0.5\t0\t2000
2\t0\t300\t1.0\t0\t2000
3\t-100\t0\t0.2\t1000\t1200
4\t650\t0\t1.2\t0\t3000
5\t0\t0\t0.0\t0\t3000
"""

VALID: list[dict[str, Any]] = [
    {"drone": 0, "nodes": [1, 2]},
    {"drone": 0, "nodes": [3]},
    {"drone": 1, "nodes": [4]},
]


def test_checker_accepts_a_valid_answer_and_computes_energy_by_hand() -> None:
    """A valid answer passes; cost and the energy of each trip match hand arithmetic."""
    report = check(TEXT, VALID)
    assert report["feasible"], report["violations"]
    diag = 300 * math.sqrt(2)
    assert report["cost"] == pytest.approx(300 + diag + 300 + 200 + 1300)
    k = math.sqrt(9.81**3 / (2 * 1.204 * 0.0064 * 6))
    trip0 = k * (4.5**1.5 * 300 + 4.0**1.5 * diag + 3.0**1.5 * 300) / 3.6e6
    assert report["trip_energy_kwh"][0] == pytest.approx(trip0, rel=1e-12)
    # The second trip of drone 0 leaves when the first lands (600 m + diagonal later).
    assert report["eta_s"][1] == [pytest.approx(600 + diag + 100)]
    # Trip 4: 650 m out with 1.2 kg, 650 m back empty: 0.2518 kWh, under the battery.
    trip4 = k * (4.2**1.5 + 3.0**1.5) * 650 / 3.6e6
    assert report["trip_energy_kwh"][2] == pytest.approx(trip4, rel=1e-12)
    assert trip4 < 0.27


def broken(kind: str) -> list[dict[str, Any]]:
    """The valid answer broken in one way."""
    trips = copy.deepcopy(VALID)
    if kind == "missing":
        trips.pop(1)
    elif kind == "twice":
        trips[2]["nodes"] = [4, 3]
    elif kind == "not-a-customer":
        trips[1]["nodes"] = [3, 5]
    elif kind == "drone":
        trips[2]["drone"] = 2
    elif kind == "payload":
        trips = [{"drone": 0, "nodes": [1, 2, 3]}, {"drone": 1, "nodes": [4]}]
        trips[0]["nodes"] = [2, 4]
        trips[1]["nodes"] = [1, 3]
    elif kind == "energy":
        trips = [{"drone": 0, "nodes": [1, 2]}, {"drone": 1, "nodes": [3, 4]}]
    elif kind == "late":
        trips[1]["start_s"] = 1150.0
    elif kind == "overlap":
        trips[1]["start_s"] = 500.0
        trips[0]["start_s"] = 400.0
    elif kind == "horizon":
        trips[2]["start_s"] = 1800.0
    elif kind == "empty":
        trips.append({"drone": 1, "nodes": []})
    return trips


KINDS = {
    "missing": "served 0 times",
    "twice": "served 2 times",
    "not-a-customer": "not a customer",
    "drone": "outside 0..1",
    "payload": "payload",
    "energy": "energy",
    "late": "after its due time",
    "overlap": "before",
    "horizon": "after the depot closes",
    "empty": "empty",
}


@pytest.mark.parametrize(("kind", "message"), KINDS.items())
def test_checker_catches_every_broken_answer(kind: str, message: str) -> None:
    """Each kind of broken answer is rejected with a message that says what broke."""
    report = check(TEXT, broken(kind))
    assert not report["feasible"]
    assert any(message in v for v in report["violations"]), report["violations"]


def test_energy_case_is_within_capacity() -> None:
    """The over-battery trip (3 then 4: 1.4 kg, 0.302 kWh) breaks only the battery."""
    report = check(TEXT, broken("energy"))
    assert all("payload" not in v for v in report["violations"])
    assert max(report["trip_energy_kwh"]) > 0.27


@needs_data
def test_cli_finds_the_best_known_value_on_10_1() -> None:
    """The command on Set_A1_Cust_10_1 returns the BKS 2930.4, proven and feasible."""
    out = subprocess.run([sys.executable, "-m", "benchmarks.cheng2020", str(INSTANCE),
                          "--time-limit", "10", "--seed", "1", "--json", "--quiet"],
                         cwd=REPO, capture_output=True, text=True, check=False, timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["cost"] == pytest.approx(2930.4, abs=0.05)
    assert result["bks"] == 2930.4 and abs(result["gap_pct"]) < 0.01
    assert result["feasible"] is True and result["optimal"] is True
    assert {"instance", "cost", "routes", "feasible", "seconds", "trips"} <= set(result)
    served = sorted(v for t in result["trips"] for v in t["nodes"])
    assert served == list(range(1, 11))
    assert result["max_trip_energy_kwh"] <= 0.27
    # Each drone's trips are listed in flying order.
    for d in {t["drone"] for t in result["trips"]}:
        starts = [t["start_s"] for t in result["trips"] if t["drone"] == d]
        assert starts == sorted(starts)
    # The answer re-checks without its start times (earliest departures).
    bare = [{"drone": t["drone"], "nodes": t["nodes"]} for t in result["trips"]]
    assert check(INSTANCE.read_text(), bare)["feasible"]
