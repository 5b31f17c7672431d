"""``report.json`` and the JUnit XML file of a replay run.

``report.json`` (``"format": "dropline-replay-report"``, ``"version": 1``) holds the run's
settings, whether it passed, and per mission its source, log, figures
(:meth:`planner.flown.figures.FlownFigures.as_dict`), breaches and error. The JUnit file has one
``testsuite`` per mission and one ``testcase`` per checked figure group (:data:`CHECKS`), a
``failure`` for each breach and an ``error`` when the mission could not be flown, so that CI
systems show which mission broke which figure.
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sitl.replay.runner import MissionResult, ReplayOptions
from sitl.replay.tolerances import ToleranceSet

__all__ = ["CHECKS", "report_dict", "write_json", "write_junit"]

FORMAT = "dropline-replay-report"
VERSION = 1
#: JUnit test cases per mission and the breach figures each one covers (by prefix).
CHECKS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("cross_track", ("cross_track",)), ("agl", ("agl",)), ("incursions", ("incursion",)),
    ("drops", ("drop_error",)), ("drop_heights", ("drop_agl",)), ("duration", ("duration",)),
    ("energy", ("energy",)), ("items_reached", ("items_reached",)),
    ("final_state", ("final_state",)))


def _clean(value: Any) -> Any:
    """JSON-safe: non-finite floats become None, tuples lists, paths strings."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def mission_dict(result: MissionResult) -> dict[str, Any]:
    """One mission of ``report.json``."""
    m = result.mission
    doc: dict[str, Any] = _clean({
        "name": m.name, "source": m.source, "sortie": m.sortie.id, "passed": result.passed,
        "error": result.error, "tlog": result.tlog_path, "wall_s": round(result.wall_s, 2),
        "drops": list(m.sortie.drop_ids),
        "figures": None if result.figures is None else result.figures.as_dict(),
        "breaches": [{"figure": b.figure, "value": b.value, "limit": b.limit,
                      "message": b.message} for b in result.breaches]})
    return doc


def report_dict(results: Sequence[MissionResult], *, options: ReplayOptions,
                tolerances: ToleranceSet) -> dict[str, Any]:
    """The whole ``report.json`` document."""
    return {"format": FORMAT, "version": VERSION,
            "passed": all(r.passed for r in results),
            "backend": options.backend, "speedup": options.speedup,
            "parallel": options.parallel,
            "tolerances": None if tolerances.path is None else str(tolerances.path),
            "missions": [mission_dict(r) for r in results]}


def write_json(path: Path, results: Sequence[MissionResult], *, options: ReplayOptions,
               tolerances: ToleranceSet) -> None:
    """Write ``report.json``."""
    doc = report_dict(results, options=options, tolerances=tolerances)
    path.write_text(json.dumps(doc, indent=2, allow_nan=False) + "\n", encoding="utf-8")


def write_junit(path: Path, results: Sequence[MissionResult]) -> None:
    """Write the JUnit XML file: a suite per mission, a case per figure group."""
    root = ET.Element("testsuites", name="dropline replay")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for result in results:
        name = result.mission.name
        suite = ET.SubElement(root, "testsuite", name=name)
        counts = {"tests": 0, "failures": 0, "errors": 0}
        if result.error is not None or result.figures is None:
            case = ET.SubElement(suite, "testcase", classname=name, name="flight",
                                 time=f"{result.wall_s:.3f}")
            error = ET.SubElement(case, "error", message=result.error or "not flown")
            error.text = result.error or "not flown"
            counts["tests"] += 1
            counts["errors"] += 1
        else:
            for check, prefixes in CHECKS:
                case = ET.SubElement(suite, "testcase", classname=name, name=check, time="0")
                counts["tests"] += 1
                broken = [b for b in result.breaches if b.figure.startswith(prefixes)]
                if broken:
                    counts["failures"] += 1
                    failure = ET.SubElement(case, "failure", message=broken[0].message)
                    failure.text = "\n".join(b.message for b in broken)
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
        suite.set("time", f"{result.wall_s:.3f}")
    for key, value in totals.items():
        root.set(key, str(value))
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
