"""Failsafe monitor: battery against the plan, link loss, fence breach, track deviation.

The vehicle has failsafes of its own (configured by :mod:`gcs.fleet.config`); this monitor adds what
only the ground station knows: the plan. It compares the battery left with the energy the plan
predicts for the rest of the sortie (the planned energy in proportion to the planned flight time
still ahead), raises an alert when the margin over the reserve gets thin and asks for RTL when
finishing the sortie would break the reserve. It also reports link loss and recovery, fence
breaches, the vehicle's own failsafe messages and distance from the planned track.

A battery that is full (or doing as the plan expects) never reads "low": the thin-margin alert
compares the margin over the reserve with the margin the flight started with, so a sortie
planned close to its reserve (76 % needed + 20 % reserve) is not "low" at 100 % on take-off.
Only credible readings count (0-100 %, reported by the vehicle).

The link is judged in the vehicle's own seconds and without the ground station's own stalls
(:class:`gcs.fleet.link_watch.LinkClock`): messages merely queued while the ground station was
busy are no lost link.

Every mode is watched, whoever chose it. In the mission modes (AUTO, GUIDED) the battery is
checked against the rest of the sortie. In any other mode that is not a return (LOITER, BRAKE,
ALT_HOLD...: an operator's hold, or the vehicle leaving the mission on its own) it is checked
against the flight home from where the vehicle is, and RTL is asked for when that return would
break the reserve. While returning (RTL, SMART_RTL, LAND) a broken reserve is still an alert.
Commands of the ground station (:meth:`FailsafeMonitor.commanded`) only decide whether a mode
change is "the vehicle left the mission" (a mode the ground station asked for is never one, even
when its confirmation was lost and the command reported as failed); none of them switches a
check off, and a resume (AUTO) re-arms the reserve check that an earlier return had settled.

:class:`FailsafeMonitor` is pure: snapshots in, :class:`Alert` values out; the fleet manager acts
on ``Alert.action`` and records every alert.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from gcs.fleet.advice import advice_for
from gcs.fleet.link_watch import LinkClock
from gcs.fleet.progress import SortieProgress
from gcs.geo import distance_m
from gcs.snapshot import VehicleSnapshot
from planner.plan_model import Sortie


class AlertKind(StrEnum):
    """What an alert is about."""

    BATTERY_LOW = "battery_low"
    BATTERY_RESERVE = "battery_reserve"
    LINK_LOST = "link_lost"
    LINK_RESTORED = "link_restored"
    FENCE_BREACH = "fence_breach"
    DEVIATION = "deviation"
    VEHICLE_FAILSAFE = "vehicle_failsafe"
    MODE_CHANGE = "mode_change"
    OVERDUE = "overdue"
    SORTIE_FAILED = "sortie_failed"
    LANDED_AWAY = "landed_away"


class Severity(StrEnum):
    """How urgent an alert is."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    """One alert about one vehicle.

    ``message`` says what happened (the cause, with its figures); ``action`` is what the ground
    station does about it (``"RTL"``, None: nothing); :attr:`advice` what people should do.
    ``at_s`` is on the caller's clock. Info alerts need no acknowledgement.
    """

    kind: AlertKind
    severity: Severity
    message: str
    sysid: int
    sortie_id: str | None
    at_s: float
    action: str | None = None

    @property
    def advice(self) -> str:
        """The suggested action for people."""
        return advice_for(self.kind, self.action)

    @property
    def needs_ack(self) -> bool:
        """Warnings and critical alerts are acknowledged by the crew; info alerts are not."""
        return self.severity != Severity.INFO


@dataclass(frozen=True, slots=True, kw_only=True)
class FailsafeLimits:
    """Thresholds of the monitor.

    ``reserve_pct`` is the battery share that must be left on landing (the drone type's reserve
    fraction, in percent); an alert is raised when the margin over it falls below
    ``battery_alert_margin_pct`` and RTL is commanded below zero. ``link_lost_s`` is the
    heartbeat age (vehicle seconds) that counts as a lost link, ``deviation_m`` the allowed
    distance from the planned track (``deviation_rtl`` also commands RTL), ``overdue_factor`` how
    many times the planned duration a flight may last before an alert.
    When the plan predicts less than ``landing_pct`` for the rest (the vehicle is landing at the
    depot), breaking the reserve is reported but RTL is not commanded.
    """

    reserve_pct: float = 20.0
    battery_alert_margin_pct: float = 5.0
    link_lost_s: float = 5.0
    deviation_m: float = 150.0
    deviation_rtl: bool = False
    overdue_factor: float = 2.0
    landing_pct: float = 1.0

    def __post_init__(self) -> None:
        if not 0 <= self.reserve_pct < 100:
            raise ValueError(f"Expected reserve_pct in [0, 100), got {self.reserve_pct}")
        for name in ("battery_alert_margin_pct", "link_lost_s", "deviation_m"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"Expected {name} >= 0, got {getattr(self, name)}")
        if not self.overdue_factor >= 1:
            raise ValueError(f"Expected overdue_factor >= 1, got {self.overdue_factor}")


#: Modes that fly the mission.
MISSION_MODES = frozenset({"AUTO", "GUIDED"})
#: Modes that bring the vehicle down: home (RTL, SMART_RTL) or where it is (LAND).
RETURN_MODES = frozenset({"RTL", "SMART_RTL", "LAND"})
#: Vehicle STATUSTEXTs that announce one of its own failsafes or a breach.
_VEHICLE_FAILSAFE_WORDS = ("failsafe", "fence breached", "motor failure")


class FailsafeMonitor:
    """Watches one vehicle flying one sortie.

    Parameters
    ----------
    sortie
        The sortie flown (planned energy, duration and track).
    sysid
        The vehicle.
    limits
        Thresholds (the defaults of :class:`FailsafeLimits` when None).
    time_scale
        Vehicle seconds per second of the caller's clock (a simulator's speedup).
    check_period_s
        How often the caller checks (its clock's seconds): a much longer gap between two checks
        is the ground station stalling, not counted as link loss. None: not looked for.
    """

    def __init__(self, sortie: Sortie, *, sysid: int, limits: FailsafeLimits | None = None,
                 time_scale: float = 1.0, check_period_s: float | None = None) -> None:
        self.sortie = sortie
        self.sysid = sysid
        self.limits = limits or FailsafeLimits()
        self.time_scale = time_scale
        self.link_clock = LinkClock(time_scale, check_period_s=check_period_s)
        #: Margin over the reserve (percent) at the first credible reading in a mission mode.
        self.start_margin_pct: float | None = None
        #: Modes the ground station asked for, confirmed or not, since the last resume.
        self.asked_modes: set[str] = set()
        self.progress = SortieProgress(sortie)
        self.started_s: float | None = None
        #: The vehicle is coming down: commanded RTL/LAND, seen in a return mode, or the
        #: monitor asked for RTL. A resume (AUTO commanded) ends it.
        self.returning = False
        self._raised: set[AlertKind] = set()
        self._link_lost = False
        self._deviating = False
        self._breaches = 0
        self._texts: set[str] = set()
        self._last_mode: str | None = None
        #: Modes the ground station asked for during this flight (not "left the mission").
        self.expected_modes: set[str] = set(MISSION_MODES)

    def _alert(self, kind: AlertKind, severity: Severity, message: str, now_s: float,
               action: str | None = None) -> Alert:
        return Alert(kind=kind, severity=severity, message=message, sysid=self.sysid,
                     sortie_id=self.sortie.id, at_s=now_s, action=action)

    def needed_pct(self, snap: VehicleSnapshot, seq: int | None = None) -> float:
        """Battery percentage the plan predicts for the rest of the sortie.

        ``seq`` is the current mission item (default: the snapshot's).
        """
        seq = snap.mission_seq if seq is None else seq
        d = self.progress.distance_along_m(seq, snap.lat_deg, snap.lon_deg)
        return self.sortie.metrics.energy_pct * self.progress.remaining_fraction(d)

    def home_distance_m(self, snap: VehicleSnapshot) -> float:
        """Horizontal distance from the vehicle to the sortie's launch point (0 unknown)."""
        home = self.sortie.mission[0]
        if snap.lat_deg is None or snap.lon_deg is None:
            return 0.0
        return distance_m(home.lat_deg, home.lon_deg, snap.lat_deg, snap.lon_deg)

    def return_pct(self, snap: VehicleSnapshot) -> float:
        """Battery percentage a flight home from where the vehicle is takes.

        The planned energy per metre of planned track, times the straight distance home plus
        the height to come down.
        """
        if self.progress.total_m <= 0:
            return 0.0
        path_m = self.home_distance_m(snap) + max(snap.alt_rel_m or 0.0, 0.0)
        return self.sortie.metrics.energy_pct * path_m / self.progress.total_m

    def check(self, snap: VehicleSnapshot, now_s: float, *,
              seq: int | None = None) -> list[Alert]:
        """Every new alert the snapshot gives rise to (each condition once per episode).

        ``seq`` is the current mission item as the caller trusts it (default: the snapshot's).
        """
        if self.started_s is None:
            self.started_s = now_s
        seq = snap.mission_seq if seq is None else seq
        self.link_clock.observe(snap, now_s)
        out = self._link(snap, now_s)
        if self._link_lost:
            return out
        out += self._mode(snap, now_s)
        out += self._battery(snap, seq, now_s)
        out += self._fence(snap, now_s)
        out += self._deviation(snap, seq, now_s)
        out += self._overdue(now_s)
        return out

    def link_age_s(self, snap: VehicleSnapshot, now_s: float) -> float:
        """Vehicle seconds since the vehicle's last heartbeat (ground station stalls excluded)."""
        return self.link_clock.heartbeat_age_s(snap, now_s)

    def _link(self, snap: VehicleSnapshot, now_s: float) -> list[Alert]:
        age = self.link_age_s(snap, now_s)
        if age > self.limits.link_lost_s and not self._link_lost:
            self._link_lost = True
            return [self._alert(AlertKind.LINK_LOST, Severity.WARNING,
                                f"no heartbeat for {age:.1f} s of the vehicle's time (limit "
                                f"{self.limits.link_lost_s:.0f} s)", now_s)]
        if age <= self.limits.link_lost_s and self._link_lost:
            self._link_lost = False
            return [self._alert(AlertKind.LINK_RESTORED, Severity.INFO,
                                "heartbeats again", now_s)]
        return []

    def _battery(self, snap: VehicleSnapshot, seq: int | None, now_s: float) -> list[Alert]:
        if snap.battery_pct is None or not 0 <= snap.battery_pct <= 100 or not snap.armed:
            return []
        reserve = self.limits.reserve_pct
        if self.returning or snap.mode in RETURN_MODES:
            return self._battery_returning(snap, now_s)
        if snap.mode in MISSION_MODES:
            needed = self.needed_pct(snap, seq)
            what = "needed for the rest of the sortie"
        else:
            needed = self.return_pct(snap)
            what = f"needed to return from here (mode {snap.mode})"
        margin = snap.battery_pct - needed - reserve
        if self.start_margin_pct is None and snap.mode in MISSION_MODES:
            self.start_margin_pct = margin
        text = (f"battery {snap.battery_pct} % with {needed:.0f} % {what} and a "
                f"{reserve:.0f} % reserve")
        if margin < 0 and AlertKind.BATTERY_RESERVE not in self._raised:
            self._raised.add(AlertKind.BATTERY_RESERVE)
            if snap.mode in MISSION_MODES and needed < self.limits.landing_pct:
                return [self._alert(AlertKind.BATTERY_RESERVE, Severity.CRITICAL,
                                    f"{text}: landing below the reserve", now_s)]
            self.returning = True
            return [self._alert(AlertKind.BATTERY_RESERVE, Severity.CRITICAL,
                                f"{text}: returning to launch", now_s, action="RTL")]
        if margin < self.low_margin_pct() and AlertKind.BATTERY_LOW not in self._raised:
            self._raised.add(AlertKind.BATTERY_LOW)
            return [self._alert(AlertKind.BATTERY_LOW, Severity.WARNING,
                                f"{text}: {margin:.0f} % to spare", now_s)]
        return []

    def low_margin_pct(self) -> float:
        """Margin over the reserve (percent) below which the battery is "low".

        ``battery_alert_margin_pct``, but never above the margin the flight started with less
        half of it: a sortie planned with a thin margin is "low" only once it does worse than
        its plan, never on a full battery.
        """
        limit = self.limits.battery_alert_margin_pct
        if self.start_margin_pct is None:
            return limit
        return min(limit, self.start_margin_pct - limit / 2)

    def _battery_returning(self, snap: VehicleSnapshot, now_s: float) -> list[Alert]:
        """On the way down the reserve is still watched: breaking it is a critical alert."""
        assert snap.battery_pct is not None
        if AlertKind.BATTERY_RESERVE in self._raised:
            return []
        landing = snap.mode == "LAND"
        needed = 0.0 if landing else self.return_pct(snap)
        if snap.battery_pct - needed - self.limits.reserve_pct >= 0:
            return []
        self._raised.add(AlertKind.BATTERY_RESERVE)
        away_km = self.home_distance_m(snap) / 1000.0
        doing = (f"landing {away_km:.1f} km from launch" if landing else
                 f"returning in mode {snap.mode}, {away_km:.1f} km out, the return needs "
                 f"{needed:.0f} %")
        return [self._alert(AlertKind.BATTERY_RESERVE, Severity.CRITICAL,
                            f"battery {snap.battery_pct} % with {needed:.0f} % needed to return "
                            f"leaves less than the {self.limits.reserve_pct:.0f} % reserve: "
                            f"{doing}", now_s)]

    def _fence(self, snap: VehicleSnapshot, now_s: float) -> list[Alert]:
        if snap.fence_breach_count > self._breaches or (
                snap.fence_breached and AlertKind.FENCE_BREACH not in self._raised):
            self._breaches = max(self._breaches, snap.fence_breach_count)
            self._raised.add(AlertKind.FENCE_BREACH)
            return [self._alert(AlertKind.FENCE_BREACH, Severity.CRITICAL,
                                f"geofence breached (mode {snap.mode})", now_s)]
        return []

    def on_text(self, text: str, now_s: float) -> list[Alert]:
        """A vehicle STATUSTEXT: its own failsafes and breaches become alerts."""
        low = text.lower()
        if "cleared" in low:
            self._texts.clear()
            return []
        if not any(w in low for w in _VEHICLE_FAILSAFE_WORDS) or low in self._texts or \
                low.startswith(("prearm", "arm:")):
            return []
        self._texts.add(low)
        if "fence" in low:
            if AlertKind.FENCE_BREACH in self._raised:
                return []
            self._raised.add(AlertKind.FENCE_BREACH)
            return [self._alert(AlertKind.FENCE_BREACH, Severity.CRITICAL, text, now_s)]
        return [self._alert(AlertKind.VEHICLE_FAILSAFE, Severity.CRITICAL, text, now_s)]

    def _deviation(self, snap: VehicleSnapshot, seq: int | None, now_s: float) -> list[Alert]:
        if snap.mode != "AUTO" or not snap.armed or snap.lat_deg is None or \
                snap.lon_deg is None or seq is None or seq <= 0:
            return []
        off = self.progress.deviation_m(seq, snap.lat_deg, snap.lon_deg)
        if off > self.limits.deviation_m and not self._deviating:
            self._deviating = True
            action = "RTL" if self.limits.deviation_rtl and not self.returning else None
            self.returning = self.returning or action is not None
            return [self._alert(AlertKind.DEVIATION, Severity.WARNING,
                                f"{off:.0f} m from the planned track "
                                f"(limit {self.limits.deviation_m:.0f} m)", now_s, action)]
        if off <= self.limits.deviation_m * 0.8:
            self._deviating = False
        return []

    def _mode(self, snap: VehicleSnapshot, now_s: float) -> list[Alert]:
        mode, last = snap.mode, self._last_mode
        self._last_mode = mode
        if mode in RETURN_MODES and snap.armed:
            self.returning = True
        elif mode in MISSION_MODES and last in RETURN_MODES:
            self.returning = False  # sent back to the mission (by a GCS the product forwards)
        if mode in self.expected_modes or mode in self.asked_modes:
            self._raised.discard(AlertKind.MODE_CHANGE)
            return []
        if not snap.armed or AlertKind.MODE_CHANGE in self._raised:
            return []
        self._raised.add(AlertKind.MODE_CHANGE)
        return [self._alert(AlertKind.MODE_CHANGE, Severity.WARNING,
                            f"vehicle left the mission: mode {mode}", now_s)]

    def _overdue(self, now_s: float) -> list[Alert]:
        if self.started_s is None or AlertKind.OVERDUE in self._raised:
            return []
        flown = (now_s - self.started_s) * self.time_scale
        limit = self.progress.duration_s * self.limits.overdue_factor
        if flown <= limit:
            return []
        self._raised.add(AlertKind.OVERDUE)
        return [self._alert(AlertKind.OVERDUE, Severity.WARNING,
                            f"flying for {flown:.0f} s, planned {self.progress.duration_s:.0f} s",
                            now_s)]

    def commanded(self, mode: str) -> Callable[[], None]:
        """The ground station is switching the vehicle to ``mode`` (an operator or the monitor).

        ``mode`` is then no "vehicle left the mission"; RTL and LAND start the return (battery
        alerts stay on), AUTO resumes mission monitoring and re-arms the reserve check. Call
        before sending the command; the function returned undoes this if the vehicle refused.
        """
        before = (set(self.expected_modes), self.returning, set(self._raised))
        self.expected_modes.add(mode)
        if mode in RETURN_MODES:
            self.returning = True
        elif mode in MISSION_MODES:
            self.asked_modes.clear()
            self.returning = False
            self._raised -= {AlertKind.BATTERY_RESERVE, AlertKind.BATTERY_LOW,
                             AlertKind.MODE_CHANGE}

        def undo() -> None:
            # a refusal may be a lost confirmation: should the vehicle switch after all, it was
            # still asked to, not leaving the mission on its own
            self.asked_modes.add(mode)
            self.expected_modes, self.returning, self._raised = before

        return undo
