"""Vehicles taken out of a plan's fleet: ``depot/type/n``, as a plan names its drones."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable

from planner.errors import InputError
from planner.scenario import Depot


def ground_vehicles(depots: tuple[Depot, ...], names: Iterable[str], *,
                    field: str = "ground") -> tuple[Depot, ...]:
    """The depots with the named vehicles taken out of their drone counts.

    Parameters
    ----------
    depots
        The scenario's depots.
    names
        Vehicle names as a plan gives them (``"north_conway/heavy_octo/2"``); a name given
        twice counts once.
    field
        The option or field named in errors.

    Returns
    -------
    tuple of Depot
        The same depots, each type's count lowered by its grounded vehicles.

    Raises
    ------
    InputError
        A name is not of a vehicle the depots have.

    Examples
    --------
    >>> hub = Depot(id="hub", lat_deg=45.0, lon_deg=10.0, drones={"quad": 2})
    >>> dict(ground_vehicles((hub,), ["hub/quad/2"])[0].drones)
    {'quad': 1}
    """
    by_id = {d.id: d for d in depots}
    out: Counter[tuple[str, str]] = Counter()
    for name in dict.fromkeys(names):
        parts = str(name).split("/")
        depot = by_id.get(parts[0]) if len(parts) == 3 else None
        count = depot.drones.get(parts[1], 0) if depot is not None else 0
        if depot is None or not parts[2].isdigit() or not 1 <= int(parts[2]) <= count:
            raise InputError(f"{str(name)[:80]!r} is not a vehicle of the scenario's depots "
                             f"(depot/type/n, n from 1 to the depot's count of that type)",
                             field=field)
        out[(parts[0], parts[1])] += 1
    return tuple(dataclasses.replace(d, drones={t: n - out[(d.id, t)]
                                                for t, n in d.drones.items()})
                 for d in depots)
