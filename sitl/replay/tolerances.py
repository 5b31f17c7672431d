"""How far a flown mission may stray from its plan, from a TOML file, and the check itself.

The file has a ``[default]`` table and any number of ``[[mission]]`` tables, each with a
``name`` (the mission's name in the report, e.g. ``"district/S003"`` or ``"detour"``) and the
keys it overrides::

    [default]
    cross_track_max_m = 40.0      # largest horizontal distance from the planned track
    cross_track_p95_m = 15.0      # 95th percentile of it
    agl_min_m = 20.0              # lowest height above ground on cruise legs
    agl_max_m = 130.0             # highest
    agl_below_plan_m = 15.0       # how far below the plan's lowest cruise height it may go
    agl_above_plan_m = 15.0       # how far above the plan's highest
    drop_agl_below_plan_m = 5.0   # how far below its planned drop height a drop may go
    max_incursions = 0            # no-fly or geofence incursions allowed
    drop_error_m = 5.0            # largest release error of any drop, grab error of any pickup
                                  # (an unreleased drop or uncollected pickup fails)
    duration_ratio_min = 0.7      # flown / predicted duration
    duration_ratio_max = 1.4
    energy_ratio_min = 0.5        # used / predicted energy
    energy_ratio_max = 1.5
    all_items_reached = true
    final_states = ["completed"]

    [[mission]]
    name = "district/S003"
    energy_ratio_max = 1.8

The ``agl_*`` limits apply to the cruise legs only; a drop's phase (its descent, hover and climb
back, see :mod:`planner.flown.figures`) is held to its own planned drop height less
``drop_agl_below_plan_m`` (figure ``drop_agl_min_m[<drop>]``), so that a drop planned low passes
and a drop flown lower than planned fails.

A figure the flight or the plan cannot give (no prediction for a bare ``.waypoints`` file, no
battery data) is not checked. A key left out of ``[default]`` takes the built-in default above.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from planner.errors import InputError
from planner.flown.figures import FINAL_STATES, FlownFigures
from planner.io._toml_tables import ROOT, TomlLines, Where, construct, read_table, spec_of

__all__ = ["Breach", "ToleranceSet", "Tolerances", "check", "load_tolerances"]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Tolerances:
    """Limits on the figures of one mission (see the module docstring for each)."""

    cross_track_max_m: float = 40.0
    cross_track_p95_m: float = 15.0
    agl_min_m: float = 20.0
    agl_max_m: float = 130.0
    agl_below_plan_m: float = 15.0
    agl_above_plan_m: float = 15.0
    drop_agl_below_plan_m: float = 5.0
    max_incursions: int = 0
    drop_error_m: float = 5.0
    duration_ratio_min: float = 0.7
    duration_ratio_max: float = 1.4
    energy_ratio_min: float = 0.5
    energy_ratio_max: float = 1.5
    all_items_reached: bool = True
    final_states: tuple[str, ...] = ("completed",)

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not (math.isfinite(value) and value >= 0):
                raise ValueError(f"Expected {f.name} >= 0, got {value}")
        if self.max_incursions < 0:
            raise ValueError(f"Expected max_incursions >= 0, got {self.max_incursions}")
        object.__setattr__(self, "final_states", tuple(self.final_states))
        bad = [s for s in self.final_states if s not in FINAL_STATES]
        if bad:
            raise ValueError(f"Expected final_states among {', '.join(FINAL_STATES)}, got "
                             f"{', '.join(map(repr, bad))}")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ToleranceSet:
    """Default tolerances and per-mission overrides (by mission name)."""

    default: Tolerances = dataclasses.field(default_factory=Tolerances)
    missions: Mapping[str, Tolerances] = dataclasses.field(default_factory=dict)
    path: Path | None = None

    def for_mission(self, name: str) -> Tolerances:
        """The tolerances of mission ``name``."""
        return self.missions.get(name, self.default)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Breach:
    """A figure of a mission beyond its tolerance; ``message`` names mission, figure and limit."""

    mission: str
    figure: str
    value: float | str | None
    limit: float | str
    message: str


def _read(table: Mapping[str, Any], where: Where, base: Tolerances,
          allow_name: bool) -> Tolerances:
    """One table's keys over ``base``: unknown keys and wrong types name file, line and key."""
    spec = spec_of(Tolerances)
    if allow_name:
        spec = dataclasses.replace(spec, kinds={**spec.kinds, "name": "string"})
    values = read_table(table, spec, where)
    values.pop("name", None)
    flag = values.get("all_items_reached", True)
    if not isinstance(flag, bool):
        raise where.error(f"Expected true or false, got {flag!r}", "all_items_reached")
    states = values.get("final_states", ())
    if not (isinstance(states, list | tuple) and all(isinstance(s, str) for s in states)):
        raise where.error(f"Expected a list of strings, got {states!r}", "final_states")
    return construct(Tolerances, {**{f.name: getattr(base, f.name)
                                     for f in dataclasses.fields(Tolerances)}, **values}, where)


