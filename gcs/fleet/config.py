"""Vehicle configuration before a sortie: the parameters it needs, set and verified.

ArduCopter's defaults do not suit a delivery: the default fence (``FENCE_TYPE`` 7 with a 150 m
circle and a 100 m altitude limit) trips on any delivery, a landing drop disarms the copter
unless ``MIS_OPTIONS`` bit 2 is set, and no failsafe returns the vehicle when the ground station
is lost. :func:`sortie_parameters` computes what a sortie needs, :func:`configure` checks the
vehicle can fly it (a gripper for gripper drops, a winch for winch drops: refused with the
reason otherwise), then sets every parameter and checks the vehicle's echo of each.

Parameters set (ArduCopter names):

- ``FENCE_TYPE`` 4 (polygons and circles of the uploaded fence only), ``FENCE_ACTION``, and
  ``FENCE_ENABLE`` 1 when the sortie has a geofence;
- ``MIS_OPTIONS`` bit 2 (continue after a mission NAV_LAND) when a drop lands;
- ``FS_GCS_ENABLE`` (RTL) with ``FS_OPTIONS`` bit 1 (continue the mission in AUTO), so a lost
  link never interrupts a delivery in progress but returns a vehicle flown by hand;
- ``BATT_FS_LOW_ACT``/``BATT_LOW_MAH`` and ``BATT_FS_CRT_ACT``/``BATT_CRT_MAH`` as the vehicle's
  own last line below the ground station's plan-aware battery monitor, ``FS_EKF_ACTION``;
- ``RTL_ALT`` to the sortie's highest altitude above home, so a return never flies lower than the
  mission did;
- ``TERRAIN_ENABLE`` 1, and ``TERRAIN_SPACING`` to the grid the ground station serves (where the
  vehicle has the parameter), when the sortie's altitudes need terrain (:func:`needs_terrain`):
  without terrain data ArduPilot flies relative altitudes over a flat world at home's height.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from gcs.commands import param_get, param_get_optional, param_set
from gcs.errors import VehicleNotCapable
from gcs.link import Link
from gcs.transfer import DEFAULT_RETRY, Retry, Target
from planner.items import RELATIVE_FRAMES, TERRAIN_FRAMES, Cmd
from planner.plan_model import Sortie

FENCE_TYPE_POLYGON = 4
MIS_OPTIONS_CONTINUE_AFTER_LAND = 4
FS_OPTIONS_GCS_CONTINUE_AUTO = 2
#: ArduCopter's RTL_ALT range (cm).
RTL_ALT_RANGE_CM = (200.0, 300000.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigOptions:
    """Failsafe choices applied with every sortie (ArduCopter action numbers).

    ``battery_low_pct``/``battery_critical_pct`` set ``BATT_LOW_MAH``/``BATT_CRT_MAH`` as a share
    of ``BATT_CAPACITY`` (0 leaves the parameter alone); ``extra`` adds any other parameters.
    ``terrain`` enables the vehicle's terrain database for sorties that need it, with the grid
    spacing ``terrain_spacing_m`` (what :mod:`gcs.terrain` serves is what the vehicle asks for):
    50 m. At ArduPilot's default 100 m, SITL's ground (the grid served, bilinear between its
    points) misses the DEM by up to 5.5 m at the tutorial's drops, and a release height with it;
    at 50 m by 1.2 m at most. A finer grid needs more blocks than a long sortie can load
    before its preflight terrain check gives up (the vehicle asks for one block every 2 s of its
    time: 31 blocks at 30 m for the longest district sortie, 21 at 50 m, 11 at 100 m), and
    blocks smaller than the 1 km steps between those checks.
    """

    fence_action: int = 1
    gcs_failsafe: int = 1
    continue_auto_on_gcs_loss: bool = True
    battery_low_action: int = 2
    battery_critical_action: int = 1
    battery_low_pct: float = 10.0
    battery_critical_pct: float = 5.0
    ekf_action: int = 1
    set_rtl_alt: bool = True
    terrain: bool = True
    terrain_spacing_m: int = 50
    extra: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("battery_low_pct", "battery_critical_pct"):
            value = getattr(self, name)
            if not 0 <= value < 100:
                raise ValueError(f"Expected {name} in [0, 100), got {value}")
        if not 10 <= self.terrain_spacing_m <= 1000:
            raise ValueError(f"Expected terrain_spacing_m in [10, 1000], got "
                             f"{self.terrain_spacing_m}")
        object.__setattr__(self, "extra", MappingProxyType(dict(self.extra)))


@dataclass(frozen=True, slots=True, kw_only=True)
class VehicleConfig:
    """The parameters a vehicle was given for a sortie, as it echoed them."""

    sysid: int
    sortie_id: str
    params: Mapping[str, float]


def releases_with(sortie: Sortie) -> frozenset[str]:
    """How the sortie releases parcels: ``"gripper"``, ``"winch"``, ``"land"``."""
    out: set[str] = set()
    nav_after_land = False
    mission = sortie.mission
    for i, item in enumerate(mission):
        if item.command in (Cmd.DO_GRIPPER, Cmd.NAV_PAYLOAD_PLACE):
            out.add("gripper")
        elif item.command == Cmd.DO_WINCH:
            out.add("winch")
        elif item.command == Cmd.NAV_LAND and i > 0:
            nav_after_land = nav_after_land or any(m.is_nav for m in mission[i + 1:])
    if nav_after_land:
        out.add("land")
    return frozenset(out)


def needed_reads(sortie: Sortie) -> tuple[str, ...]:
    """Parameters :func:`sortie_parameters` and :func:`capability_problems` need to read."""
    names = ["GRIP_ENABLE", "MIS_OPTIONS", "FS_OPTIONS", "BATT_CAPACITY"]
    if "winch" in releases_with(sortie):
        names.append("WINCH_TYPE")
    return tuple(names)


def capability_problems(sortie: Sortie, current: Mapping[str, float]) -> list[str]:
    """Why the vehicle cannot fly the sortie (empty when it can)."""
    out = []
    how = releases_with(sortie)
    if "gripper" in how and current.get("GRIP_ENABLE", 0) < 1:
        out.append("the sortie releases parcels with a gripper but GRIP_ENABLE is 0: configure "
                   "one (GRIP_ENABLE 1, GRIP_TYPE, SERVOn_FUNCTION 28) and reboot the vehicle")
    if "winch" in how and current.get("WINCH_TYPE", 0) == 0:
        out.append("the sortie lowers parcels with a winch but WINCH_TYPE is 0: configure one "
                   "and reboot the vehicle")
    return out


def needs_terrain(sortie: Sortie) -> bool:
    """Whether the sortie's altitudes need the vehicle to know the terrain.

    True when a NAV item is in a terrain frame, goes below home's altitude (a relative altitude
    under 0: over a valley), or descends to the ground away from home (payload place, landing
    drop): in each, a vehicle without terrain data flies against a flat world at home's height.
    """
    for item in sortie.mission[1:]:
        if not item.is_nav:
            continue
        if item.frame in TERRAIN_FRAMES:
            return True
        if item.frame in RELATIVE_FRAMES and item.alt_m < 0:
            return True
        if item.command in (Cmd.NAV_PAYLOAD_PLACE, Cmd.NAV_LAND):
            return True
    return False


def highest_rel_alt_m(sortie: Sortie) -> float | None:
    """The highest altitude above home of the sortie's NAV items (None if none is relative)."""
    alts = [m.alt_m for m in sortie.mission[1:] if m.is_nav and m.frame in RELATIVE_FRAMES]
    return max(alts) if alts else None


