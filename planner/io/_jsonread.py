"""Type-checked reading of a JSON document, each error naming the file and the JSON path.

A JSON path is written ``mission.items[3].params``: keys joined by dots, array indices in
brackets. Every failure raises :class:`~planner.errors.PlanFileError` with ``field`` set to
that path and a reason that says what was expected and what was found.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import NoReturn

from planner.errors import PlanFileError


def join(where: str, key: str | int) -> str:
    """The JSON path of ``key`` (an object key or an array index) inside ``where``."""
    if isinstance(key, int):
        return f"{where}[{key}]"
    return f"{where}.{key}" if where else key


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON (write null)")


class JsonDoc:
    """Reads one JSON file and checks values, raising errors that name ``path`` and the field.

    Parameters
    ----------
    path
        The file being read; every error carries it.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def fail(self, where: str, reason: str) -> NoReturn:
        """Raise a :class:`PlanFileError` for the value at JSON path ``where``."""
        raise PlanFileError(reason, path=self.path, field=where or None)

    def load(self) -> object:
        """Parse the file; unreadable files and syntax errors name the line and column."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PlanFileError(f"cannot read the file: {exc}", path=self.path) from exc
        try:
            return json.loads(text, parse_constant=_reject_constant)
        except json.JSONDecodeError as exc:
            raise PlanFileError(f"not valid JSON: {exc.msg} at column {exc.colno}",
                                path=self.path, line=exc.lineno) from exc
        except ValueError as exc:
            raise PlanFileError(f"not valid JSON: {exc}", path=self.path) from exc

    def obj(self, value: object, where: str) -> dict[str, object]:
        """``value`` as a JSON object."""
        if not isinstance(value, dict):
            self.fail(where, f"expected an object, got {_kind(value)}")
        return value

    def key(self, obj: dict[str, object], name: str, where: str) -> object:
        """The member ``name`` of ``obj`` (at ``where``), which must be present."""
        if name not in obj:
            self.fail(join(where, name), "missing key")
        return obj[name]

    def array(self, value: object, where: str, length: int | None = None) -> list[object]:
        """``value`` as a JSON array, of exactly ``length`` elements when given."""
        if not isinstance(value, list):
            self.fail(where, f"expected an array, got {_kind(value)}")
        if length is not None and len(value) != length:
            self.fail(where, f"expected an array of {length} values, got {len(value)}")
        return value

    def number(self, value: object, where: str, *, null: float | None = None) -> float:
        """``value`` as a finite float; ``null`` gives ``null`` when that is not None."""
        if value is None and null is not None:
            return null
        if not isinstance(value, int | float) or isinstance(value, bool):
            allowed = "a number or null" if null is not None else "a number"
            self.fail(where, f"expected {allowed}, got {_kind(value)}")
        number = float(value)
        if not math.isfinite(number):
            self.fail(where, f"expected a finite number, got {value!r}")
        return number

    def integer(self, value: object, where: str) -> int:
        """``value`` as an int (a JSON number without a fractional part)."""
        number = self.number(value, where)
        if number != int(number):
            self.fail(where, f"expected an integer, got {value!r}")
        return int(number)

    def boolean(self, value: object, where: str) -> bool:
        """``value`` as a bool (JSON true or false)."""
        if not isinstance(value, bool):
            self.fail(where, f"expected true or false, got {_kind(value)}")
        return value

    def string(self, value: object, where: str) -> str:
        """``value`` as a str."""
        if not isinstance(value, str):
            self.fail(where, f"expected a string, got {_kind(value)}")
        return value
