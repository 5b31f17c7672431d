"""Helpers of the scenario loader: TOML line lookup and typed reading of tables into dataclasses.

:mod:`tomllib` returns plain dicts without positions. :class:`TomlLines` recovers, from the raw
text, the line of each ``[table]`` / ``[[array]]`` header and of each ``key =`` inside it, which is
enough to point an error at the right line of a hand-written scenario file.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from planner.errors import ScenarioError

T = TypeVar("T")

_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+|\"[^\"]*\"|'[^']*')\s*[=.]")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# A table is named by its dotted name and, for arrays of tables, its 0-based position.
TableKey = tuple[str, int | None]
ROOT: TableKey = ("", None)


class TomlLines:
    """1-based line numbers of table headers and keys in a TOML text.

    Parameters
    ----------
    text
        The TOML document. Multi-line strings and arrays are not parsed; a line inside them that
        looks like ``key =`` may be taken for a key, which only affects error positions.
    """

    def __init__(self, text: str) -> None:
        self._headers: dict[TableKey, int] = {}
        self._keys: dict[tuple[TableKey, str], int] = {}
        counts: dict[str, int] = {}
        current: TableKey = ROOT
        for number, raw in enumerate(text.splitlines(), start=1):
            header = _HEADER.match(raw)
            if header is not None:
                name = header.group(2).replace(" ", "").replace('"', "").replace("'", "")
                if header.group(1) == "[[":
                    position = counts.get(name, 0)
                    counts[name] = position + 1
                    current = (name, position)
                else:
                    current = (name, None)
                self._headers.setdefault(current, number)
                continue
            key = _KEY.match(raw)
            if key is not None:
                self._keys.setdefault((current, key.group(1).strip("\"'")), number)

    def line(self, table: TableKey, key: str | None = None) -> int | None:
        """Line of ``key`` in ``table`` (or of the table header when the key is not found)."""
        if key is not None:
            found = self._keys.get((table, key))
            if found is None and table == ROOT:  # a top-level key written as [key] or [[key]]
                found = self._headers.get((key, None), self._headers.get((key, 0)))
            if found is not None:
                return found
        header = self._headers.get(table)
        if header is None and table[1] is None and table != ROOT:
            return self._keys.get((ROOT, table[0]))
        return header


@dataclass(frozen=True, slots=True, kw_only=True)
class Where:
    """A table of a TOML file: where its errors point."""

    path: Path
    lines: TomlLines
    table: TableKey
    item: str | None

    def error(self, reason: str, key: str | None = None) -> ScenarioError:
        """A :class:`ScenarioError` at ``key`` of this table."""
        return ScenarioError(reason, path=self.path, line=self.lines.line(self.table, key),
                             item=self.item, field=key)

    def line(self, key: str | None = None) -> int | None:
        """Line of ``key`` (or of the table header)."""
        return self.lines.line(self.table, key)


@dataclass(frozen=True, slots=True, kw_only=True)
class Spec:
    """The keys a table accepts: their kind (``number``, ``integer``, ``string``, ``any``)."""

    kinds: Mapping[str, str]
    required: frozenset[str] = field(default_factory=frozenset)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` when a choice is close to ``word``, else ``""``."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def describe(value: object) -> str:
    """A short description of a TOML value for error messages."""
    kind = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array",
            dict: "table"}.get(type(value), type(value).__name__)
    shown = repr(value)
    if len(shown) > 40:
        shown = shown[:37] + "..."
    return f"{kind} {shown}"


def kind_of(annotation: object) -> str:
    """The value kind of a dataclass field annotation (a string under postponed evaluation)."""
    text = str(annotation).replace(" ", "")
    base = text.removesuffix("|None")
    if base == "float":
        return "number"
    if base == "int":
        return "integer"
    if base in ("str", "DropMethod", "AltitudeFrame"):
        return "string"
    return "any"


def spec_of(cls: type[Any], *, exclude: Iterable[str] = ()) -> Spec:
    """The table spec of a dataclass: its init fields, required when they have no default."""
    skip = {"line", "feature_index", *exclude}
    kinds: dict[str, str] = {}
    required: set[str] = set()
    for f in dataclasses.fields(cls):
        if not f.init or f.name in skip:
            continue
        kinds[f.name] = kind_of(f.type)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            required.add(f.name)
    return Spec(kinds=kinds, required=frozenset(required))


def check_value(value: object, kind: str, where: Where, key: str) -> object:
    """Check a value's TOML type against ``kind``; numbers come back as float."""
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise where.error(f"Expected a number, got {describe(value)}", key)
        return float(value)
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise where.error(f"Expected an integer, got {describe(value)}", key)
        return value
    if kind == "string" and not isinstance(value, str):
        raise where.error(f"Expected a string, got {describe(value)}", key)
    return value


def read_table(table: Mapping[str, Any], spec: Spec, where: Where) -> dict[str, object]:
    """Check a table's keys (unknown, missing) and value types; return the converted values."""
    name = where.item or "the top level"
    for key in table:
        if key not in spec.kinds:
            expected = ", ".join(sorted(spec.kinds))
            raise where.error(f"unknown key '{key}' in {name}{did_you_mean(key, spec.kinds)} "
                              f"(expected one of: {expected})", key)
    for key in sorted(spec.required):
        if key not in table:
            raise where.error(f"missing required key '{key}' in {name}", key)
    return {key: check_value(value, spec.kinds[key], where, key) for key, value in table.items()}


def blame_field(message: str, names: Iterable[str]) -> str | None:
    """The first field name mentioned in a dataclass ``ValueError`` message, if any."""
    known = set(names)
    words: list[str] = _WORD.findall(message)
    return next((word for word in words if word in known), None)


def construct(cls: type[T], kwargs: Mapping[str, Any], where: Where,
              key_of: Mapping[str, str] | None = None) -> T:
    """Build ``cls(**kwargs)``; a ``ValueError`` becomes a :class:`ScenarioError` at its field.

    ``key_of`` maps field names to the TOML key they were read from when the two differ.
    """
    try:
        return cls(**kwargs)
    except ValueError as err:
        names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
        blamed = blame_field(str(err), names)
        key = None if blamed is None else (key_of or {}).get(blamed, blamed)
        raise where.error(str(err), key) from None
