"""Delivery tracking: the state of every drop of a sortie, from what the vehicle reports.

A drop is **queued** until its sortie takes off, **en route** while the vehicle flies towards
it, **released** once its release item ran (the gripper announced the release, or the mission
moved past the DO_GRIPPER / DO_WINCH / NAV_PAYLOAD_PLACE item), **delivered** once the vehicle
finished the drop and flew on (the mission moved past the hover after the release, the payload
place completed, or the mission completed), and **failed** when the sortie ended without a
release or the parcel left more than ``max_release_error_m`` from the drop position.

:class:`SortieTracker` is pure: it takes MAVLink-derived facts (current item, position, texts)
with the time they were seen and returns the :class:`DropEvent` transitions; the fleet manager
feeds it and records the events. ETAs come from live progress along the planned track
(:mod:`gcs.fleet.progress`), in vehicle seconds, turned into the caller's clock with ``time_scale``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from gcs.fleet.progress import SortieProgress
from gcs.geo import distance_m
from planner.items import Cmd
from planner.plan_model import Sortie

#: Texts ArduPilot sends when the gripper opens ("Gripper load releasing"/"released") or a
#: payload place lets go ("PayloadPlace: Releasing the gripper").
RELEASE_TEXTS = ("gripper load releas", "payloadplace: releasing", "gripper released")
#: Texts of ArduPilot's gripper closing on a parcel (AP_Gripper, AP_Mission): a pickup.
GRAB_TEXTS = ("gripper load grabb", "gripper grabbed")


class DropState(StrEnum):
    """Where a drop is in its delivery."""

    QUEUED = "queued"
    EN_ROUTE = "en_route"
    RELEASED = "released"
    DELIVERED = "delivered"
    FAILED = "failed"


FINAL_STATES = frozenset({DropState.DELIVERED, DropState.FAILED})


@dataclass(frozen=True, slots=True, kw_only=True)
class DropStatus:
    """One drop's delivery state.

    ``planned_lat_deg``/``planned_lon_deg`` is where the mission releases it; ``planned_eta_s``
    the plan's release time (seconds from plan start); ``eta_remaining_s`` vehicle seconds until
    the release from live progress and ``eta_at_s`` the same on the caller's clock (None once
    released or before take-off); ``release_*`` where the vehicle was when it let go and how far
    that is from the planned position.

    A pickup (``pickup``) goes the same way with its gripper grab in place of the release:
    ``released`` is collected (the ``release_*`` fields say where), and it is delivered when the
    sortie brings it home.
    """

    drop_id: str
    sortie_id: str
    vehicle: str
    state: DropState
    release_seq: int
    planned_lat_deg: float
    planned_lon_deg: float
    planned_eta_s: float | None
    eta_remaining_s: float | None = None
    eta_at_s: float | None = None
    updated_s: float | None = None
    release_lat_deg: float | None = None
    release_lon_deg: float | None = None
    release_error_m: float | None = None
    reason: str | None = None
    pickup: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class DropEvent:
    """A drop changed state at ``at_s`` (caller's clock); position where the vehicle was."""

    drop_id: str
    sortie_id: str
    state: DropState
    at_s: float
    lat_deg: float | None = None
    lon_deg: float | None = None
    eta_at_s: float | None = None
    detail: str | None = None


class SortieTracker:
    """Delivery state of the drops of one sortie.

    Parameters
    ----------
    sortie
        The planned sortie (its drops are matched in order to its release items).
    time_scale
        Vehicle seconds per second of the caller's clock (a simulator's speedup; 1 for real).
    max_release_error_m
        A release seen further than this from the drop position fails the drop.
    """

    def __init__(self, sortie: Sortie, *, time_scale: float = 1.0,
                 max_release_error_m: float = 30.0) -> None:
        if not time_scale > 0:
            raise ValueError(f"Expected time_scale > 0, got {time_scale}")
        self.sortie = sortie
        self.progress = SortieProgress(sortie)
        self.time_scale = time_scale
        self.max_release_error_m = max_release_error_m
        self._seq: int | None = None
        self._pos: tuple[float, float] | None = None
        self.started = False
        self._window: dict[str, tuple[int, int]] = {}
        self._status: dict[str, DropStatus] = {}
        points = self.progress.points
        for drop_id, seq in zip(sortie.drop_ids, self.progress.releases, strict=False):
            item = sortie.mission[seq]
            approach = seq if item.command == Cmd.NAV_PAYLOAD_PLACE else \
                self.progress.previous_nav(seq)
            after = next((i for i in range(seq + 1, len(points)) if points[i].is_nav),
                         len(points))
            self._window[drop_id] = (approach, after)
            eta = sortie.metrics.drop_etas_s.get(drop_id)
            self._status[drop_id] = DropStatus(
                drop_id=drop_id, sortie_id=sortie.id, vehicle=sortie.vehicle,
                state=DropState.QUEUED, release_seq=seq, planned_lat_deg=points[seq].lat_deg,
                planned_lon_deg=points[seq].lon_deg, planned_eta_s=eta,
                pickup=sortie.is_pickup(drop_id))
        for drop_id in sortie.drop_ids[len(self.progress.releases):]:
            self._status[drop_id] = DropStatus(
                drop_id=drop_id, sortie_id=sortie.id, vehicle=sortie.vehicle,
                state=DropState.QUEUED, release_seq=-1, planned_lat_deg=0.0,
                planned_lon_deg=0.0, planned_eta_s=None, pickup=sortie.is_pickup(drop_id))

    # -- queries ------------------------------------------------------------------------------
    def statuses(self) -> tuple[DropStatus, ...]:
        """Every drop of the sortie, in delivery order."""
        return tuple(self._status[d] for d in self.sortie.drop_ids)

    def status(self, drop_id: str) -> DropStatus:
        """One drop."""
        return self._status[drop_id]

    @property
    def done(self) -> bool:
        """Every drop delivered or failed."""
        return all(s.state in FINAL_STATES for s in self._status.values())

    # -- transitions --------------------------------------------------------------------------
    def _set(self, drop_id: str, now_s: float, **changes: object) -> DropEvent | None:
        old = self._status[drop_id]
        new = replace(old, updated_s=now_s, **changes)  # type: ignore[arg-type]
        self._status[drop_id] = new
        if new.state == old.state:
            return None
        pos = self._pos
        return DropEvent(drop_id=drop_id, sortie_id=self.sortie.id, state=new.state, at_s=now_s,
                         lat_deg=None if pos is None else pos[0],
                         lon_deg=None if pos is None else pos[1], eta_at_s=new.eta_at_s,
                         detail=new.reason)

    def start(self, now_s: float) -> list[DropEvent]:
        """The sortie took off: every queued drop is en route."""
        self.started = True
        events = [self._set(d, now_s, state=DropState.EN_ROUTE) for d in self.sortie.drop_ids
                  if self._status[d].state == DropState.QUEUED]
        return [e for e in events if e is not None]

    def _release(self, drop_id: str, now_s: float, *, observed: bool) -> DropEvent | None:
        st = self._status[drop_id]
        pos = self._pos
        approach, after = self._window[drop_id]
        in_window = self._seq is not None and approach <= self._seq <= after
        if pos is None or not (observed or in_window):
            return self._set(drop_id, now_s, state=DropState.RELEASED, eta_remaining_s=None,
                             eta_at_s=None)
        error = distance_m(st.planned_lat_deg, st.planned_lon_deg, pos[0], pos[1])
        fields: dict[str, object] = {"release_lat_deg": pos[0], "release_lon_deg": pos[1],
                                     "release_error_m": error, "eta_remaining_s": None,
                                     "eta_at_s": None}
        if error > self.max_release_error_m:
            what = "collected {:.0f} m from the pickup point" if st.pickup else \
                "released {:.0f} m from the drop position"
            return self._set(drop_id, now_s, state=DropState.FAILED,
                             reason=what.format(error), **fields)
        return self._set(drop_id, now_s, state=DropState.RELEASED, **fields)

    def update(self, now_s: float, *, seq: int | None, lat_deg: float | None,
               lon_deg: float | None) -> list[DropEvent]:
        """Current mission item and position (from MISSION_CURRENT and GLOBAL_POSITION_INT)."""
        if lat_deg is not None and lon_deg is not None:
            self._pos = (lat_deg, lon_deg)
        if seq is not None and seq > 0:
            self._seq = seq
        events: list[DropEvent | None] = []
        if not self.started:
            return []
        for drop_id in self.sortie.drop_ids:
            st = self._status[drop_id]
            if drop_id not in self._window or st.state in FINAL_STATES:
                continue
            _, after = self._window[drop_id]
            if self._seq is not None and st.state == DropState.EN_ROUTE and \
                    self._seq > st.release_seq:
                events.append(self._release(drop_id, now_s, observed=False))
                st = self._status[drop_id]
            if st.state == DropState.RELEASED and self._seq is not None and \
                    self._seq > after and not st.pickup:
                events.append(self._set(drop_id, now_s, state=DropState.DELIVERED))
        events += self._update_etas(now_s, lat_deg, lon_deg)
        return [e for e in events if e is not None]

    def _update_etas(self, now_s: float, lat_deg: float | None,
                     lon_deg: float | None) -> list[DropEvent | None]:
        progress = self.progress
        here = progress.planned_time_s(progress.distance_along_m(self._seq, lat_deg, lon_deg))
        out: list[DropEvent | None] = []
        for drop_id in self.sortie.drop_ids:
            st = self._status[drop_id]
            if st.state != DropState.EN_ROUTE or st.release_seq < 0:
                continue
            at = progress.planned_time_s(progress.cum_m[st.release_seq])
            remaining = max(0.0, at - here)
            out.append(self._set(drop_id, now_s, eta_remaining_s=remaining,
                                 eta_at_s=now_s + remaining / self.time_scale))
        return out

    def on_text(self, now_s: float, text: str) -> list[DropEvent]:
        """A STATUSTEXT: a gripper or payload-place release marks the next drop released, a
        gripper grab the next pickup collected."""
        low = text.lower()
        grab = any(t in low for t in GRAB_TEXTS)
        if not self.started or not (grab or any(t in low for t in RELEASE_TEXTS)):
            return []
        for drop_id in self.sortie.drop_ids:
            st = self._status[drop_id]
            if st.pickup != grab:
                continue
            if st.state == DropState.EN_ROUTE and drop_id in self._window:
                approach, _ = self._window[drop_id]
                if self._seq is not None and self._seq >= approach:
                    event = self._release(drop_id, now_s, observed=True)
                    return [] if event is None else [event]
                return []
        return []

    def on_item_reached(self, now_s: float, seq: int) -> list[DropEvent]:
        """MISSION_ITEM_REACHED: a completed NAV_PAYLOAD_PLACE delivered its drop."""
        events: list[DropEvent | None] = []
        for drop_id in self.sortie.drop_ids:
            st = self._status[drop_id]
            if st.release_seq != seq or st.state in FINAL_STATES or not self.started:
                continue
            if self.sortie.mission[seq].command == Cmd.NAV_PAYLOAD_PLACE:
                if st.state == DropState.EN_ROUTE:
                    events.append(self._release(drop_id, now_s, observed=True))
                if self._status[drop_id].state == DropState.RELEASED:
                    events.append(self._set(drop_id, now_s, state=DropState.DELIVERED))
        return [e for e in events if e is not None]

    def finish(self, now_s: float, *, completed: bool, reason: str) -> list[DropEvent]:
        """The sortie ended: released drops are delivered, the rest failed with ``reason``.

        With ``completed`` (the mission ran to its end in AUTO) a drop still en route was flown
        through while nothing was heard, and is counted as delivered. A collected pickup is
        delivered only when the sortie completed (it came home); else it failed.
        """
        events: list[DropEvent | None] = []
        for drop_id in self.sortie.drop_ids:
            st = self._status[drop_id]
            if st.state in FINAL_STATES:
                continue
            if st.pickup and st.state == DropState.RELEASED and not completed:
                events.append(self._set(drop_id, now_s, state=DropState.FAILED,
                                        reason=f"collected but not brought home: {reason}",
                                        eta_remaining_s=None, eta_at_s=None))
            elif st.state == DropState.RELEASED or (completed and st.state == DropState.EN_ROUTE
                                                    and drop_id in self._window):
                events.append(self._set(drop_id, now_s, state=DropState.DELIVERED,
                                        eta_remaining_s=None, eta_at_s=None))
            else:
                events.append(self._set(drop_id, now_s, state=DropState.FAILED, reason=reason,
                                        eta_remaining_s=None, eta_at_s=None))
        return [e for e in events if e is not None]

    def restore(self, drop_id: str, state: DropState, *, reason: str | None = None) -> None:
        """Put back a state recorded earlier (when monitoring resumes after a restart)."""
        self._status[drop_id] = replace(self._status[drop_id], state=state, reason=reason)
        if state != DropState.QUEUED:
            self.started = True
