"""The report's plots of one flown mission (matplotlib, PNG files, no display needed).

- ``*_track.png``: the planned and flown tracks on a map with the no-fly zones and releases,
  and the altitude profile along the flown track over the terrain under it;
- ``*_battery.png``: energy drawn against time from arming, flown and predicted (the
  verifier's prediction at the moment each item was done, and the plan's total at its
  duration);
- ``*_drops.png``: each drop's release error against the tolerance.

Figures are built with :class:`matplotlib.figure.Figure` and its Agg canvas, never pyplot, so
that nothing global is touched and no window opens.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from planner.flown.figures import FlownSample, PlannedTrack, planned_track
from planner.scenario import NoFlyZone
from planner.terrain import Dem
from sitl.replay.runner import MissionResult, safe_name

__all__ = ["plot_mission"]

_DPI = 90


def _flight(samples: Sequence[FlownSample]) -> list[FlownSample]:
    armed = [k for k, s in enumerate(samples) if s.armed]
    return list(samples[armed[0]:armed[-1] + 1]) if armed else list(samples)


def _along_km(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    steps = np.hypot(np.diff(x), np.diff(y))
    return np.concatenate([[0.0], np.cumsum(steps)]) / 1000.0


def _track_plot(path: Path, track: PlannedTrack, flight: list[FlownSample], dem: Dem | None,
                zones: Sequence[NoFlyZone], releases: Sequence[tuple[float, float]]) -> None:
    fig = Figure(figsize=(11, 4.5), dpi=_DPI)
    ax_map, ax_prof = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.6]})
    proj = track.projection
    lon = np.array([s.lon_deg for s in flight])
    lat = np.array([s.lat_deg for s in flight])
    alt = np.array([s.alt_amsl_m for s in flight])
    x, y = proj.to_xy(lon, lat)
    for zone in zones:
        for rings in zone.polygons:
            zx, zy = proj.to_xy([p[0] for p in rings[0]], [p[1] for p in rings[0]])
            ax_map.fill(zx / 1000, zy / 1000, color="tab:red", alpha=0.25)
    ax_map.plot(track.x_m / 1000, track.y_m / 1000, "--", color="tab:blue", label="planned")
    ax_map.plot(x / 1000, y / 1000, color="tab:orange", lw=1, label="flown")
    if releases:
        rx, ry = proj.to_xy([r[1] for r in releases], [r[0] for r in releases])
        ax_map.plot(rx / 1000, ry / 1000, "v", color="black", label="releases")
    ax_map.set_aspect("equal", adjustable="datalim")
    ax_map.set_xlabel("east of home (km)")
    ax_map.set_ylabel("north of home (km)")
    ax_map.legend(loc="best", fontsize=8)
    ax_map.set_title("map (no-fly zones in red)")
    dist = _along_km(x, y)
    if dem is not None:
        ground = np.asarray(dem.elevation_amsl_m(lon, lat), dtype=float)
        ax_prof.fill_between(dist, np.nanmin(ground) - 20, ground, color="tab:brown", alpha=0.35,
                             label="terrain under the flown track")
    planned = np.isfinite(track.alt_amsl_m)
    if planned.any():
        pd = _along_km(track.x_m, track.y_m)
        ax_prof.plot(pd[planned], track.alt_amsl_m[planned], "--", color="tab:blue",
                     label="planned")
    ax_prof.plot(dist, alt, color="tab:orange", lw=1, label="flown")
    ax_prof.set_xlabel("distance along the track (km)")
    ax_prof.set_ylabel("altitude AMSL (m)")
    ax_prof.legend(loc="best", fontsize=8)
    ax_prof.set_title("altitude profile")
    fig.tight_layout()
    fig.savefig(path)


def _battery_plot(path: Path, result: MissionResult, flight: list[FlownSample]) -> None:
    fig = Figure(figsize=(8, 4), dpi=_DPI)
    ax = fig.subplots()
    t0 = flight[0].t_s
    used = [(s.t_s, s.battery_used_wh) for s in flight if s.battery_used_wh is not None]
    if used:
        base = used[0][1]
        ax.plot([(t - t0) / 60 for t, _ in used], [w - base for _, w in used],
                color="tab:orange", label="drawn (flown)")
    steps = result.mission.energy_steps
    if steps:
        done_at = _item_done_times(flight, [k for k, _ in steps])
        pts = [((done_at[k] - t0) / 60, wh) for k, wh in steps if k in done_at]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], "o--", ms=3, color="tab:blue",
                    label="predicted when each item was done")
    m = result.mission
    if m.energy_planned_wh is not None and m.duration_planned_s:
        ax.plot([0, m.duration_planned_s / 60], [0, m.energy_planned_wh], ":", color="tab:green",
                label="plan: total energy over the planned duration")
    ax.set_xlabel("time from arming (min)")
    ax.set_ylabel("energy drawn (Wh)")
    ax.set_title("battery: predicted vs actual")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)


def _item_done_times(flight: list[FlownSample], items: Sequence[int]) -> dict[int, float]:
    """When each item was done: the first sample flying a later item (the end for the last)."""
    out: dict[int, float] = {}
    for k in items:
        later = next((s.t_s for s in flight if s.mission_seq is not None and s.mission_seq > k),
                     None)
        out[k] = later if later is not None else flight[-1].t_s
    return out


def _drops_plot(path: Path, result: MissionResult, tolerance_m: float) -> None:
    assert result.figures is not None
    errors = result.figures.drop_errors_m
    fig = Figure(figsize=(max(4.0, 1.0 + 0.8 * len(errors)), 3.5), dpi=_DPI)
    ax = fig.subplots()
    names = list(errors)
    values = [e if e is not None else 0.0 for e in errors.values()]
    colours = ["tab:red" if v is None or v > tolerance_m else "tab:green"
               for v in errors.values()]
    ax.bar(range(len(names)), values, color=colours)
    for k, n in enumerate(names):
        if errors[n] is None:
            ax.text(k, tolerance_m * 0.1, "not released", rotation=90, ha="center", fontsize=8)
    ax.axhline(tolerance_m, color="black", ls="--", lw=1)
    ax.set_xticks(range(len(names)), names, rotation=30, fontsize=8)
    ax.set_ylabel("release error (m)")
    ax.set_title(f"drop release errors (limit {tolerance_m:g} m)")
    fig.tight_layout()
    fig.savefig(path)


def plot_mission(result: MissionResult, folder: Path, *, dem: Dem | None,
                 zones: Sequence[NoFlyZone], drop_tolerance_m: float) -> list[Path]:
    """Write the plots of one mission into ``folder``; returns their paths (none if not flown)."""
    if result.flight is None or result.figures is None:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    stem = safe_name(result.mission.name)
    flight = _flight(result.flight.samples)
    track = planned_track(result.mission.sortie.mission, dem)
    releases = [(r.lat_deg, r.lon_deg) for r in result.flight.releases]
    out = [folder / f"{stem}_track.png", folder / f"{stem}_battery.png"]
    _track_plot(out[0], track, flight, dem, zones, releases)
    _battery_plot(out[1], result, flight)
    if result.figures.drop_errors_m:
        out.append(folder / f"{stem}_drops.png")
        _drops_plot(out[-1], result, drop_tolerance_m)
    return out
