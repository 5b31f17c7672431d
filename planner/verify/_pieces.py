"""Groups of sorties the verifier checks independently, and how they are run (private).

The verifier imports nothing of the planning code, so it keeps its own small splitter: a
caller's ``map_fn`` (``concurrent.futures.Executor.map``-like) runs the groups, results in
order; the built-in order in this process when None.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

MapFn = Callable[[Callable[[Any], Any], Iterable[Any]], Iterable[Any]]
"""``map_fn(fn, items)``: ``fn`` applied to every item, results in the items' order."""

GROUPS = 8
"""Groups the sorties of a plan are cut into when a ``map_fn`` is given."""


def groups(items: Sequence[T], n: int) -> list[tuple[T, ...]]:
    """``items`` cut into at most ``n`` consecutive runs of near-equal length (none empty)."""
    n = max(1, min(n, len(items)))
    size, extra = divmod(len(items), n)
    out: list[tuple[T, ...]] = []
    start = 0
    for k in range(n):
        stop = start + size + (1 if k < extra else 0)
        if stop > start:
            out.append(tuple(items[start:stop]))
        start = stop
    return out


def run(map_fn: MapFn | None, fn: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
    """``fn`` over ``items`` with ``map_fn`` (in order here when None), as a list."""
    if map_fn is None:
        return [fn(item) for item in items]
    return list(map_fn(fn, items))