def load_tolerances(path: str | Path | None) -> ToleranceSet:
    """Read a tolerance file; None gives the built-in defaults.

    Raises
    ------
    InputError
        When the file is missing, not TOML, or holds an unknown key, a value of the wrong type
        or out of range; the error names the file, line and key.
    """
    if path is None:
        return ToleranceSet()
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read the tolerance file: {exc.strerror or exc}",
                         path=p) from exc
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}", path=p, line=getattr(exc, "lineno", None)
                         ) from exc
    lines = TomlLines(text)
    for key in doc:
        if key not in ("default", "mission"):
            raise InputError(f"unknown table '{key}'; expected [default] and [[mission]]",
                             path=p, line=lines.line(ROOT, key), field=key)
    default_table = doc.get("default", {})
    if not isinstance(default_table, dict):
        raise InputError("expected a [default] table", path=p, field="default")
    default = _read(default_table, Where(path=p, lines=lines, table=("default", None),
                                         item="[default]"), Tolerances(), False)
    missions: dict[str, Tolerances] = {}
    entries = doc.get("mission", [])
    if not isinstance(entries, list):
        raise InputError("expected [[mission]] tables", path=p, field="mission")
    for k, entry in enumerate(entries):
        where = Where(path=p, lines=lines, table=("mission", k), item=f"mission {k + 1}")
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            raise where.error("every [[mission]] needs a name (the mission's name in the "
                              "report)", "name")
        missions[name] = _read(entry, where, default, True)
    return ToleranceSet(default=default, missions=missions, path=p)


def _ratio(num: float | None, den: float | None) -> float | None:
    if num is None or den is None or not den > 0:
        return None
    return num / den


def check(mission: str, figures: FlownFigures, tol: Tolerances) -> list[Breach]:
    """Every figure of ``figures`` beyond ``tol``, each named with the mission."""
    out: list[Breach] = []

    def over(figure: str, value: float | None, limit: float, unit: str, *,
             below: bool = False) -> None:
        if value is None:
            return
        if (value < limit) if below else (value > limit):
            word = "below" if below else "above"
            out.append(Breach(mission=mission, figure=figure, value=value, limit=limit,
                              message=f"{mission}: {figure} {value:.2f}{unit} is {word} the "
                                      f"limit {limit:.2f}{unit}"))

    f = figures
    over("cross_track_max_m", f.cross_track_max_m, tol.cross_track_max_m, " m")
    over("cross_track_p95_m", f.cross_track_p95_m, tol.cross_track_p95_m, " m")
    over("agl_min_m", f.agl_min_m, tol.agl_min_m, " m", below=True)
    over("agl_max_m", f.agl_max_m, tol.agl_max_m, " m")
    if f.agl_min_planned_m is not None:
        over("agl_min_m", f.agl_min_m, f.agl_min_planned_m - tol.agl_below_plan_m, " m",
             below=True)
    if f.agl_max_planned_m is not None:
        over("agl_max_m", f.agl_max_m, f.agl_max_planned_m + tol.agl_above_plan_m, " m")
    if len(f.incursions) > tol.max_incursions:
        worst = max(f.incursions, key=lambda i: i.depth_m)
        out.append(Breach(
            mission=mission, figure="incursion", value=len(f.incursions),
            limit=tol.max_incursions,
            message=f"{mission}: incursion into {worst.name} at t={worst.t_s:.0f} s, "
                    f"{worst.depth_m:.1f} m deep ({len(f.incursions)} incursions, "
                    f"{tol.max_incursions} allowed)"))
    for drop, low in f.drop_agl_min_m.items():
        planned = f.drop_agl_planned_m.get(drop)
        if low is not None and planned is not None \
                and low < planned - tol.drop_agl_below_plan_m:
            limit = planned - tol.drop_agl_below_plan_m
            out.append(Breach(
                mission=mission, figure=f"drop_agl_min_m[{drop}]", value=low, limit=limit,
                message=f"{mission}: drop_agl_min_m[{drop}] {low:.2f} m is below the limit "
                        f"{limit:.2f} m (planned drop height {planned:.2f} m less "
                        f"{tol.drop_agl_below_plan_m:.2f} m)"))
    for figure, errors, what, missed in (("drop_error_m", f.drop_errors_m, "drop", "released"),
                                         ("grab_error_m", f.grab_errors_m, "pickup",
                                          "collected")):
        for stop, error in errors.items():
            if error is None and f.final_state != "not_flown":
                out.append(Breach(mission=mission, figure=figure, value=None,
                                  limit=tol.drop_error_m,
                                  message=f"{mission}: {what} {stop} was never {missed}"))
            else:
                over(f"{figure}[{stop}]", error, tol.drop_error_m, " m")
    duration = _ratio(f.duration_flown_s, f.duration_planned_s)
    over("duration_ratio", duration, tol.duration_ratio_max, "")
    over("duration_ratio", duration, tol.duration_ratio_min, "", below=True)
    energy = _ratio(f.energy_used_wh, f.energy_planned_wh)
    over("energy_ratio", energy, tol.energy_ratio_max, "")
    over("energy_ratio", energy, tol.energy_ratio_min, "", below=True)
    if tol.all_items_reached and f.items_reached < f.items_total:
        out.append(Breach(mission=mission, figure="items_reached", value=f.items_reached,
                          limit=f.items_total,
                          message=f"{mission}: items_reached {f.items_reached} of "
                                  f"{f.items_total}"))
    if f.final_state not in tol.final_states:
        out.append(Breach(mission=mission, figure="final_state", value=f.final_state,
                          limit=", ".join(tol.final_states),
                          message=f"{mission}: final_state {f.final_state!r}, expected "
                                  f"{' or '.join(map(repr, tol.final_states))}"))
    return out
