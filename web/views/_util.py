"""Small helpers shared by the views."""

from __future__ import annotations

import json
from typing import Any

from flask import request

from planner.errors import InputError

#: Deepest nesting of arrays and objects a JSON body may have.
MAX_JSON_DEPTH = 32
#: Largest JSON body in bytes (files come as uploads, not JSON).
MAX_JSON_BYTES = 4 * 1024 * 1024


def json_depth(value: Any) -> int:
    """How deeply arrays and objects nest in ``value`` (0 for a scalar), without recursion.

    Raises
    ------
    InputError
        A string or key that is not valid Unicode (a lone surrogate such as ``"\\ud800"``).
    """
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            stack.extend((key, depth) for key in item)
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, depth + 1)
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str) and not item.isascii():
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise InputError("Expected valid Unicode text, got a lone surrogate "
                                 "escape") from None
    return deepest


def parse_json(data: bytes) -> Any:
    """A JSON document, bounded in size and depth.

    Raises
    ------
    InputError
        Not UTF-8 JSON, larger than :data:`MAX_JSON_BYTES` or nested deeper than
        :data:`MAX_JSON_DEPTH`.
    """
    if len(data) > MAX_JSON_BYTES:
        raise InputError(f"Expected a JSON body of at most {MAX_JSON_BYTES} bytes, got "
                         f"{len(data)}")
    try:
        value = json.loads(data)
    except RecursionError:
        raise InputError(f"Expected JSON nested at most {MAX_JSON_DEPTH} deep") from None
    except ValueError as exc:
        raise InputError(f"Expected a JSON body: {exc}") from None
    if json_depth(value) > MAX_JSON_DEPTH:
        raise InputError(f"Expected JSON nested at most {MAX_JSON_DEPTH} deep")
    return value


def json_body() -> dict[str, Any]:
    """The request's JSON object (400 when it is not one, too large or too deeply nested)."""
    if not request.is_json:
        raise InputError("Expected a JSON object body (Content-Type: application/json)")
    body = parse_json(request.get_data(cache=True))
    if not isinstance(body, dict):
        raise InputError("Expected a JSON object body (Content-Type: application/json)")
    return body


def field(body: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    """``body[name]`` checked to be of ``kind`` (400 otherwise)."""
    value = body.get(name)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__
                                                                          for k in kind)
        shown = repr(value)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        raise InputError(f"Expected {expected}, got {shown}", field=name)
    return value