def sortie_parameters(sortie: Sortie, current: Mapping[str, float],
                      options: ConfigOptions | None = None) -> dict[str, float]:
    """Every parameter value the sortie needs, given the vehicle's present ``current`` values."""
    opts = options or ConfigOptions()
    out: dict[str, float] = {}
    if sortie.fence:
        out.update(FENCE_TYPE=FENCE_TYPE_POLYGON, FENCE_ACTION=opts.fence_action,
                   FENCE_ENABLE=1)
    if "land" in releases_with(sortie):
        out["MIS_OPTIONS"] = int(current.get("MIS_OPTIONS", 0)) | MIS_OPTIONS_CONTINUE_AFTER_LAND
    out["FS_GCS_ENABLE"] = opts.gcs_failsafe
    fs_options = int(current.get("FS_OPTIONS", 0))
    if opts.continue_auto_on_gcs_loss:
        fs_options |= FS_OPTIONS_GCS_CONTINUE_AUTO
    else:
        fs_options &= ~FS_OPTIONS_GCS_CONTINUE_AUTO
    out["FS_OPTIONS"] = fs_options
    capacity = current.get("BATT_CAPACITY", 0.0)
    if capacity > 0:
        if opts.battery_low_pct > 0:
            out["BATT_LOW_MAH"] = math.floor(capacity * opts.battery_low_pct / 100.0)
            out["BATT_FS_LOW_ACT"] = opts.battery_low_action
        if opts.battery_critical_pct > 0:
            out["BATT_CRT_MAH"] = math.floor(capacity * opts.battery_critical_pct / 100.0)
            out["BATT_FS_CRT_ACT"] = opts.battery_critical_action
    out["FS_EKF_ACTION"] = opts.ekf_action
    top = highest_rel_alt_m(sortie)
    if opts.set_rtl_alt and top is not None:
        low, high = RTL_ALT_RANGE_CM
        out["RTL_ALT"] = min(max(math.ceil(top * 100.0), low), high)
    out.update({k: float(v) for k, v in opts.extra.items()})
    return {k: float(v) for k, v in out.items()}


def configure(link: Link, target: Target, sortie: Sortie, options: ConfigOptions | None = None,
              retry: Retry = DEFAULT_RETRY) -> VehicleConfig:
    """Check the vehicle can fly ``sortie``, then set and verify every parameter it needs.

    Raises
    ------
    VehicleNotCapable
        The vehicle lacks a gripper or winch the sortie uses (nothing is changed).
    CommandRejected
        The vehicle kept another value for a parameter.
    LinkTimeout
        The vehicle stopped answering.
    """
    current = {name: param_get(link, target, name, retry) for name in needed_reads(sortie)}
    problems = capability_problems(sortie, current)
    if problems:
        raise VehicleNotCapable(problems, sysid=target.sysid, sortie_id=sortie.id)
    wanted = sortie_parameters(sortie, current, options)
    opts = options or ConfigOptions()
    if opts.terrain and needs_terrain(sortie):
        wanted["TERRAIN_ENABLE"] = 1.0
        if param_get_optional(link, target, "TERRAIN_SPACING",
                              Retry(timeout_s=0.5, tries=2)) is not None:
            wanted["TERRAIN_SPACING"] = float(opts.terrain_spacing_m)
    echoed = {name: param_set(link, target, name, value, retry)
              for name, value in wanted.items()}
    return VehicleConfig(sysid=target.sysid, sortie_id=sortie.id,
                         params=MappingProxyType(echoed))
