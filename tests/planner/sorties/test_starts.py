"""Drones that start from the fleet's state: ready later, on a measured battery that may not
cover their first sortie (a swap first, one turnaround), in every scheduler and the rebalancing."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from planner.fleet_state import VehicleStart
from planner.scenario import Drop
from planner.sorties._rebalance import rebalance
from planner.sorties.evaluate import SortieEval
from planner.sorties.schedule import (
    FRESH,
    DroneStart,
    Scheduled,
    drone_starts,
    schedule,
    schedule_assigned,
    schedule_balanced,
)
from tests.planner.helpers import drone_type

TURN_S = 300.0


def _ev(drop: int, duration_s: float, energy_wh: float) -> SortieEval:
    return SortieEval(depot=0, drone_type_id="quad", drops=(drop,), legs=(), payload_kg=1.0,
                      energy_wh=energy_wh, duration_s=duration_s,
                      release_offsets_s=(duration_s / 2,))


def _drops(*points: int, earliest: float | None = None) -> dict[int, Drop]:
    return {p: Drop(id=f"d{p}", lat_deg=44.0, lon_deg=-71.0, weight_kg=1.0,
                    earliest_s=earliest) for p in points}


def _never(ev: SortieEval, keep: tuple[int, ...]) -> SortieEval | str:
    raise AssertionError("no re-evaluation expected")


def _times(done: list[Scheduled]) -> dict[int, tuple[int, float]]:
    return {s.sortie.drops[0]: (s.drone_number, s.start_s) for s in done}


@pytest.mark.parametrize(("battery_wh", "first_s"), [(150.0, 50.0), (80.0, 50.0 + TURN_S),
                                                      (None, 50.0)])
def test_first_sortie_flies_on_the_measured_battery_only_if_it_covers_it(
        battery_wh: float | None, first_s: float) -> None:
    """A 100 Wh first sortie takes off when the drone is ready on 150 Wh, a turnaround later on
    80 Wh (a swap first); the second sortie follows a turnaround after the first either way."""
    drone = drone_type(turnaround_s=TURN_S)
    start = DroneStart(ready_s=50.0, battery_wh=battery_wh)
    done, dropped = schedule_assigned([[_ev(1, 1000, 100.0), _ev(2, 800, 300.0)]], drone,
                                      _drops(1, 2), _never, starts=[start])
    assert not dropped
    assert _times(done) == {1: (1, first_s), 2: (1, first_s + 1000 + TURN_S)}


def test_low_and_full_batteries_differ_by_exactly_the_turnaround() -> None:
    """The same sorties on a drone whose battery does not cover the first one start exactly one
    turnaround later than on a drone whose battery does, in each scheduler."""
    drone = drone_type(turnaround_s=TURN_S)
    evs = [_ev(1, 1000, 100.0), _ev(2, 700, 120.0), _ev(3, 500, 90.0)]
    drops = _drops(1, 2, 3)
    makers: list[Callable[[DroneStart], list[Scheduled]]] = [
        lambda s: schedule(evs, drone, 1, drops, _never, starts=[s])[0],
        lambda s: schedule_assigned([evs], drone, drops, _never, starts=[s])[0],
        lambda s: schedule_balanced(evs, drone, 1, starts=[s])]
    for make in makers:
        enough = _times(make(DroneStart(ready_s=40.0, battery_wh=500.0)))
        low = _times(make(DroneStart(ready_s=40.0, battery_wh=10.0)))
        assert min(t for _, t in enough.values()) == 40.0
        assert {p: t + TURN_S for p, (_, t) in enough.items()} == \
            {p: t for p, (_, t) in low.items()}


def test_lpt_sends_the_first_sortie_to_the_drone_free_first() -> None:
    """Drone 1 is ready at 0 but must swap its battery (free at 300 s); drone 2 is ready at
    100 s on a full battery: the longest sortie goes to drone 2, the next to drone 1."""
    drone = drone_type(turnaround_s=TURN_S)
    starts = [DroneStart(ready_s=0.0, battery_wh=50.0), DroneStart(ready_s=100.0)]
    done, _ = schedule([_ev(1, 1000, 100.0), _ev(2, 900, 100.0)], drone, 2, _drops(1, 2),
                       _never, starts=starts)
    assert _times(done) == {1: (2, 100.0), 2: (1, 300.0)}


def test_balanced_flies_first_the_sortie_the_battery_covers() -> None:
    """Without windows a drone whose battery covers only its short sortie flies that one first,
    at once, and the long one after a turnaround (its swap)."""
    drone = drone_type(turnaround_s=TURN_S)
    evs = [_ev(1, 1000, 400.0), _ev(2, 300, 60.0), _ev(3, 200, 50.0)]
    done = schedule_balanced(evs, drone, 1, starts=[DroneStart(ready_s=10.0, battery_wh=70.0)])
    order = sorted(done, key=lambda s: s.start_s)
    assert order[0].start_s == 10.0 and order[0].sortie.energy_wh <= 70.0
    for a, b in itertools.pairwise(order):
        assert b.start_s == a.start_s + a.sortie.duration_s + TURN_S


def test_rebalancing_keeps_each_drone_s_start() -> None:
    """With windows the rebalanced timeline starts each drone no earlier than its start allows
    (drone 2 must swap first) and only moves sorties when the last release improves."""
    drone = drone_type(turnaround_s=TURN_S)
    evs = [_ev(1, 1000, 100.0), _ev(2, 900, 100.0), _ev(3, 800, 100.0)]
    drops = _drops(1, 2, 3, earliest=0.0)
    starts = [DroneStart(ready_s=500.0), DroneStart(ready_s=0.0, battery_wh=20.0)]
    first, _ = schedule(evs, drone, 2, drops, _never, starts=starts)
    done = rebalance(first, drone, 2, drops, starts=starts)
    for n, least in ((1, 500.0), (2, TURN_S)):
        mine = sorted(s.start_s for s in done if s.drone_number == n)
        assert not mine or mine[0] == least
    last = max(s.start_s + s.sortie.release_offsets_s[-1] for s in done)
    assert last <= max(s.start_s + s.sortie.release_offsets_s[-1] for s in first)


def test_no_start_is_the_plain_schedule() -> None:
    """Fresh starts (at 0, a full battery) schedule exactly as no starts."""
    drone = drone_type(turnaround_s=TURN_S)
    evs = [_ev(1, 1000, 100.0), _ev(2, 700, 120.0), _ev(3, 500, 90.0)]
    drops = _drops(1, 2, 3)
    plain = schedule(evs, drone, 2, drops, _never)
    assert schedule(evs, drone, 2, drops, _never, starts=[FRESH, FRESH]) == plain
    assert schedule_balanced(evs, drone, 2, starts=[FRESH, FRESH]) == \
        schedule_balanced(evs, drone, 2)


def test_drone_starts_turn_a_measured_charge_into_a_first_sortie_budget() -> None:
    """35 % of 900 Wh with a 20 % reserve and a 1 % margin leaves 126 Wh for a first sortie;
    a vehicle without a start is fresh; a group with none gets no starts at all."""
    drone = drone_type(id="quad", battery_wh=900.0, reserve_fraction=0.2)
    starts = [VehicleStart(vehicle="hub/quad/2", ready_s=60.0, battery_pct=35.0)]
    got = drone_starts(starts, "hub", drone, 3, 0.01)
    assert got[0] == FRESH and got[2] == FRESH
    assert got[1].ready_s == 60.0 and got[1].battery_wh == pytest.approx(126.0)
    assert drone_starts(starts, "other", drone, 3, 0.01) == ()
