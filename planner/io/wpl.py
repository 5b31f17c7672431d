"""Mission Planner ``.waypoints`` files (the ``QGC WPL 110`` text format).

The first line is ``QGC WPL 110``; then one line per mission item, item 0 being home, with 12
tab-separated columns::

    seq  current  frame  command  param1  param2  param3  param4  lat  lon  alt  autocontinue

The writer formats numbers as Mission Planner's ``FlightPlanner.savewaypoints`` does for its
items (params, latitude and longitude with 8 decimals, altitude with 6) and marks item 0 as the
current one; unlike Mission Planner it keeps 8 decimals on the home line too, so that a round
trip moves nothing by more than 5e-9 degrees. NaN params are written ``NaN``.

The reader accepts tabs or spaces between columns, CRLF line ends, blank lines and header
suffixes such as ``QGC WPL 110 REL``. Every malformed line raises
:class:`~planner.errors.PlanFileError` naming the file, the line number, the column and why.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from planner.errors import PlanFileError
from planner.io._atomic import write_text_atomic
from planner.items import MissionItem, MissionType

__all__ = ["COLUMNS", "HEADER", "format_wpl", "read_wpl", "write_wpl"]

HEADER = "QGC WPL 110"
COLUMNS: tuple[str, ...] = ("seq", "current", "frame", "command", "param1", "param2", "param3",
                            "param4", "lat", "lon", "alt", "autocontinue")


def _fixed(value: float, decimals: int) -> str:
    return "NaN" if math.isnan(value) else f"{value:.{decimals}f}"


def format_wpl(items: Sequence[MissionItem]) -> str:
    """The text of a ``.waypoints`` file holding ``items`` (item 0 is home).

    Parameters
    ----------
    items
        Mission items, home first.

    Returns
    -------
    str
        The file text, ``\\n`` line ends, one line per item after the header.

    Examples
    --------
    >>> from planner.items import MissionItem
    >>> home = MissionItem(command=16, frame=0, lat_deg=44.27, lon_deg=-71.3, alt_m=480.0)
    >>> columns = format_wpl([home]).splitlines()[1].split()
    >>> columns[:4], columns[8:]
    (['0', '1', '0', '16'], ['44.27000000', '-71.30000000', '480.000000', '1'])
    """
    lines = [HEADER]
    for seq, item in enumerate(items):
        fields = [str(seq), "1" if seq == 0 else "0", str(int(item.frame)), str(int(item.command)),
                  *(_fixed(p, 8) for p in item.params), _fixed(item.lat_deg, 8),
                  _fixed(item.lon_deg, 8), _fixed(item.alt_m, 6),
                  "1" if item.autocontinue else "0"]
        lines.append("\t".join(fields))
    return "\n".join(lines) + "\n"


def write_wpl(path: str | Path, items: Sequence[MissionItem]) -> None:
    """Write a Mission Planner ``.waypoints`` file atomically; see :func:`format_wpl`.

    Parameters
    ----------
    path
        The file to create or replace.
    items
        Mission items, home first.
    """
    write_text_atomic(path, format_wpl(items))


class _Line:
    """One line being parsed: raises errors that name the file, the line and the column."""

    def __init__(self, path: Path, number: int, columns: list[str]) -> None:
        self.path, self.number, self.columns = path, number, columns

    def fail(self, column: int, reason: str) -> PlanFileError:
        return PlanFileError(reason, path=self.path, line=self.number, field=COLUMNS[column])

    def number_at(self, column: int) -> float:
        text = self.columns[column]
        try:
            return float(text)
        except ValueError:
            raise self.fail(column, f"expected a number, got {text!r}") from None

    def finite_at(self, column: int) -> float:
        value = self.number_at(column)
        if not math.isfinite(value):
            raise self.fail(column, f"expected a finite number, got {self.columns[column]!r}")
        return value

    def int_at(self, column: int, allowed: tuple[int, ...] | None = None) -> int:
        value = self.finite_at(column)
        if value != int(value) or value < 0:
            raise self.fail(column, f"expected a whole number >= 0, got {self.columns[column]!r}")
        if allowed is not None and int(value) not in allowed:
            raise self.fail(column, f"expected one of {allowed}, got {self.columns[column]!r}")
        return int(value)


def _parse_item(line: _Line, expected_seq: int) -> MissionItem:
    seq = line.int_at(0)
    if seq != expected_seq:
        raise line.fail(0, f"expected seq {expected_seq} (items numbered from 0 in file order), "
                           f"got {seq}")
    line.int_at(1, allowed=(0, 1))
    lat, lon = line.finite_at(8), line.finite_at(9)
    if not -90 <= lat <= 90:
        raise line.fail(8, f"latitude out of range: expected -90 to 90 degrees, got {lat}")
    if not -180 <= lon <= 180:
        raise line.fail(9, f"longitude out of range: expected -180 to 180 degrees, got {lon}")
    return MissionItem(command=line.int_at(3), frame=line.int_at(2),
                       param1=line.number_at(4), param2=line.number_at(5),
                       param3=line.number_at(6), param4=line.number_at(7),
                       lat_deg=lat, lon_deg=lon, alt_m=line.finite_at(10),
                       autocontinue=line.int_at(11, allowed=(0, 1)) == 1,
                       mission_type=MissionType.MISSION)


def read_wpl(path: str | Path) -> tuple[MissionItem, ...]:
    """Read a Mission Planner ``.waypoints`` file.

    Parameters
    ----------
    path
        The file, ``QGC WPL 110`` format.

    Returns
    -------
    tuple of MissionItem
        The items in file order, home first.

    Raises
    ------
    PlanFileError
        For a bad header, a line without 12 columns, a value that is not a number, a
        latitude/longitude out of range, a flag other than 0/1 or an out-of-order ``seq``.
    """
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanFileError(f"cannot read the file: {exc}", path=source) from exc
    lines = text.splitlines()
    header = lines[0].split() if lines else []
    if header[:3] != HEADER.split():
        got = lines[0] if lines else "an empty file"
        raise PlanFileError(f"expected the first line to be {HEADER!r}, got {got!r}",
                            path=source, line=1, field="header")
    items: list[MissionItem] = []
    for number, raw in enumerate(lines[1:], start=2):
        columns = raw.split()
        if not columns:
            continue
        line = _Line(source, number, columns)
        if len(columns) != len(COLUMNS):
            raise PlanFileError(
                f"expected {len(COLUMNS)} tab-separated columns ({', '.join(COLUMNS)}), "
                f"got {len(columns)}", path=source, line=number,
                field=COLUMNS[min(len(columns), len(COLUMNS) - 1)])
        items.append(_parse_item(line, len(items)))
    return tuple(items)
