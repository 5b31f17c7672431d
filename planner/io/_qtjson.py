"""JSON text laid out the way Qt's ``QJsonDocument::toJson(QJsonDocument::Indented)`` lays it out.

QGroundControl saves plans through Qt, which sorts object keys, indents by four spaces, puts
every array element on its own line, writes an empty array as ``[`` newline ``]``, writes
doubles with an integral value without a fraction (``50``, not ``50.0``), other doubles in the
shortest form that reads back exactly, and non-finite doubles as ``null``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence

_INDENT = "    "


def dumps_qt(value: object) -> str:
    """Serialise ``value`` (dicts, lists, tuples, str, bool, int, float, None) like Qt does.

    Examples
    --------
    >>> print(dumps_qt({"b": [1.0, 0.5, float("nan")], "a": []}), end="")
    {
        "a": [
        ],
        "b": [
            1,
            0.5,
            null
        ]
    }
    """
    return _emit(value, 0) + "\n"


def _number(value: float) -> str:
    if not math.isfinite(value):
        return "null"
    if value == int(value) and abs(value) < 2.0**64:
        return str(int(value))
    return repr(value)


def _emit(value: object, level: int) -> str:
    inner = _INDENT * (level + 1)
    outer = _INDENT * level
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        body = ",\n".join(f"{inner}{json.dumps(str(key), ensure_ascii=False)}: "
                          f"{_emit(value[key], level + 1)}" for key in sorted(value))
        return f"{{\n{body}\n{outer}}}" if body else f"{{\n{outer}}}"
    if isinstance(value, Sequence):
        body = ",\n".join(f"{inner}{_emit(element, level + 1)}" for element in value)
        return f"[\n{body}\n{outer}]" if body else f"[\n{outer}]"
    raise TypeError(f"Expected a JSON value, got {type(value).__name__}")
