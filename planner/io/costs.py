"""The ``[costs]`` table of ``scenario.toml``: the prices of the cost report.

Every key is optional; a missing key takes the default of :class:`planner.cost.CostTable`::

    [costs]                                   # optional; prices in yuan
    electricity_yuan_per_kwh = 0.8
    charger_efficiency = 0.9                  # battery kWh per grid kWh, in (0, 1]
    battery_yuan_per_kwh = 1500               # pack price per kWh of capacity
    battery_cycle_life = 500                  # full cycles a pack lasts
    depreciation_yuan_per_flight_h = 25
    crew_yuan_per_h = 40                      # one turnaround_s of crew time per sortie
    road_yuan_per_parcel = 5                  # the road baseline...
    road_yuan_per_km = 2.5                    # ...or a van cost per road km (default unset)
    road_detour_factor = 1.3                  # road km per straight-line km

An unknown key, a value that is not a number, or a number out of range raises a
:class:`~planner.errors.ScenarioError` naming the file, the line and the key.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from planner.cost.table import CostTable
from planner.errors import ScenarioError
from planner.io._toml_tables import ROOT, TomlLines, Where, construct, describe, read_table, spec_of
from planner.scenario import SCENARIO_FILE

#: The table of ``scenario.toml`` read here.
COSTS_TABLE = "costs"


def read_costs(doc: Mapping[str, Any], top: Where) -> CostTable:
    """The cost table of a parsed ``scenario.toml``.

    Parameters
    ----------
    doc
        The parsed TOML document.
    top
        Where the document's top-level errors point.

    Returns
    -------
    CostTable
        The ``[costs]`` prices, defaults for the keys not given (all defaults without the table).

    Raises
    ------
    ScenarioError
        For an unknown key, a value of the wrong type or out of range, or ``costs`` not a table.
    """
    if COSTS_TABLE not in doc:
        return CostTable()
    table = doc[COSTS_TABLE]
    if not isinstance(table, dict):
        raise top.error(f"Expected a [{COSTS_TABLE}] table, got {describe(table)}", COSTS_TABLE)
    where = Where(path=top.path, lines=top.lines, table=(COSTS_TABLE, None),
                  item=f"[{COSTS_TABLE}]")
    return construct(CostTable, read_table(table, spec_of(CostTable), where), where)


def load_costs(folder: str | Path) -> CostTable:
    """The cost table of a scenario folder's ``scenario.toml``.

    Parameters
    ----------
    folder
        The scenario folder (its other files are not read).

    Returns
    -------
    CostTable
        As :func:`read_costs`.

    Raises
    ------
    ScenarioError
        When the file cannot be read or parsed, or its ``[costs]`` table is bad.
    """
    path = Path(folder) / SCENARIO_FILE
    try:
        text = path.read_text(encoding="utf-8")
        doc = tomllib.loads(text)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise ScenarioError(f"cannot read the cost table: {err}", path=path) from None
    return read_costs(doc, Where(path=path, lines=TomlLines(text), table=ROOT, item=None))
