"""Link faults between a simulated vehicle and its ground station.

Loss, duplication, latency and reordering act on whole MAVLink messages in both directions;
latency is in simulated seconds, like every other vehicle-side timer. A seeded generator makes a
given sequence of messages meet the same faults every run.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

#: Extra delay of a reordered message (s of simulated time).
REORDER_DELAY_S = 0.15


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkFaults:
    """Fault rates of one link: probabilities in [0, 1] and a latency in simulated seconds."""

    loss: float = 0.0
    latency_s: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0

    def __post_init__(self) -> None:
        for name in ("loss", "duplicate", "reorder"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"Expected {name} in [0, 1], got {value}")
        if not self.latency_s >= 0.0:
            raise ValueError(f"Expected latency_s >= 0, got {self.latency_s}")

    @property
    def clean(self) -> bool:
        """No fault at all."""
        return self.loss == 0 and self.latency_s == 0 and self.duplicate == 0 and \
            self.reorder == 0


class FaultyPipe(Generic[T]):
    """One direction of a link: items go in at a time and come out when due."""

    def __init__(self, seed: int) -> None:
        self.faults = LinkFaults()
        self.cut_until_s = -1.0
        self._rng = random.Random(seed)
        self._queue: list[tuple[float, int, T]] = []
        self._n = 0

    def put(self, item: T, now_s: float) -> None:
        """Offer one item at ``now_s``."""
        if now_s < self.cut_until_s:
            return
        f = self.faults
        if f.clean and not self._queue:
            self._push(now_s, item)
            return
        rng = self._rng
        if f.loss and rng.random() < f.loss:
            return
        due = now_s + f.latency_s
        if f.reorder and rng.random() < f.reorder:
            due += REORDER_DELAY_S
        self._push(due, item)
        if f.duplicate and rng.random() < f.duplicate:
            self._push(due, item)

    def _push(self, due: float, item: T) -> None:
        self._n += 1
        heapq.heappush(self._queue, (due, self._n, item))

    def take(self, now_s: float) -> list[T]:
        """Items due at ``now_s``, in delivery order."""
        out: list[T] = []
        queue = self._queue
        while queue and queue[0][0] <= now_s + 1e-9:
            out.append(heapq.heappop(queue)[2])
        return out

    def clear(self) -> None:
        """Drop everything in flight."""
        self._queue.clear()
