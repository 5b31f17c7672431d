"""Exact timeline and energy of a sortie flown along catalogued legs.

One sortie is take-off at its depot, a leg to each drop in turn, the release there (or, at a
pickup, the grab), and a leg back to the depot followed by the landing. :func:`evaluate_sortie`
walks that timeline with the payload on board: it leaves the depot with every delivery's parcel,
falls at each release and rises at each pickup (:func:`load_profile_kg`); the compiler emits the
same moves as mission items.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from planner.legs.catalogue import Leg, LegCatalog
from planner.legs.energy import DorlingModel
from planner.scenario import DroneType


@dataclass(frozen=True, slots=True, kw_only=True)
class SortieEval:
    """A feasible sortie: its legs, energy and timeline (seconds from the start of take-off).

    ``release_offsets_s`` is the time of each release (of each grab at a pickup);
    ``duration_s`` ends at touchdown. ``payload_kg`` is the most payload on board at any time;
    ``pickups`` the drop points of ``drops`` that are pickups.
    """

    depot: int
    drone_type_id: str
    drops: tuple[int, ...]
    legs: tuple[Leg, ...]
    payload_kg: float
    energy_wh: float
    duration_s: float
    release_offsets_s: tuple[float, ...]
    pickups: frozenset[int] = frozenset()

    @property
    def distance_m(self) -> float:
        """Horizontal length of all legs."""
        return sum(leg.length_m for leg in self.legs)


def load_profile_kg(drops: Sequence[int], weights_kg: Mapping[int, float],
                    pickups: Collection[int] = ()) -> tuple[float, ...]:
    """Payload on board on each leg of depot -> ``drops`` -> depot (``len(drops) + 1`` values).

    The drone leaves with every delivery's parcel; the load falls by a delivery's weight at its
    release and rises by a pickup's at its grab.

    Examples
    --------
    >>> load_profile_kg((1, 2, 3), {1: 1.0, 2: 0.5, 3: 2.0}, pickups={2})
    (3.0, 2.0, 2.5, 0.5)
    """
    on_board = sum(weights_kg[d] for d in drops if d not in pickups)
    out = [on_board]
    for d in drops:
        on_board += weights_kg[d] if d in pickups else -weights_kg[d]
        out.append(on_board)
    return tuple(out)


def evaluate_sortie(catalog: LegCatalog, drone: DroneType, depot: int,
                    drops: tuple[int, ...], weights_kg: Mapping[int, float],
                    budget_wh: float, *, pickups: Collection[int] = ()) -> SortieEval | str:
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
    pickups
        Drop points where a parcel is collected instead of delivered.

    Returns
    -------
    SortieEval | str
        The evaluated sortie, or a sentence saying why it is infeasible.
    """
    picked = frozenset(d for d in drops if d in pickups)
    payload = sum(weights_kg[d] for d in drops if d not in picked)
    peak = max(load_profile_kg(drops, weights_kg, picked)) if picked else payload
    if peak > drone.max_payload_kg + 1e-9:
        where = "" if peak == payload else " after a pickup"
        return (f"payload {peak:.2f} kg{where} is above the {drone.id} limit of "
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
        if drop in picked:
            on_board += weights_kg[drop]
        else:
            on_board -= weights_kg[drop]
        t += drone.drop_hover_s
        e += model.power_w(on_board) * drone.drop_hover_s / 3600.0
        dt, de = _vertical(drone, model, on_board, legs[k + 1].start_alt_amsl_m - low)
        t += dt
        e += de
    back = sum(weights_kg[d] for d in picked) if picked else 0.0
    dt, de = _vertical(drone, model, back, ground0 - legs[-1].end_alt_amsl_m)
    t += dt
    e += de
    if e > budget_wh:
        return f"needs {e:.0f} Wh, more than the {budget_wh:.0f} Wh budget"
    return SortieEval(depot=depot, drone_type_id=drone.id, drops=tuple(drops), legs=tuple(legs),
                      payload_kg=peak, energy_wh=e, duration_s=t,
                      release_offsets_s=tuple(releases), pickups=picked)


def _vertical(drone: DroneType, model: DorlingModel, payload_kg: float,
              dz_m: float) -> tuple[float, float]:
    """Time and energy of a vertical move of ``dz_m`` (positive up)."""
    rate = drone.climb_rate_m_s if dz_m > 0 else drone.descent_rate_m_s
    t = abs(dz_m) / rate
    return t, model.power_w(payload_kg) * t / 3600.0 + model.climb_energy_wh(payload_kg, dz_m)
