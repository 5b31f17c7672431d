"""Independent pieces of planning work, and how a caller may run them side by side.

The planner runs no processes or threads itself. Functions whose work splits into independent
pieces (rows of the distance matrix, the legs of servability, the sorties to verify) accept a
``map_fn``: a callable with the signature of the built-in :func:`map` over one iterable, such as
``concurrent.futures.Executor.map``. The pieces are plain picklable values handed to module-level
functions, their results come back in order, and a piece's result never depends on how the work
was split, so a plan is the same with or without an executor.

Examples
--------
>>> chunks(list(range(7)), 3)
[[0, 1, 2], [3, 4], [5, 6]]
>>> run_map(None, abs, [-1, 2])
[1, 2]
>>> next(start_map(None, abs, [-3]))
3
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: Pieces a task list is cut into per worker a caller's executor may run.
PIECES_PER_CALL = 8


class MapFn(Protocol):
    """``map_fn(fn, items)``: ``fn`` applied to every item, results in the items' order."""

    def __call__(self, fn: Callable[[Any], Any], items: Iterable[Any], /) -> Iterator[Any]:
        """Apply ``fn`` to each of ``items``."""
        ...


def run_map(map_fn: MapFn | None, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """``fn`` over ``items`` with ``map_fn`` (the built-in :func:`map` when None), as a list."""
    if map_fn is None:
        return [fn(item) for item in items]
    return list(map_fn(fn, items))


def start_map(map_fn: MapFn | None, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
    """``fn`` over ``items`` with ``map_fn``, the results read later from the iterator returned.

    An executor's ``map`` starts every piece at once, so the caller can do other work while the
    pieces run and read the results when it needs them; without ``map_fn`` each piece runs when
    its result is read. The results are the same either way.
    """
    if map_fn is None:
        return map(fn, items)
    return iter(map_fn(fn, items))


def chunks(items: Sequence[T], n: int) -> list[list[T]]:
    """``items`` cut into at most ``n`` consecutive runs of near-equal length (none empty)."""
    n = max(1, min(n, len(items)))
    size, extra = divmod(len(items), n)
    out: list[list[T]] = []
    start = 0
    for k in range(n):
        stop = start + size + (1 if k < extra else 0)
        if stop > start:
            out.append(list(items[start:stop]))
        start = stop
    return out
