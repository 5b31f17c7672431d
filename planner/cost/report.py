"""Cost of a plan per parcel, per drone-km and per kg, against the road.

How each figure is made (prices from a :class:`~planner.cost.table.CostTable`, in yuan):

- **energy**: ``energy_kwh`` is what each sortie draws from its battery (its predicted
  ``energy_wh`` / 1000); it costs ``energy_kwh / charger_efficiency * electricity_yuan_per_kwh``.
- **battery wear**: a sortie wears ``energy_wh / battery_wh`` full cycles of its drone type's pack;
  a cycle costs ``battery_wh / 1000 * battery_yuan_per_kwh / battery_cycle_life``.
- **depreciation**: the sortie's flight hours (``duration_s / 3600``) times
  ``depreciation_yuan_per_flight_h``.
- **crew**: one turnaround of the drone type (``turnaround_s / 3600`` hours) per sortie, times
  ``crew_yuan_per_h``.

A sortie's cost goes to its drops in proportion to each drop's straight-line (geodesic) distance
from the sortie's depot: a farther drop takes a larger share (equal shares when every drop is at
the depot). Each drop is then compared with its road cost (``road_yuan_per_parcel``, or with
``road_yuan_per_km`` set, that price times the straight-line distance times
``road_detour_factor``) and is cheaper by ``drone`` or by ``road`` (``same`` when equal to the
fen). Unserved drops are not costed. :func:`flown_cost` prices what was flown the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from planner.cost.table import CURRENCY, CostTable
from planner.flown.figures import FlownFigures
from planner.geo import geodesic_distance_m
from planner.plan_model import Plan, Sortie
from planner.scenario import Scenario

Cheaper = Literal["drone", "road", "same"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SortieCost:
    """What one sortie costs (yuan), and the quantities priced."""

    sortie_id: str
    energy_kwh: float
    energy_yuan: float
    battery_cycles: float
    battery_wear_yuan: float
    flight_h: float
    depreciation_yuan: float
    crew_h: float
    crew_yuan: float
    distance_km: float

    @property
    def cost_yuan(self) -> float:
        """Energy, battery wear, depreciation and crew together."""
        return self.energy_yuan + self.battery_wear_yuan + self.depreciation_yuan + self.crew_yuan


@dataclass(frozen=True, slots=True, kw_only=True)
class DropCost:
    """One delivered parcel: its share of its sortie's cost against its road cost (yuan)."""

    drop_id: str
    sortie_id: str
    weight_kg: float
    share: float
    drone_yuan: float
    road_yuan: float

    @property
    def cheaper(self) -> Cheaper:
        """Which way delivers this parcel for less (``same`` within half a fen)."""
        if abs(self.drone_yuan - self.road_yuan) < 0.005:
            return "same"
        return "drone" if self.drone_yuan < self.road_yuan else "road"


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanCost:
    """The cost report of a plan: per sortie, per drop and the totals."""

    sorties: tuple[SortieCost, ...]
    drops: tuple[DropCost, ...]
    table: CostTable

    def _sum(self, name: str) -> float:
        return sum(float(getattr(s, name)) for s in self.sorties)

    @property
    def cost_yuan(self) -> float:
        """Total cost of every sortie."""
        return sum(s.cost_yuan for s in self.sorties)

    @property
    def parcels(self) -> int:
        """Parcels delivered."""
        return len(self.drops)

    @property
    def payload_kg(self) -> float:
        """Weight of the parcels delivered."""
        return sum(d.weight_kg for d in self.drops)

    @property
    def distance_km(self) -> float:
        """Distance flown by every sortie."""
        return self._sum("distance_km")

    @property
    def road_yuan(self) -> float:
        """What the road would charge for the same parcels."""
        return sum(d.road_yuan for d in self.drops)

    def per(self, amount: float) -> float | None:
        """The total cost divided by ``amount``, or None when ``amount`` is 0."""
        return self.cost_yuan / amount if amount > 0 else None


def _road_yuan(table: CostTable, reach_m: float) -> float:
    if table.road_yuan_per_km is None:
        return table.road_yuan_per_parcel
    return table.road_yuan_per_km * reach_m / 1000 * table.road_detour_factor


