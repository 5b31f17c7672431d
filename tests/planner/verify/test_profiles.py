"""The verifier's samples of a whole track at once are those of each move sampled alone."""

from __future__ import annotations

import numpy as np

from planner.pipeline import make_plan
from planner.scenario import Scenario
from planner.terrain import Dem
from planner.verify._geom import make_zone_frame, profile, profiles
from planner.verify._track import replay

FIELDS = ("lon_deg", "lat_deg", "x_m", "y_m", "ground_m", "amsl_m", "agl_m")


def test_profiles_are_the_moves_profiles_bit_for_bit(district_scenario: Scenario,
                                                     district_dem: Dem) -> None:
    """Every sample of every move of the district's plan, vertical moves included."""
    plan = make_plan(district_scenario, district_dem).plan
    frame = make_zone_frame(district_scenario)
    step_m = district_dem.resolution_m / 2
    depots = {d.id: d for d in district_scenario.depots}
    moves = 0
    for sortie in plan.sorties:
        track = replay(sortie, depots[sortie.depot_id],
                       district_scenario.drone_types[sortie.drone_type_id], district_dem)
        together = profiles(track.moves, district_dem, frame, step_m)
        assert len(together) == len(track.moves)
        for move, got in zip(track.moves, together, strict=True):
            alone = profile(move, district_dem, frame, step_m)
            for name in FIELDS:
                a, b = getattr(alone, name), getattr(got, name)
                assert a.shape == b.shape and a.tobytes() == b.tobytes(), name
            moves += 1
    assert moves > 50
    assert any(m.vertical for s in plan.sorties for m in replay(
        s, depots[s.depot_id], district_scenario.drone_types[s.drone_type_id],
        district_dem).moves)
    assert profiles((), district_dem, frame, step_m) == []
    assert np.isfinite(step_m)
