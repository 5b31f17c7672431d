"""Scheduling sorties on drones: turnaround, time windows, late drops taken out."""

from __future__ import annotations

from planner.scenario import Drop
from planner.sorties.evaluate import SortieEval
from planner.sorties.schedule import schedule
from tests.planner.helpers import drone_type


def _ev(drops: tuple[int, ...], duration_s: float, offsets: tuple[float, ...]) -> SortieEval:
    return SortieEval(depot=0, drone_type_id="quad", drops=drops, legs=(), payload_kg=1.0,
                      energy_wh=100.0, duration_s=duration_s, release_offsets_s=offsets)


def _drop(i: int, earliest: float | None = None, latest: float | None = None) -> Drop:
    return Drop(id=f"d{i}", lat_deg=44.0, lon_deg=-71.0, weight_kg=1.0, earliest_s=earliest,
                latest_s=latest)


def _never(ev: SortieEval, keep: tuple[int, ...]) -> SortieEval | str:
    raise AssertionError("no re-evaluation expected")


def test_two_drones_share_three_sorties_with_turnaround() -> None:
    """Longest first; the third sortie waits for the first drone back plus its turnaround."""
    drone = drone_type(turnaround_s=300.0)
    evs = [_ev((1,), 1000, (500,)), _ev((2,), 800, (400,)), _ev((3,), 600, (300,))]
    drops = {i: _drop(i) for i in (1, 2, 3)}
    done, dropped = schedule(evs, drone, 2, drops, _never)
    assert not dropped
    starts = {s.sortie.drops: (s.drone_number, s.start_s) for s in done}
    assert starts[(1,)] == (1, 0.0)
    assert starts[(2,)] == (2, 0.0)
    assert starts[(3,)] == (2, 800.0 + 300.0)


def test_earliest_window_delays_take_off() -> None:
    """A drop that may not arrive before 2000 s delays its sortie's take-off."""
    drops = {1: _drop(1, earliest=2000.0)}
    done, _ = schedule([_ev((1,), 1000, (400,))], drone_type(), 1, drops, _never)
    assert done[0].start_s == 1600.0


def test_late_drop_is_taken_out_and_the_rest_reevaluated() -> None:
    """A drop whose window closed is reported; the shorter sortie is evaluated again."""
    drops = {1: _drop(1), 2: _drop(2, latest=100.0)}
    calls: list[tuple[int, ...]] = []

    def again(ev: SortieEval, keep: tuple[int, ...]) -> SortieEval | str:
        calls.append(keep)
        return _ev(keep, 500, (250,))

    done, dropped = schedule([_ev((1, 2), 1000, (300, 600))], drone_type(), 1, drops, again)
    assert calls == [(1,)]
    assert set(dropped) == {2}
    assert "time window" in dropped[2]
    assert [s.sortie.drops for s in done] == [(1,)]