def _sortie_cost(sortie: Sortie, scenario: Scenario, table: CostTable, *, energy_wh: float,
                 duration_s: float) -> SortieCost:
    drone = scenario.drone_types[sortie.drone_type_id]
    energy_kwh = energy_wh / 1000
    cycles = energy_wh / drone.battery_wh
    flight_h = duration_s / 3600
    crew_h = drone.turnaround_s / 3600
    pack_yuan = drone.battery_wh / 1000 * table.battery_yuan_per_kwh
    return SortieCost(
        sortie_id=sortie.id, energy_kwh=energy_kwh,
        energy_yuan=energy_kwh / table.charger_efficiency * table.electricity_yuan_per_kwh,
        battery_cycles=cycles, battery_wear_yuan=cycles * pack_yuan / table.battery_cycle_life,
        flight_h=flight_h, depreciation_yuan=flight_h * table.depreciation_yuan_per_flight_h,
        crew_h=crew_h, crew_yuan=crew_h * table.crew_yuan_per_h,
        distance_km=sortie.metrics.distance_m / 1000)


def _drop_costs(sortie: Sortie, cost: SortieCost, drop_ids: Sequence[str], scenario: Scenario,
                table: CostTable) -> list[DropCost]:
    """``cost`` shared among ``drop_ids`` by their distance from the sortie's depot."""
    depot = next(d for d in scenario.depots if d.id == sortie.depot_id)
    drops = {d.id: d for d in scenario.drops}
    reach_m = [geodesic_distance_m(depot.lat_deg, depot.lon_deg, drops[i].lat_deg,
                                   drops[i].lon_deg) for i in drop_ids]
    total_m = sum(reach_m)
    out = []
    for drop_id, reach in zip(drop_ids, reach_m, strict=True):
        share = reach / total_m if total_m > 0 else 1 / len(reach_m)
        out.append(DropCost(drop_id=drop_id, sortie_id=sortie.id,
                            weight_kg=drops[drop_id].weight_kg, share=share,
                            drone_yuan=share * cost.cost_yuan, road_yuan=_road_yuan(table, reach)))
    return out


def plan_cost(plan: Plan, scenario: Scenario, table: CostTable | None = None) -> PlanCost:
    """The cost report of a plan.

    Parameters
    ----------
    plan
        The plan; its sorties' predicted energy, duration and distance are priced.
    scenario
        The scenario planned (drone types, depots and drops).
    table
        The prices; the defaults of :class:`CostTable` when None.

    Returns
    -------
    PlanCost
        Per sortie, per delivered drop (with its road cost and the cheaper way) and the totals.
    """
    table = table or CostTable()
    sortie_costs: list[SortieCost] = []
    drop_costs: list[DropCost] = []
    for sortie in plan.sorties:
        cost = _sortie_cost(sortie, scenario, table, energy_wh=sortie.metrics.energy_wh,
                            duration_s=sortie.metrics.duration_s)
        sortie_costs.append(cost)
        drop_costs += _drop_costs(sortie, cost, sortie.drop_ids, scenario, table)
    return PlanCost(sorties=tuple(sortie_costs), drops=tuple(drop_costs), table=table)


def flown_cost(plan: Plan, scenario: Scenario, flown: Mapping[str, FlownFigures],
               table: CostTable | None = None) -> PlanCost:
    """The cost report of what was flown of a plan.

    Parameters
    ----------
    plan
        The plan flown.
    scenario
        Its scenario.
    flown
        The flown figures of each sortie flown, by sortie id (see
        :func:`planner.flown.figures.compare_flight`); sorties not in it are left out.
    table
        The prices; the defaults of :class:`CostTable` when None.

    Returns
    -------
    PlanCost
        Priced as :func:`plan_cost`, with the energy drawn (``energy_used_wh``) and the time
        flown (``duration_flown_s``) measured, each falling back to the prediction when not
        measured; distances are the planned ones. Only the parcels released count as
        delivered: a sortie's cost is shared among them (a sortie that released none still
        counts in the totals).
    """
    table = table or CostTable()
    sortie_costs: list[SortieCost] = []
    drop_costs: list[DropCost] = []
    for sortie in plan.sorties:
        figures = flown.get(sortie.id)
        if figures is None:
            continue
        m = sortie.metrics
        cost = _sortie_cost(
            sortie, scenario, table,
            energy_wh=m.energy_wh if figures.energy_used_wh is None else figures.energy_used_wh,
            duration_s=(m.duration_s if figures.duration_flown_s is None
                        else figures.duration_flown_s))
        sortie_costs.append(cost)
        released = [i for i in sortie.drop_ids if figures.drop_errors_m.get(i) is not None]
        drop_costs += _drop_costs(sortie, cost, released, scenario, table)
    return PlanCost(sorties=tuple(sortie_costs), drops=tuple(drop_costs), table=table)


