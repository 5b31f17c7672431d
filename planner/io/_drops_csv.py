"""Reading the drops CSV of a scenario.

The header names the columns, in any order: ``id``, ``lat_deg``, ``lon_deg`` and ``weight_kg``
are required; ``earliest_s``, ``latest_s`` and ``priority`` are optional, as are ``kind``
(``delivery``, the default, or ``pickup``: a parcel of ``weight_kg`` collected there and brought
to the hub) and the recipient's ``phone`` and ``email`` for notifications (an empty cell means
unset); other columns (``name``...) are ignored. Blank lines and lines whose first non-blank
character is ``#`` are skipped, before and after the header.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planner.errors import ScenarioError
from planner.io._toml_tables import blame_field, did_you_mean
from planner.scenario import DROP_KINDS, Drop

REQUIRED_COLUMNS: tuple[str, ...] = ("id", "lat_deg", "lon_deg", "weight_kg")
OPTIONAL_COLUMNS: tuple[str, ...] = ("earliest_s", "latest_s", "priority", "kind", "phone",
                                     "email")
_FIELDS = ("id", "lat_deg", "lon_deg", "weight_kg", "earliest_s", "latest_s", "priority",
           "kind", "phone", "email")
#: Most drops a drops CSV may hold.
MAX_DROPS = 10_000


def _rows(path: Path) -> list[tuple[int, list[str]]]:
    """Non-blank, non-comment rows with their 1-based starting line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ScenarioError("drops file not found", path=path) from None
    except UnicodeDecodeError as err:
        raise ScenarioError(f"Expected UTF-8 text, got undecodable byte at offset {err.start}",
                            path=path) from None
    except OSError as err:
        raise ScenarioError(f"cannot read drops file: {err.strerror}", path=path) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for row in reader:
            line, start = start, reader.line_num + 1
            if not row or all(not cell.strip() for cell in row):
                continue
            if row[0].lstrip().startswith("#"):
                continue
            rows.append((line, [cell.strip() for cell in row]))
    except csv.Error as err:
        raise ScenarioError(f"malformed CSV: {err}", path=path, line=reader.line_num) from None
    return rows


@dataclass(frozen=True, slots=True, kw_only=True)
class _Row:
    path: Path
    line: int
    drop_id: str

    def error(self, reason: str, column: str | None = None) -> ScenarioError:
        shown = self.drop_id if len(self.drop_id) <= 64 else self.drop_id[:40] + "..."
        item = f"drop {shown!r}" if self.drop_id else None
        return ScenarioError(reason, path=self.path, line=self.line, item=item, field=column)

    def number(self, text: str, column: str) -> float:
        try:
            return float(text)
        except ValueError:
            got = f"'{text}'" if text else "an empty value"
            raise self.error(f"Expected a number, got {got}", column) from None


def read_drops(path: Path) -> tuple[Drop, ...]:
    """Read and check every drop of a drops CSV.

    Parameters
    ----------
    path
        The CSV file.

    Returns
    -------
    tuple of Drop
        In file order, each with the 1-based ``line`` it came from.

    Raises
    ------
    ScenarioError
        Naming the file, the line, the drop and the column of the first bad value; also for
        missing columns, rows with the wrong number of fields, duplicate ids and a file without
        any drop.
    """
    rows = _rows(path)
    if not rows:
        raise ScenarioError("Expected a header line (id,lat_deg,lon_deg,weight_kg...) and at "
                            "least one drop, got an empty file", path=path)
    header_line, header = rows[0]
    seen_cols: set[str] = set()
    for col in header:
        if col in seen_cols:
            raise ScenarioError(f"column '{col}' appears twice in the header", path=path,
                                line=header_line, field=col)
        seen_cols.add(col)
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        extra = [c for c in header if c not in _FIELDS]
        hints = "".join(did_you_mean(m, extra) for m in missing)
        raise ScenarioError(
            f"missing required column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(repr(m) for m in missing)}{hints} (header has: {', '.join(header)}; "
            f"expected {', '.join(REQUIRED_COLUMNS)} and optionally "
            f"{', '.join(OPTIONAL_COLUMNS)})", path=path, line=header_line, field=missing[0])
    index = {col: i for i, col in enumerate(header)}
    if len(rows) == 1:
        raise ScenarioError("Expected at least one drop after the header, got none",
                            path=path, line=header_line)
    if len(rows) - 1 > MAX_DROPS:
        raise ScenarioError(f"Expected at most {MAX_DROPS} drops, got {len(rows) - 1}",
                            path=path, line=rows[MAX_DROPS + 1][0])
    drops: list[Drop] = []
    first_line: dict[str, int] = {}
    for line, row in rows[1:]:
        drop_id = row[index["id"]] if len(row) > index["id"] else ""
        at = _Row(path=path, line=line, drop_id=drop_id)
        if len(row) != len(header):
            raise at.error(f"Expected {len(header)} fields as in the header "
                           f"(line {header_line}), got {len(row)}")
        values: dict[str, Any] = {"id": drop_id, "line": line}
        for col in ("lat_deg", "lon_deg", "weight_kg"):
            values[col] = at.number(row[index[col]], col)
        for col in ("earliest_s", "latest_s"):
            if col in index and row[index[col]]:
                values[col] = at.number(row[index[col]], col)
        if "priority" in index and row[index["priority"]]:
            text = row[index["priority"]]
            try:
                values["priority"] = int(text)
            except ValueError:
                raise at.error(f"Expected an integer, got '{text}'", "priority") from None
        if "kind" in index and row[index["kind"]]:
            text = row[index["kind"]]
            if text not in DROP_KINDS:
                shown = text if len(text) <= 40 else text[:37] + "..."
                raise at.error(f"Expected kind 'delivery' or 'pickup' (or an empty cell for a "
                               f"delivery), got '{shown}'", "kind")
            values["kind"] = text
        for col in ("phone", "email"):
            if col in index and row[index[col]]:
                values[col] = row[index[col]]
        try:
            drop = Drop(**values)
        except ValueError as err:
            raise at.error(str(err), blame_field(str(err), _FIELDS)) from None
        if drop.id in first_line:
            raise at.error(f"duplicate drop id '{drop.id}': already used on line "
                           f"{first_line[drop.id]}", "id")
        first_line[drop.id] = line
        drops.append(drop)
    return tuple(drops)
