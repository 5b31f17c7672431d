"""Simulated time for a fleet: wall-clock time scaled by the speedup."""

from __future__ import annotations

import time


class SimClock:
    """Simulated seconds since :meth:`start`, running ``speedup`` times faster than the wall.

    Parameters
    ----------
    speedup
        Simulated seconds per wall second (> 0).
    """

    def __init__(self, speedup: float = 1.0) -> None:
        if not speedup > 0:
            raise ValueError(f"Expected speedup > 0, got {speedup}")
        self.speedup = float(speedup)
        self._wall0: float | None = None

    def start(self) -> None:
        """Start counting from 0."""
        self._wall0 = time.monotonic()

    @property
    def started(self) -> bool:
        """Whether :meth:`start` has been called."""
        return self._wall0 is not None

    def now_s(self) -> float:
        """Simulated seconds since start (0 before)."""
        if self._wall0 is None:
            return 0.0
        return (time.monotonic() - self._wall0) * self.speedup

    def slip(self, sim_s: float) -> None:
        """Let simulated time fall ``sim_s`` seconds behind the wall for good (an overloaded
        simulator runs slower rather than catching up in one burst)."""
        if self._wall0 is not None and sim_s > 0:
            self._wall0 += sim_s / self.speedup

    def wall_for(self, sim_s: float) -> float:
        """Wall seconds that ``sim_s`` simulated seconds take."""
        return sim_s / self.speedup
