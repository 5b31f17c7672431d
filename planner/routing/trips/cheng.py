"""Instances of Cheng, Adulyasak & Rousseau (2020) as a :class:`~planner.routing.trips.TripProblem`.

"Drone routing with energy function: Formulation and exact algorithm", Transportation Research
Part B 139:364-387. Text format: ``CustNum n``, ``DroneNum K``, a header line, then rows
``node x y demand ready due`` for nodes 0 (start depot), 1..n (customers) and n + 1 (end depot,
at the start depot). Coordinates in metres, drones fly at 1 m/s so a flight lasts as many
seconds as it has metres, there is no service time and a drone may wait at a customer for its
ready time. The energy of an arc flown in ``t`` s with ``q`` kg on board is
``k (W + m + q)^1.5 t / 3.6e6`` kWh with ``k = sqrt(g^3 / (2 rho zeta h))``; a trip may use at
most 0.27 kWh and carry at most 1.5 kg. The objective of their R_e results is total distance.

The parser reads text, not files (the planner does no I/O outside ``planner.io``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from planner.errors import InputError
from planner.routing.trips.types import (
    DroneClass,
    TripCustomer,
    TripObjective,
    TripProblem,
)

G_M_S2 = 9.81
AIR_DENSITY_KG_M3 = 1.204
ROTOR_DISK_AREA_M2 = 0.0064
ROTOR_COUNT = 6
FRAME_KG = 1.5
BATTERY_KG = 1.5
CAPACITY_KG = 1.5
ENERGY_LIMIT_KWH = 0.27
SPEED_M_S = 1.0
J_PER_KWH = 3.6e6


def cheng_k() -> float:
    """Their power constant ``sqrt(g^3 / (2 rho zeta h))`` in W / kg^1.5.

    Examples
    --------
    >>> round(cheng_k(), 2)
    101.04
    """
    return math.sqrt(G_M_S2**3 / (2 * AIR_DENSITY_KG_M3 * ROTOR_DISK_AREA_M2 * ROTOR_COUNT))


K_W_PER_KG15 = cheng_k()


def arc_energy_kwh(time_s: float, payload_kg: float) -> float:
    """Energy in kWh of flying ``time_s`` seconds with ``payload_kg`` on board.

    Examples
    --------
    An empty drone flying 1,000 s uses ``101.0438 * 3^1.5 * 1000 / 3.6e6`` kWh:

    >>> round(arc_energy_kwh(1000.0, 0.0), 6)
    0.145844
    """
    return float(K_W_PER_KG15 * (FRAME_KG + BATTERY_KG + payload_kg) ** 1.5 * time_s / J_PER_KWH)


@dataclass(frozen=True, slots=True, kw_only=True)
class ChengInstance:
    """One instance: node 0 the depot, 1..n the customers (rows of the file, end depot dropped)."""

    name: str
    n_drones: int
    x_m: tuple[float, ...]
    y_m: tuple[float, ...]
    demand_kg: tuple[float, ...]
    ready_s: tuple[float, ...]
    due_s: tuple[float, ...]
    horizon_s: float

    @property
    def n_customers(self) -> int:
        """Number of customers."""
        return len(self.x_m) - 1

    def distance_m(self, i: int, j: int) -> float:
        """Euclidean distance between nodes ``i`` and ``j``."""
        return math.hypot(self.x_m[i] - self.x_m[j], self.y_m[i] - self.y_m[j])

    def time_s(self, i: int, j: int) -> float:
        """Flight time from node ``i`` to node ``j``."""
        return self.distance_m(i, j) / SPEED_M_S

    def energy_wh(self, i: int, j: int, payload_kg: float) -> float:
        """Energy in Wh of the arc ``i -> j`` with ``payload_kg`` on board."""
        return arc_energy_kwh(self.time_s(i, j), payload_kg) * 1000.0

    def problem(self, objective: TripObjective = "distance") -> TripProblem:
        """The instance as a trip problem: customer ``c`` (0-based) is node ``c + 1``."""
        customers = tuple(TripCustomer(node=i, demand_kg=self.demand_kg[i],
                                       ready_s=self.ready_s[i], due_s=self.due_s[i],
                                       name=str(i))
                          for i in range(1, self.n_customers + 1))
        drone = DroneClass(id="cheng", count=self.n_drones, depot_node=0,
                           capacity_kg=CAPACITY_KG, energy_limit_wh=ENERGY_LIMIT_KWH * 1000.0,
                           arc_time_s=self.time_s, arc_distance_m=self.distance_m,
                           arc_energy_wh=self.energy_wh, available_from_s=self.ready_s[0],
                           return_by_s=self.horizon_s)
        return TripProblem(customers=customers, fleet=(drone,), objective=objective,
                           wait_allowed=True, triangle_inequality=True)


def parse_cheng(text: str, *, name: str = "", path: str | None = None) -> ChengInstance:
    """Parse the text of an instance file.

    Parameters
    ----------
    text
        The file's contents.
    name
        Instance name for messages and results.
    path
        The file it came from, for error messages.

    Raises
    ------
    InputError
        With the line and field of the first malformed value.
    """
    lines = [(k + 1, line.split()) for k, line in enumerate(text.splitlines())]
    lines = [(no, parts) for no, parts in lines if parts]
    head: dict[str, int] = {}
    rows: list[tuple[int, list[float]]] = []
    for no, parts in lines:
        if parts[0] in ("CustNum", "DroneNum"):
            head[parts[0]] = _int(parts, no, path)
        elif parts[0].startswith("#"):
            continue
        else:
            if len(parts) < 6:
                raise InputError(f"expected 6 columns, got {len(parts)}", path=path, line=no)
            try:
                rows.append((no, [float(v) for v in parts[:6]]))
            except ValueError as exc:
                raise InputError(f"expected numbers: {exc}", path=path, line=no) from None
    for key in ("CustNum", "DroneNum"):
        if key not in head:
            raise InputError(f"missing {key} line", path=path, field=key)
    n = head["CustNum"]
    if head["DroneNum"] < 1:
        raise InputError("expected at least one drone", path=path, field="DroneNum")
    if len(rows) != n + 2:
        raise InputError(f"expected {n + 2} node rows (CustNum {n} + 2 depots), got {len(rows)}",
                         path=path)
    for k, (no, row) in enumerate(rows):
        if int(row[0]) != k:
            raise InputError(f"expected node {k}, got {row[0]:g}", path=path, line=no,
                             field="node")
        if row[3] < 0 or row[4] < 0 or row[5] < row[4]:
            raise InputError("expected demand >= 0 and 0 <= ready <= due", path=path, line=no)
    start, end = rows[0][1], rows[-1][1]
    if (start[1], start[2]) != (end[1], end[2]):
        raise InputError("expected the end depot at the start depot", path=path,
                         line=rows[-1][0])
    body = [r for _, r in rows[:-1]]
    return ChengInstance(name=name, n_drones=head["DroneNum"],
                         x_m=tuple(r[1] for r in body), y_m=tuple(r[2] for r in body),
                         demand_kg=tuple(r[3] for r in body), ready_s=tuple(r[4] for r in body),
                         due_s=tuple(r[5] for r in body), horizon_s=min(start[5], end[5]))


def _int(parts: list[str], line: int, path: str | None) -> int:
    try:
        return int(parts[1])
    except (IndexError, ValueError):
        raise InputError(f"expected an integer after {parts[0]}", path=path, line=line,
                         field=parts[0]) from None
