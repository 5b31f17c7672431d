"""Which connected vehicle flies as which plan vehicle.

A plan names its drones ``"<depot>/<type>/<n>"``. When the plan's drones start from more than
one depot, each takes a vehicle standing (or with its home) within :data:`NEAR_DEPOT_M` of its
depot, the lowest system id first; drones left over, and plans with a single depot, take the
remaining system ids in order (plan names sorted against system ids sorted).

When the drone type of each vehicle is known (``types``: system id to drone type id, e.g. a
simulated fleet's or the crew's list), a plan drone only takes a vehicle of its own type (or of
unknown type): at its depot first, then anywhere.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

from gcs.errors import FleetError
from gcs.geo import distance_m
from gcs.telemetry import TelemetryHub
from planner.plan_model import Plan

#: A vehicle this close to a depot (metres) is taken to stand at it.
NEAR_DEPOT_M = 100.0
#: Seconds to wait for more vehicles than the plan needs, on a plan with several depots.
MORE_VEHICLES_S = 2.0
#: Seconds to wait at most for every vehicle's position on a plan with several depots (a vehicle
#: reports none until its GPS is ready, 30-40 s after boot on SITL).
POSITIONS_WAIT_S = 60.0

LatLon = tuple[float, float]


def assign_vehicles(plan_vehicles: Iterable[str], sysids: Iterable[int], *,
                    depots: Mapping[str, LatLon] | None = None,
                    positions: Mapping[int, LatLon] | None = None,
                    near_m: float = NEAR_DEPOT_M,
                    types: Mapping[int, str] | None = None) -> dict[str, int]:
    """Plan vehicle names matched to system ids.

    Parameters
    ----------
    plan_vehicles
        The plan's vehicle names.
    sysids
        System ids of the vehicles heard.
    depots
        Where each plan vehicle starts (latitude, longitude in degrees).
    positions
        Where each vehicle is (its home, or where it stands), if known.
    near_m
        How close to a depot a vehicle must be to be matched to it.
    types
        The drone type id of each system id, where known.

    Raises
    ------
    FleetError
        Fewer vehicles are connected than the plan uses, or no vehicle of a plan drone's type
        is left for it.

    Examples
    --------
    >>> assign_vehicles(["hub/quad/2", "hub/quad/1"], [7, 3, 5])
    {'hub/quad/1': 3, 'hub/quad/2': 5}
    >>> assign_vehicles(["a/q/1", "b/q/1"], [1, 2], depots={"a/q/1": (44.0, -71.0),
    ...                 "b/q/1": (44.1, -71.0)}, positions={1: (44.1, -71.0), 2: (44.0, -71.0)})
    {'a/q/1': 2, 'b/q/1': 1}
    >>> assign_vehicles(["a/heavy/1", "a/long/1"], [1, 2], types={1: "long", 2: "heavy"})
    {'a/heavy/1': 2, 'a/long/1': 1}
    """
    names = sorted(set(plan_vehicles))
    ids = sorted(set(sysids))
    if len(ids) < len(names):
        raise FleetError(f"the plan flies {len(names)} vehicles ({', '.join(names)}) but "
                         f"{len(ids)} answered (system ids {', '.join(map(str, ids)) or 'none'})")
    known = dict(types or {})

    def fits(name: str, sysid: int) -> bool:
        kind = known.get(sysid)
        return kind is None or kind == drone_type_of(name)

    out: dict[str, int] = {}
    free = list(ids)
    if depots and positions:
        for name in names:
            depot = depots.get(name)
            if depot is None:
                continue
            near = [s for s in free if s in positions and fits(name, s)
                    and distance_m(depot[0], depot[1], *positions[s]) <= near_m]
            if near:
                out[name] = near[0]
                free.remove(near[0])
    # the rest in order, vehicles whose place is unknown before those standing elsewhere;
    # vehicles of the drone's own type before those of unknown type
    free.sort(key=lambda s: (s not in known, positions is not None and s in positions, s))
    for name in names:
        if name in out:
            continue
        fitting = [s for s in free if fits(name, s)]
        if not fitting:
            raise FleetError(f"no vehicle of drone type {drone_type_of(name)!r} is left for "
                             f"{name} (free system ids: {', '.join(map(str, free)) or 'none'})")
        out[name] = fitting[0]
        free.remove(fitting[0])
    return {name: out[name] for name in names}


def drone_type_of(name: str) -> str:
    """The drone type of a plan vehicle name ``"<depot>/<type>/<n>"`` (else the whole name).

    Examples
    --------
    >>> drone_type_of("littleton/long_octo/1")
    'long_octo'
    """
    parts = name.split("/")
    return parts[-2] if len(parts) >= 3 else name


def plan_depots(plan: Plan) -> dict[str, LatLon]:
    """Where each plan vehicle starts: the home item of its first sortie."""
    out: dict[str, LatLon] = {}
    for sortie in plan.sorties:
        home = sortie.mission[0]
        out.setdefault(sortie.vehicle, (home.lat_deg, home.lon_deg))
    return out


def known_positions(hub: TelemetryHub, sysids: Iterable[int]) -> dict[int, LatLon]:
    """Each vehicle's home, else where it is, for those that reported one (not 0, 0)."""
    out: dict[int, LatLon] = {}
    for sysid in sysids:
        snap = hub.snapshot(sysid)
        if snap is None:
            continue
        for lat, lon in ((snap.home_lat_deg, snap.home_lon_deg), (snap.lat_deg, snap.lon_deg)):
            if lat is not None and lon is not None and (lat, lon) != (0.0, 0.0):
                out[sysid] = (lat, lon)
                break
    return out


def match_fleet(hub: TelemetryHub, plan: Plan, timeout_s: float, *,
                types: Mapping[int, str] | None = None) -> dict[str, int]:
    """Wait for the plan's vehicles on ``hub`` (up to ``timeout_s``) and match them.

    With several depots it also waits a moment for vehicles beyond the number the plan needs,
    and up to :data:`POSITIONS_WAIT_S` (or ``timeout_s`` if longer) for every vehicle's
    position; vehicles still without one are matched in order. ``types`` gives the drone type
    id of the system ids known to be of one (see :func:`assign_vehicles`).

    Raises
    ------
    FleetError
        Fewer vehicles answered than the plan uses.
    """
    depots = plan_depots(plan)
    names = sorted(depots)
    heard = hub.wait_for_vehicles(len(names), timeout_s)
    if len(set(depots.values())) <= 1 or len(heard) < len(names):
        if types:
            time.sleep(min(MORE_VEHICLES_S, timeout_s))
            heard = hub.vehicles
        return assign_vehicles(names, heard, types=types)
    end = time.monotonic() + max(timeout_s, POSITIONS_WAIT_S)
    more_until = time.monotonic() + MORE_VEHICLES_S
    while time.monotonic() < end:
        heard = hub.vehicles
        if time.monotonic() >= more_until and len(known_positions(hub, heard)) == len(heard):
            break
        time.sleep(0.1)
    return assign_vehicles(names, heard, depots=depots, positions=known_positions(hub, heard),
                           types=types)
