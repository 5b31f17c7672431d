"""Pickling of frozen dataclasses that hold read-only mappings (private).

``types.MappingProxyType`` cannot be pickled; such classes rebuild through their constructor,
which validates the values again and wraps the mappings again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from types import MappingProxyType
from typing import Any


def reduce_frozen(obj: Any) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    """``__reduce__`` of a frozen keyword-only dataclass: its constructor and field values."""
    values = {f.name: dict(v) if isinstance(v, MappingProxyType) else v
              for f in fields(obj) if f.init for v in (getattr(obj, f.name),)}
    return _rebuild, (type(obj), values)


def _rebuild(cls: type[Any], values: dict[str, Any]) -> Any:
    """The instance of ``cls`` with ``values`` (keyword arguments of its constructor)."""
    return cls(**values)
