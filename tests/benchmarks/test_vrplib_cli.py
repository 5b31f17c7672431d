"""``python -m benchmarks.vrplib`` and its independent CVRP checker."""

from __future__ import annotations

import dataclasses
import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest
import vrplib

from benchmarks._check_cvrp import arc, check_cvrp, read_instance, rounds_arcs
from benchmarks.vrplib import rounding_for
from tests.helpers.shared_data import REPO, needs
from tests.helpers.shared_data import SHARED as SHARED_DIR

SHARED = SHARED_DIR / "data" / "vrplib"
TINY = REPO / "tests" / "data" / "routing" / "tiny-limit-n7.vrp"

needs_shared = needs(SHARED)


def _run(*args: str) -> dict[str, object]:
    proc = subprocess.run([sys.executable, "-m", "benchmarks.vrplib", *args, "--json"],
                          capture_output=True, text=True, check=False, cwd=REPO, timeout=120)
    assert "Traceback" not in proc.stderr, proc.stderr
    record: dict[str, object] = json.loads(proc.stdout)
    assert proc.returncode == (0 if record["feasible"] else 1)
    return record


def _optimum(path: Path) -> float:
    """Brute-force CVRP optimum: every set partition, each route in its best order."""
    inst = read_instance(path)
    rnd = rounds_arcs(inst)
    customers = [i for i in range(len(inst.coords)) if i != inst.depot]

    def best_route(route: tuple[int, ...]) -> float:
        if sum(inst.demand[c] for c in route) > inst.capacity:
            return float("inf")
        best = float("inf")
        for perm in itertools.permutations(route):
            path = [inst.depot, *perm, inst.depot]
            length = sum(arc(inst, a, b, rnd) for a, b in itertools.pairwise(path))
            limit = inst.route_limit if inst.route_limit is not None else float("inf")
            if length + inst.service_time * len(perm) <= limit:
                best = min(best, length)
        return best

    def partitions(items: list[int]) -> list[list[tuple[int, ...]]]:
        if not items:
            return [[]]
        head, rest = items[0], items[1:]
        out = []
        for part in partitions(rest):
            out.append([(head,), *part])
            for k in range(len(part)):
                out.append([*part[:k], (head, *part[k]), *part[k + 1:]])
        return out

    return min(sum(best_route(r) for r in p) for p in partitions(customers))


@needs_shared
def test_cli_solves_a_real_instance() -> None:
    """P-n16-k8 in 2 s: valid JSON, feasible, every customer once, gap to the optimum >= 0."""
    vrp = SHARED / "P" / "P-n16-k8.vrp"
    rec = _run(str(vrp), "--time-limit", "2", "--seed", "1", "--solution",
               str(SHARED / "P" / "P-n16-k8.sol"))
    assert {"instance", "cost", "routes", "feasible", "seconds"} <= rec.keys()
    assert rec["instance"] == "P-n16-k8"
    assert rec["feasible"] is True
    routes = rec["routes"]
    assert isinstance(routes, list)
    assert sorted(c for r in routes for c in r) == list(range(1, 16))
    recheck = check_cvrp(read_instance(vrp), routes)
    assert recheck.feasible
    assert rec["cost"] == pytest.approx(recheck.cost, rel=1e-9)
    assert rec["gap_pct"] == pytest.approx(100 * (recheck.cost - 450) / 450)
    assert isinstance(rec["gap_pct"], float) and rec["gap_pct"] >= -1e-9


def test_cli_finds_the_optimum_under_a_route_limit() -> None:
    """6 customers under a travel+service route limit: the CLI returns the brute-force optimum."""
    rec = _run(str(TINY), "--time-limit", "10", "--iterations", "3000")
    assert rec["feasible"] is True
    assert rec["cost"] == pytest.approx(_optimum(TINY), rel=1e-9)


@pytest.mark.parametrize(("routes", "expect"), [
    ([[1, 2, 3], [4, 5, 6]], "over capacity"),
    ([[1, 2], [3, 4], [5], [6, 6]], "visited 2 times"),
    ([[1, 2], [3, 4], [5]], "visited 0 times"),
    ([[1, 2], [3, 4], [5, 6], []], "empty"),
    ([[2, 6], [1, 3], [4, 5]], "over limit"),
    ([[1, 0], [3, 4], [5, 6], [2]], "non-customers"),
])
def test_checker_catches_broken_answers(routes: list[list[int]], expect: str) -> None:
    """Each kind of broken answer is reported by the CVRP checker (route limit 45 here)."""
    result = check_cvrp(dataclasses.replace(read_instance(TINY), route_limit=45.0), routes)
    assert not result.feasible
    assert any(expect in v for v in result.violations), result.violations


def test_checker_catches_a_wrong_cost_and_too_many_routes() -> None:
    """A claimed cost that is not the recomputed one, and routes beyond VEHICLES, are caught."""
    inst = dataclasses.replace(read_instance(TINY), vehicles=3)
    routes = [[1], [2], [3], [4], [5], [6]]
    fine = check_cvrp(dataclasses.replace(inst, vehicles=None), routes)
    assert fine.feasible
    result = check_cvrp(inst, routes, claimed_cost=fine.cost + 1e-3)
    assert any("differs" in v for v in result.violations)
    assert any("vehicles" in v for v in result.violations)


@needs_shared
@pytest.mark.parametrize(("family", "name", "rounded"), [
    ("CMT", "CMT6", False), ("CMT", "CMT13", False), ("E", "E-n22-k4", True),
    ("P", "P-n16-k8", True), ("A", "A-n32-k5", True),
])
def test_published_solutions_pass_the_checker(family: str, name: str, rounded: bool) -> None:
    """The best known .sol routes are feasible and cost what the file says, per family rule."""
    inst = read_instance(SHARED / family / f"{name}.vrp")
    assert rounds_arcs(inst) is rounded
    assert rounding_for(vrplib.read_instance(str(SHARED / family / f"{name}.vrp")), name) is rounded
    sol = vrplib.read_solution(str(SHARED / family / f"{name}.sol"))
    result = check_cvrp(inst, [list(r) for r in sol["routes"]])
    assert result.feasible, result.violations
    assert result.cost == pytest.approx(float(sol["cost"]), abs=0.01)
