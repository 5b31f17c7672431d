"""How long a vehicle has not been heard, in its own seconds, as far as the ground station knows.

A heartbeat's age is measured on the ground station's clock. Two things make that age lie:

- a simulator runs at its speed-up only when it gets the CPU; starved, it runs slower, so wall
  seconds times the nominal speed-up overstate the vehicle seconds that passed. The vehicle's
  own clock (``time_boot_ms`` of its position reports) gives its real pace: the age is
  converted at the slower of the two.
- when the ground station itself stalls (CPU load, a long pause of the process), the vehicle's
  messages wait in the socket and nothing is read, so every heartbeat looks old although the
  link is fine. The caller's check loop notices its own stall (a gap between two checks much
  longer than its period); time spent stalled is not counted against the vehicle.

:class:`LinkClock` is pure: snapshots and the caller's clock in, ages out.
"""

from __future__ import annotations

from collections import deque

from gcs.snapshot import VehicleSnapshot

#: Wall seconds of position reports the vehicle's pace is measured over.
PACE_WINDOW_S = 5.0
#: Least wall span of reports that gives a pace (shorter: the nominal speed-up is used).
PACE_MIN_SPAN_S = 1.0


class LinkClock:
    """Heartbeat age of one vehicle in its own seconds.

    Parameters
    ----------
    time_scale
        Nominal vehicle seconds per wall second (a simulator's speed-up; 1 for real vehicles).
    check_period_s
        How often the caller checks (wall s); a gap between two checks of more than
        ``stall_factor`` periods (and at least ``min_stall_s``) is a stall of the ground
        station, not of the link. None: stalls are not looked for.
    """

    def __init__(self, time_scale: float = 1.0, *, check_period_s: float | None = None,
                 stall_factor: float = 10.0, min_stall_s: float = 0.25) -> None:
        if not time_scale > 0:
            raise ValueError(f"Expected time_scale > 0, got {time_scale}")
        self.time_scale = time_scale
        self.stall_s = None if check_period_s is None else max(check_period_s * stall_factor,
                                                               min_stall_s)
        #: When the caller last checked, and since when it has been checking without a stall.
        self._last_check_s: float | None = None
        self.awake_since_s: float | None = None
        #: Wall seconds of the last stall seen (0 none).
        self.last_stall_s = 0.0
        self._pace: deque[tuple[float, float]] = deque()

    def observe(self, snap: VehicleSnapshot, now_s: float) -> None:
        """A check at ``now_s`` (caller's clock) saw ``snap``."""
        if self.stall_s is not None and self._last_check_s is not None and \
                now_s - self._last_check_s > self.stall_s:
            self.last_stall_s = now_s - self._last_check_s
            self.awake_since_s = now_s
        self._last_check_s = now_s
        boot = snap.boot_time_s
        if boot is None:
            return
        if self._pace and boot < self._pace[-1][1]:
            self._pace.clear()  # the vehicle rebooted
        if not self._pace or boot > self._pace[-1][1]:
            self._pace.append((snap.received_s, boot))
        while len(self._pace) > 2 and self._pace[-1][0] - self._pace[0][0] > PACE_WINDOW_S:
            self._pace.popleft()

    def pace(self) -> float:
        """Vehicle seconds per wall second: the measured pace, never above the nominal one."""
        if len(self._pace) < 2:
            return self.time_scale
        (r0, b0), (r1, b1) = self._pace[0], self._pace[-1]
        if r1 - r0 < PACE_MIN_SPAN_S:
            return self.time_scale
        return min(self.time_scale, max((b1 - b0) / (r1 - r0), 0.05 * self.time_scale))

    def heartbeat_age_s(self, snap: VehicleSnapshot, now_s: float) -> float:
        """Vehicle seconds since its last heartbeat, not counting the ground station's stalls."""
        wall = snap.heartbeat_age_s
        if self.awake_since_s is not None:
            wall = min(wall, max(now_s - self.awake_since_s, 0.0))
        return wall * self.pace()
