"""Exact timeline and energy of a sortie flown along catalogued legs.

One sortie is take-off at its depot, a leg to each drop in turn, the release there, and a leg
back to the depot followed by the landing. :func:`evaluate_sortie` walks that timeline with the
payload on board falling at each release; the compiler emits the same moves as mission items.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from planner.legs.catalogue import Leg, LegCatalog
from planner.legs.energy import DorlingModel
from planner.scenario import DroneType


@dataclass(frozen=True, slots=True, kw_only=True)
class SortieEval:
    """A feasible sortie: its legs, energy and timeline (seconds from the start of take-off).

    ``release_offsets_s`` is the time of each release; ``duration_s`` ends at touchdown.
    """

    depot: int
    drone_type_id: str
    drops: tuple[int, ...]
    legs: tuple[Leg, ...]
    payload_kg: float
    energy_wh: float
    duration_s: float
    release_offsets_s: tuple[float, ...]

    @property
    def distance_m(self) -> float:
        """Horizontal length of all legs."""
        return sum(leg.length_m for leg in self.legs)


def evaluate_sortie(catalog: LegCatalog, drone: DroneType, depot: int,
                    drops: tuple[int, ...], weights_kg: dict[int, float],
                    budget_wh: float) -> SortieEval | str:
    """Evaluate depot -> ``drops`` (in order) -> depot for ``drone``.

    Parameters
    ----------
    catalog
        Where legs come from.
    drone
        The drone type flying the sortie.
    depot
        Point index of the depot.
    drops
        Point indexes of the drops in delivery order.
    weights_kg
        Parcel weight of each drop point.
    budget_wh
        Energy the sortie may use (usable battery minus the planning margin).

    Returns
    -------
    SortieEval | str
        The evaluated sortie, or a sentence saying why it is infeasible.
    """
    payload = sum(weights_kg[d] for d in drops)
    if payload > drone.max_payload_kg + 1e-9:
        return (f"payload {payload:.2f} kg is above the {drone.id} limit of "
                f"{drone.max_payload_kg:.2f} kg")
    if len(drops) > drone.max_parcels:
        return f"{len(drops)} parcels is above the {drone.id} limit of {drone.max_parcels}"
    legs: list[Leg] = []
    stops = (depot, *drops, depot)
    for a, b in itertools.pairwise(stops):
        leg = catalog.leg(drone, a, b)
        if isinstance(leg, str):
            return leg
        legs.append(leg)

    model = DorlingModel.of(drone)
    on_board = payload
    ground0 = catalog.ground_amsl_m(depot)
    t, e = _vertical(drone, model, on_board, legs[0].start_alt_amsl_m - ground0)
    releases: list[float] = []
    for k, leg in enumerate(legs):
        t += leg.time_s
        e += leg.energy_wh(model, on_board)
        if e > budget_wh:
            return f"needs more than the {budget_wh:.0f} Wh budget"
        if k == len(drops):
            break
        drop = drops[k]
        ground = catalog.ground_amsl_m(drop)
        low = ground if drone.drop_method == "land" else ground + drone.drop_alt_agl_m
        dt, de = _vertical(drone, model, on_board, low - leg.end_alt_amsl_m)
        t += dt
        e += de
        releases.append(t)
        on_board -= weights_kg[drop]
        t += drone.drop_hover_s
        e += model.power_w(on_board) * drone.drop_hover_s / 3600.0
        dt, de = _vertical(drone, model, on_board, legs[k + 1].start_alt_amsl_m - low)
        t += dt
        e += de
    dt, de = _vertical(drone, model, 0.0, ground0 - legs[-1].end_alt_amsl_m)
    t += dt
    e += de
    if e > budget_wh:
        return f"needs {e:.0f} Wh, more than the {budget_wh:.0f} Wh budget"
    return SortieEval(depot=depot, drone_type_id=drone.id, drops=tuple(drops), legs=tuple(legs),
                      payload_kg=payload, energy_wh=e, duration_s=t,
                      release_offsets_s=tuple(releases))


def _vertical(drone: DroneType, model: DorlingModel, payload_kg: float,
              dz_m: float) -> tuple[float, float]:
    """Time and energy of a vertical move of ``dz_m`` (positive up)."""
    rate = drone.climb_rate_m_s if dz_m > 0 else drone.descent_rate_m_s
    t = abs(dz_m) / rate
    return t, model.power_w(payload_kg) * t / 3600.0 + model.climb_energy_wh(payload_kg, dz_m)
