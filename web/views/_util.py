"""Small helpers shared by the views."""

from __future__ import annotations

from typing import Any

from flask import request

from planner.errors import InputError


def json_body() -> dict[str, Any]:
    """The request's JSON object (400 when it is not one)."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InputError("Expected a JSON object body (Content-Type: application/json)")
    return body


def field(body: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    """``body[name]`` checked to be of ``kind`` (400 otherwise)."""
    value = body.get(name)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__
                                                                          for k in kind)
        raise InputError(f"Expected {expected}, got {value!r}", field=name)
    return value
