"""Reading the fields of a JSON payload with errors that name the field and what was wanted."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from gcs.bus.errors import MalformedMessage

#: Longest payload read (bytes); anything longer is refused unread.
MAX_PAYLOAD_BYTES = 16_384


def load_object(topic: str, payload: bytes,
                max_bytes: int = MAX_PAYLOAD_BYTES) -> dict[str, Any]:
    """The JSON object of ``payload`` (at most ``max_bytes`` long).

    Raises
    ------
    MalformedMessage
        Too long, not UTF-8 JSON, or not an object.
    """
    if len(payload) > max_bytes:
        raise MalformedMessage(topic, f"expected at most {max_bytes} bytes, got "
                                      f"{len(payload)}")
    try:
        data = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedMessage(topic, f"not UTF-8 JSON ({exc})") from None
    if not isinstance(data, dict):
        raise MalformedMessage(topic, f"expected a JSON object, got {type(data).__name__}")
    return data


def dump(data: Mapping[str, Any]) -> bytes:
    """Compact JSON bytes of ``data``."""
    return json.dumps(data, separators=(",", ":"), allow_nan=False).encode("utf-8")


class Reader:
    """Typed access to the fields of one payload, raising :class:`MalformedMessage`."""

    def __init__(self, topic: str, data: Mapping[str, Any]) -> None:
        self.topic = topic
        self.data = data

    def fail(self, name: str, expected: str) -> MalformedMessage:
        """The error for field ``name``, which is not ``expected``."""
        got = self.data.get(name, "nothing")
        return MalformedMessage(self.topic, f"field {name!r}: expected {expected}, got "
                                            f"{got!r}"[:300])

    def text(self, name: str, *, max_len: int = 200, optional: bool = False) -> Any:
        """A string field of 1..``max_len`` characters (None when ``optional`` and absent)."""
        value = self.data.get(name)
        if value is None and optional:
            return None
        if not isinstance(value, str) or not 0 < len(value) <= max_len:
            raise self.fail(name, f"text of 1 to {max_len} characters")
        return value

    def number(self, name: str, *, optional: bool = False) -> Any:
        """A finite number field."""
        value = self.data.get(name)
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not math.isfinite(value):
            raise self.fail(name, "a finite number")
        return float(value)

    def integer(self, name: str, *, low: int = 0, high: int = 2**53) -> int:
        """An integer field within ``low..high``."""
        value = self.data.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(name, f"an integer {low}..{high}")
        return value

    def flag(self, name: str) -> bool:
        """A boolean field."""
        value = self.data.get(name)
        if not isinstance(value, bool):
            raise self.fail(name, "true or false")
        return value

    def choice(self, name: str, choices: tuple[str, ...]) -> str:
        """A field holding one of ``choices``."""
        value = self.data.get(name)
        if value not in choices:
            raise self.fail(name, f"one of {', '.join(choices)}")
        return str(value)
