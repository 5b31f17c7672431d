"""The verifier's energy prediction item by item, for plotting predicted against used energy."""

from __future__ import annotations

from collections.abc import Mapping

from planner.plan_model import Sortie
from planner.scenario import Scenario
from planner.terrain import Dem
from planner.verify import sortie_energy_steps_wh


def planned_energy_steps(sortie: Sortie, scenario: Scenario, dem: Dem, *,
                         payload_kg_by_drop: Mapping[str, float]) -> tuple[tuple[int, float], ...]:
    """Predicted energy drawn (Wh, cumulative from take-off) when each mission item is done.

    Parameters
    ----------
    sortie
        The sortie (its depot and drone type must be in ``scenario``).
    scenario
        Drone types and wind.
    dem
        Elevation model.
    payload_kg_by_drop
        Parcel weight of each drop id.

    Returns
    -------
    tuple[tuple[int, float], ...]
        ``(item index, Wh)`` in flight order, the last entry of each item only; empty when the
        sortie cannot be replayed (unknown depot or drone type).
    """
    steps = sortie_energy_steps_wh(sortie, scenario, dem, payload_kg_by_drop=payload_kg_by_drop)
    last: dict[int, float] = {}
    for index, wh in steps:
        last[index] = wh
    return tuple(last.items())