def _r(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def cost_summary(cost: PlanCost) -> dict[str, Any]:
    """The cost report as JSON values (the ``cost`` object of ``summary.json``).

    Returns
    -------
    dict
        ``currency``; the totals (``energy_kwh``, ``energy_yuan``, ``battery_cycles``,
        ``battery_wear_yuan``, ``flight_h``, ``depreciation_yuan``, ``crew_h``, ``crew_yuan``,
        ``cost_yuan``); ``parcels``, ``payload_kg``, ``distance_km``;
        ``cost_per_parcel_yuan``, ``cost_per_drone_km_yuan``, ``cost_per_kg_yuan`` (null
        without parcels); the road (``road_yuan``, ``road_per_parcel_yuan``, ``saving_yuan``,
        ``road_basis``), ``drops`` (each ``drop_id``, ``sortie_id``, ``share``, ``drone_yuan``,
        ``road_yuan``, ``cheaper``), ``cheaper_by_drone``/``cheaper_by_road`` (drop ids) and
        ``table`` (the prices used).
    """
    table = cost.table
    totals = {name: round(sum(float(getattr(s, name)) for s in cost.sorties), 4)
              for name in ("energy_kwh", "energy_yuan", "battery_cycles", "battery_wear_yuan",
                           "flight_h", "depreciation_yuan", "crew_h", "crew_yuan")}
    basis = ("per_parcel" if table.road_yuan_per_km is None else "per_km")
    prices: Mapping[str, float | None] = {
        name: getattr(table, name) for name in table.__dataclass_fields__}
    return {
        "currency": CURRENCY,
        **totals,
        "cost_yuan": round(cost.cost_yuan, 2),
        "parcels": cost.parcels,
        "payload_kg": round(cost.payload_kg, 3),
        "distance_km": round(cost.distance_km, 3),
        "cost_per_parcel_yuan": _r(cost.per(cost.parcels)),
        "cost_per_drone_km_yuan": _r(cost.per(cost.distance_km)),
        "cost_per_kg_yuan": _r(cost.per(cost.payload_kg)),
        "road_yuan": round(cost.road_yuan, 2),
        "road_per_parcel_yuan": _r(cost.road_yuan / cost.parcels if cost.parcels else None),
        "saving_yuan": round(cost.road_yuan - cost.cost_yuan, 2),
        "road_basis": basis,
        "drops": [{"drop_id": d.drop_id, "sortie_id": d.sortie_id, "share": round(d.share, 4),
                   "drone_yuan": round(d.drone_yuan, 2), "road_yuan": round(d.road_yuan, 2),
                   "cheaper": d.cheaper} for d in cost.drops],
        "cheaper_by_drone": [d.drop_id for d in cost.drops if d.cheaper == "drone"],
        "cheaper_by_road": [d.drop_id for d in cost.drops if d.cheaper == "road"],
        "table": dict(prices),
    }


def format_cost(summary: Mapping[str, Any]) -> list[str]:
    """The lines ``dropline plan`` prints for a :func:`cost_summary`."""
    if not summary["parcels"]:
        return ["cost: no parcel delivered"]
    lines = [
        f"cost {summary['cost_yuan']:.2f} yuan for {summary['parcels']} parcels: "
        f"{summary['cost_per_parcel_yuan']:.2f} yuan/parcel, "
        f"{summary['cost_per_drone_km_yuan']:.2f} yuan/drone-km, "
        f"{summary['cost_per_kg_yuan']:.2f} yuan/kg "
        f"(road {summary['road_per_parcel_yuan']:.2f} yuan/parcel, "
        f"saving {summary['saving_yuan']:.2f} yuan)",
        f"  energy {summary['energy_kwh']:.3f} kWh {summary['energy_yuan']:.2f} yuan, "
        f"battery {summary['battery_cycles']:.2f} cycles {summary['battery_wear_yuan']:.2f} yuan, "
        f"depreciation {summary['flight_h']:.2f} h {summary['depreciation_yuan']:.2f} yuan, "
        f"crew {summary['crew_h']:.2f} h {summary['crew_yuan']:.2f} yuan",
    ]
    for label, key in (("drone", "cheaper_by_drone"), ("road", "cheaper_by_road")):
        ids = summary[key]
        lines.append(f"  cheaper by {label}: {', '.join(ids) if ids else 'none'}")
    return lines
