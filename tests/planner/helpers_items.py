"""Assert helpers for mission items, shared by the plan file tests."""

from __future__ import annotations

import math
from collections.abc import Sequence

from planner.items import MissionItem
from planner.plan_model import Plan, Sortie, SortieMetrics, Unserved

_FLOATS = ("param1", "param2", "param3", "param4", "lat_deg", "lon_deg", "alt_m")
_EXACT = ("command", "frame", "autocontinue", "mission_type")


def assert_items_equal(actual: Sequence[MissionItem], expected: Sequence[MissionItem],
                       tol: float = 1e-7, *, alt_tol_m: float | None = None) -> None:
    """Assert two item lists are equal: same length, same integers, floats within ``tol``.

    ``alt_tol_m`` (default ``tol``) applies to ``alt_m``; NaN equals NaN.
    """
    assert len(actual) == len(expected), f"{len(actual)} items, expected {len(expected)}"
    for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
        for name in _EXACT:
            got, want = getattr(a, name), getattr(e, name)
            assert got == want, f"item {i} {name}: {got!r}, expected {want!r}"
        for name in _FLOATS:
            got, want = getattr(a, name), getattr(e, name)
            limit = alt_tol_m if name == "alt_m" and alt_tol_m is not None else tol
            if math.isnan(want):
                assert math.isnan(got), f"item {i} {name}: {got!r}, expected NaN"
            else:
                assert abs(got - want) <= limit, f"item {i} {name}: {got!r}, expected {want!r}"


def sample_mission() -> tuple[MissionItem, ...]:
    """A delivery sortie near the White Mountains using every release method the compiler emits."""
    return (
        MissionItem(command=16, frame=0, lat_deg=44.2706, lon_deg=-71.3033, alt_m=612.5),
        MissionItem(command=22, frame=3, param4=math.nan, alt_m=40.0),
        MissionItem(command=16, frame=3, lat_deg=44.28013579, lon_deg=-71.29052468, alt_m=60.0),
        MissionItem(command=16, frame=3, lat_deg=44.2851, lon_deg=-71.2811, alt_m=15.25),
        MissionItem(command=211, frame=0, param1=1.0, param2=0.0),
        MissionItem(command=93, frame=2, param1=5.0, param2=-1.0, param3=-1.0, param4=-1.0),
        MissionItem(command=16, frame=10, lat_deg=44.2902, lon_deg=-71.2755, alt_m=55.5),
        MissionItem(command=42600, frame=2, param1=1.0, param2=4.0, param3=2.5),
        MissionItem(command=21, frame=3, lat_deg=44.2955, lon_deg=-71.2701, alt_m=0.0),
        MissionItem(command=22, frame=3, alt_m=40.0, autocontinue=False),
        MissionItem(command=20, frame=0),
    )


def sample_fence() -> tuple[MissionItem, ...]:
    """An inclusion corridor (4 vertices), an exclusion triangle and an exclusion circle."""
    corridor = [(44.26, -71.31), (44.30, -71.31), (44.30, -71.26), (44.26, -71.26)]
    triangle = [(44.281, -71.300), (44.284, -71.296), (44.279, -71.294)]
    return (
        *(MissionItem(command=5001, frame=0, param1=4.0, lat_deg=lat, lon_deg=lon,
                      mission_type=1) for lat, lon in corridor),
        *(MissionItem(command=5002, frame=0, param1=3.0, lat_deg=lat, lon_deg=lon,
                      mission_type=1) for lat, lon in triangle),
        MissionItem(command=5004, frame=0, param1=150.0, lat_deg=44.29, lon_deg=-71.285,
                    mission_type=1),
    )


def sample_rally() -> tuple[MissionItem, ...]:
    """Two rally points 30 m above home."""
    return tuple(MissionItem(command=5100, frame=3, lat_deg=lat, lon_deg=lon, alt_m=30.0,
                             mission_type=2)
                 for lat, lon in ((44.2711, -71.3020), (44.2890, -71.2790)))


def _mission_without_nan() -> tuple[MissionItem, ...]:
    return tuple(item if not math.isnan(item.param4) else
                 MissionItem(command=item.command, frame=item.frame, alt_m=item.alt_m)
                 for item in sample_mission())


def sample_plan(*, with_nan: bool = False) -> Plan:
    """Two sorties (one with fence and rally) and one unserved drop."""
    metrics = SortieMetrics(distance_m=8123.456789, duration_s=0.1 + 0.2, energy_wh=61.25,
                            energy_pct=41.5, reserve_pct=38.5, min_agl_m=44.0, max_agl_m=97.5,
                            payload_kg=1.2, drop_etas_s={"D7": 412.5, "D2": 655.0})
    first = Sortie(id="S1", depot_id="bethlehem", drone_type_id="quad",
                   vehicle="bethlehem/quad/1", drop_ids=("D7", "D2"), start_s=0.0,
                   mission=sample_mission() if with_nan else _mission_without_nan(),
                   fence=sample_fence(), rally=sample_rally(), metrics=metrics)
    second = Sortie(id="S2", depot_id="bethlehem", drone_type_id="quad",
                    vehicle="bethlehem/quad/1", drop_ids=(), start_s=900.0,
                    mission=_mission_without_nan()[:2], fence=(), rally=(),
                    metrics=SortieMetrics(distance_m=0.0, duration_s=0.0, energy_wh=0.0,
                                          energy_pct=0.0, reserve_pct=100.0, min_agl_m=0.0,
                                          max_agl_m=0.0, payload_kg=0.0))
    return Plan(scenario="white-mountains", altitude_frame="relative", sorties=(first, second),
                unserved=(Unserved(drop_id="D9", reason="beyond the battery range of quad"),),
                seed=7)
