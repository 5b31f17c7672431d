"""The alerts a worker raises about the vehicles it watches (without a run): link lost and
restored, battery low.

Pure: :meth:`VehicleWatch.check` takes a snapshot and says which alerts are new.

Examples
--------
>>> from dataclasses import dataclass
>>> @dataclass
... class S:
...     sysid: int = 1
...     heartbeat_age_s: float = 0.0
...     battery_pct: int | None = 50
...     armed: bool = True
>>> watch = VehicleWatch()
>>> watch.check(S(heartbeat_age_s=6.0))  # type: ignore[arg-type]
[Raised(kind='link_lost', severity='warning', message='vehicle 1 not heard for 6 s')]
>>> watch.check(S(heartbeat_age_s=0.5))  # type: ignore[arg-type]
[Raised(kind='link_restored', severity='info', message='vehicle 1 heard again')]
"""

from __future__ import annotations

from dataclasses import dataclass

from gcs.snapshot import VehicleSnapshot

#: Seconds without a heartbeat after which a vehicle's link counts as lost.
LINK_LOST_S = 5.0
#: Battery left (%) under which an armed vehicle raises ``battery_low`` (once per flight).
BATTERY_LOW_PCT = 20


@dataclass(frozen=True, slots=True)
class Raised:
    """An alert to publish: its kind (as the failsafe monitor's), severity and text."""

    kind: str
    severity: str
    message: str


class VehicleWatch:
    """What one worker last knew of each vehicle's link and battery."""

    def __init__(self, *, link_lost_s: float = LINK_LOST_S,
                 battery_low_pct: int = BATTERY_LOW_PCT) -> None:
        self.link_lost_s = link_lost_s
        self.battery_low_pct = battery_low_pct
        self._lost: set[int] = set()
        self._low: set[int] = set()

    def check(self, snap: VehicleSnapshot) -> list[Raised]:
        """The alerts ``snap`` raises that were not raised before."""
        out = []
        sysid = snap.sysid
        if snap.heartbeat_age_s >= self.link_lost_s and sysid not in self._lost:
            self._lost.add(sysid)
            out.append(Raised("link_lost", "warning", f"vehicle {sysid} not heard for "
                                                      f"{snap.heartbeat_age_s:.0f} s"))
        elif snap.heartbeat_age_s < self.link_lost_s and sysid in self._lost:
            self._lost.discard(sysid)
            out.append(Raised("link_restored", "info", f"vehicle {sysid} heard again"))
        low = snap.armed and snap.battery_pct is not None and \
            snap.battery_pct < self.battery_low_pct
        if low and sysid not in self._low:
            self._low.add(sysid)
            out.append(Raised("battery_low", "warning", f"vehicle {sysid} battery at "
                                                        f"{snap.battery_pct}%"))
        elif not snap.armed:
            self._low.discard(sysid)
        return out
