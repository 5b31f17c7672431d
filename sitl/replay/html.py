"""``report.html``: a page a person opens to see every mission, its figures and its plots.

The plots are PNG files in ``plots/`` beside the page (see :mod:`sitl.replay.plots`); the page
needs nothing else (no script, no network).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

from planner.flown.figures import FlownFigures
from planner.scenario import NoFlyZone
from planner.terrain import Dem
from sitl.replay.plots import plot_mission
from sitl.replay.runner import MissionResult, ReplayOptions
from sitl.replay.tolerances import ToleranceSet

__all__ = ["write_html"]

_STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
td, th { border: 1px solid #bbb; padding: 0.25em 0.6em; text-align: right; }
th { background: #eee; } td.l, th.l { text-align: left; }
.pass { color: #176117; font-weight: bold; } .fail { color: #a11; font-weight: bold; }
section { border-top: 2px solid #ccc; margin-top: 2em; } img { max-width: 100%; }
"""


def _num(value: float | None, digits: int = 1) -> str:
    return "&ndash;" if value is None else f"{value:.{digits}f}"


def _rows(f: FlownFigures) -> list[tuple[str, str, str]]:
    """(figure, flown, planned) rows of one mission's table."""
    drops = ", ".join(f"{html.escape(k)}: {_num(v, 2)}" for k, v in f.drop_errors_m.items())
    grabs = ", ".join(f"{html.escape(k)}: {_num(v, 2)}" for k, v in f.grab_errors_m.items())
    lows = ", ".join(f"{html.escape(k)}: {_num(v)}" for k, v in f.drop_agl_min_m.items())
    planned_lows = ", ".join(f"{html.escape(k)}: {_num(v)}"
                             for k, v in f.drop_agl_planned_m.items())
    return [
        ("cross-track max / p95 (m)", f"{_num(f.cross_track_max_m)} / {_num(f.cross_track_p95_m)}",
         "0"),
        (f"AGL min / max (m, above {f.agl_reference})",
         f"{_num(f.agl_min_m)} / {_num(f.agl_max_m)}",
         f"{_num(f.agl_min_planned_m)} / {_num(f.agl_max_planned_m)}"),
        ("incursions", html.escape("; ".join(f"{i.name} at {i.t_s:.0f} s, {i.depth_m:.1f} m"
                                             for i in f.incursions) or "none"), "none"),
        ("drop errors (m)", drops or "no drops", "0"),
        *([("pickup grab errors (m)", grabs, "0")] if grabs else []),
        (f"drop phase AGL min (m, above {f.agl_reference})", lows or "no drops",
         planned_lows or "no drops"),
        ("duration (s)", _num(f.duration_flown_s), _num(f.duration_planned_s)),
        ("energy (Wh)", _num(f.energy_used_wh), _num(f.energy_planned_wh)),
        ("items reached", f"{f.items_reached} of {f.items_total}", str(f.items_total)),
        ("final state", html.escape(f"{f.final_state} ({f.final_mode})"), "completed"),
    ]


def _section(result: MissionResult, plots: Sequence[Path], root: Path) -> str:
    m = result.mission
    verdict = '<span class="pass">PASS</span>' if result.passed else \
        '<span class="fail">FAIL</span>'
    parts = [f'<section id="{html.escape(m.name)}"><h2>{html.escape(m.name)} {verdict}</h2>',
             f"<p>source {html.escape(str(m.source))}, drops "
             f"{html.escape(', '.join(m.sortie.drop_ids) or 'none')}, flown in "
             f"{result.wall_s:.1f} s wall time"
             + (f", log <code>{html.escape(str(result.tlog_path))}</code>"
                if result.tlog_path else "") + "</p>"]
    if result.error is not None:
        parts.append(f'<p class="fail">not flown: {html.escape(result.error)}</p>')
    if result.figures is not None:
        parts.append('<table><tr><th class="l">figure</th><th>flown</th><th>planned</th></tr>')
        parts += [f'<tr><td class="l">{a}</td><td>{b}</td><td>{c}</td></tr>'
                  for a, b, c in _rows(result.figures)]
        parts.append("</table>")
    if result.breaches:
        parts.append("<ul>" + "".join(f'<li class="fail">{html.escape(b.message)}</li>'
                                      for b in result.breaches) + "</ul>")
    parts += [f'<p><img src="{html.escape(p.relative_to(root).as_posix())}" '
              f'alt="{html.escape(p.stem)}"></p>' for p in plots]
    parts.append("</section>")
    return "\n".join(parts)


def write_html(path: Path, results: Sequence[MissionResult], *, options: ReplayOptions,
               tolerances: ToleranceSet, dem: Dem | None,
               zones: Sequence[NoFlyZone]) -> list[Path]:
    """Write ``report.html`` and its plots (in ``plots/`` beside it); returns the plot paths."""
    root = path.parent
    passed = sum(r.passed for r in results)
    all_plots: list[Path] = []
    sections = []
    summary = ['<table><tr><th class="l">mission</th><th>result</th><th>cross-track max (m)'
               '</th><th>AGL min (m)</th><th>incursions</th><th>worst drop error (m)</th>'
               '<th>energy used / planned (Wh)</th><th>final state</th></tr>']
    for r in results:
        tol = tolerances.for_mission(r.mission.name)
        plots = plot_mission(r, root / "plots", dem=dem, zones=zones,
                             drop_tolerance_m=tol.drop_error_m)
        all_plots += plots
        sections.append(_section(r, plots, root))
        f = r.figures
        cls, word = ("pass", "PASS") if r.passed else ("fail", "FAIL")
        if f is None:
            cells = f'<td colspan="6" class="l">{html.escape(r.error or "not flown")}</td>'
        else:
            errors = [e for e in f.drop_errors_m.values() if e is not None]
            cells = (f"<td>{_num(f.cross_track_max_m)}</td><td>{_num(f.agl_min_m)}</td>"
                     f"<td>{len(f.incursions)}</td><td>{_num(max(errors) if errors else None, 2)}"
                     f"</td><td>{_num(f.energy_used_wh)} / {_num(f.energy_planned_wh)}</td>"
                     f"<td>{html.escape(f.final_state)}</td>")
        summary.append(f'<tr><td class="l"><a href="#{html.escape(r.mission.name)}">'
                       f'{html.escape(r.mission.name)}</a></td><td class="{cls}">{word}</td>'
                       f"{cells}</tr>")
    summary.append("</table>")
    tol_text = str(tolerances.path) if tolerances.path else "built-in defaults"
    page = [f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>dropline replay: "
            f"{passed} of {len(results)} passed</title><style>{_STYLE}</style></head><body>",
            f"<h1>dropline replay: {passed} of {len(results)} missions passed</h1>",
            f"<p>backend {html.escape(options.backend)}, speedup {options.speedup:g}, "
            f"tolerances {html.escape(tol_text)}</p>", *summary, *sections, "</body></html>"]
    path.write_text("\n".join(page) + "\n", encoding="utf-8")
    return all_plots
