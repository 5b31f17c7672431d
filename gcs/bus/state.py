"""A vehicle's state on the bus: the compact fields of a snapshot, the worker's encoder (full
snapshots, then only what changed since the last one) and the console's book that turns what
it heard back into :class:`gcs.snapshot.VehicleSnapshot` values.

Examples
--------
>>> enc = StateEncoder("w1", full_every_s=10.0, keepalive_s=2.0)
>>> still = {"mode": "AUTO", "armed": True, "battery_pct": 90}
>>> first = enc.encode({"lat_deg": 44.1, **still}, now_s=100.0)
>>> first.full, first.seq
(True, 1)
>>> enc.encode({"lat_deg": 44.1, **still}, now_s=100.5) is None   # nothing changed
True
>>> m = enc.encode({"lat_deg": 44.2, **still}, now_s=101.0)
>>> m.full, m.base_seq, dict(m.fields)
(False, 1, {'lat_deg': 44.2})
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gcs.bus.messages import STATE_FIELDS, StateMessage
from gcs.snapshot import VehicleSnapshot
from gcs.terrain import TerrainReport

#: A new full snapshot goes out as soon as more than 1/REBASE_SHARE of the fields changed
#: since the last one (the changes would weigh nearly as much).
REBASE_SHARE = 3
#: A heartbeat younger than this is sent as 0 s old (it flickers around 1 s at 1 Hz).
HB_AGE_QUIET_S = 2.0


def vehicle_id(hub: str, sysid: int) -> int:
    """The id a console in broker mode gives the vehicle ``sysid`` of ``hub``: the same on
    every console (derived from the hub's name), distinct for the same system id on two hubs,
    with the system id in its low byte (``256 * h + sysid``, 1 .. 2**31 - 1, where ``h``
    in 1 .. 2**23 - 1 is a hash of the hub's name).

    Examples
    --------
    >>> vehicle_id("north", 1) == vehicle_id("north", 1) != vehicle_id("south", 1)
    True
    >>> vehicle_id("north", 7) % 256, 0 < vehicle_id("north", 255) < 2**31
    (7, True)
    """
    if not 0 <= sysid <= 255:
        raise ValueError(f"Expected a system id in 0..255, got {sysid}")
    digest = hashlib.blake2b(hub.encode("utf-8"), digest_size=4).digest()
    return (int.from_bytes(digest, "big") % (2**23 - 1) + 1) * 256 + sysid


def sysid_key(hub: str, sysid: int) -> int:
    """A vehicle's key by system id alone (one network: the hub does not matter)."""
    return sysid


def _round(value: Any, digits: int | None) -> Any:
    if digits is None or value is None or isinstance(value, bool) or \
            not isinstance(value, int | float) or not math.isfinite(value):
        return None if isinstance(value, float) and not math.isfinite(value) else value
    if digits == 0:
        return round(value)
    return round(float(value), digits) + 0.0


def state_fields(snap: VehicleSnapshot, speedup: float | None = None) -> dict[str, Any]:
    """The bus fields of ``snap`` (:data:`gcs.bus.messages.STATE_FIELDS`), rounded."""
    t = snap.terrain
    here = t is not None and t.has_data
    raw: dict[str, Any] = {
        "link_url": snap.link_url, "lat_deg": snap.lat_deg, "lon_deg": snap.lon_deg,
        "alt_amsl_m": snap.alt_amsl_m, "alt_rel_m": snap.alt_rel_m,
        "alt_agl_m": snap.alt_agl_m, "groundspeed_m_s": snap.groundspeed_m_s,
        "climb_m_s": snap.climb_m_s, "heading_deg": snap.heading_deg,
        "battery_pct": snap.battery_pct, "battery_consumed_mah": snap.battery_consumed_mah,
        "battery_voltage_v": snap.battery_voltage_v, "mode": snap.mode, "armed": snap.armed,
        "system_status": snap.system_status, "mission_seq": snap.mission_seq,
        "mission_total": snap.mission_total, "last_reached_seq": snap.last_reached_seq,
        "gps_fix_type": snap.gps_fix_type, "satellites": snap.satellites,
        "ekf_ok": snap.ekf_ok, "home_lat_deg": snap.home_lat_deg,
        "home_lon_deg": snap.home_lon_deg, "home_alt_amsl_m": snap.home_alt_amsl_m,
        "fence_breached": snap.fence_breached, "last_text": snap.last_text,
        "hb_age_s": 0 if snap.heartbeat_age_s < HB_AGE_QUIET_S
        else int(snap.heartbeat_age_s),
        "loss_rate": snap.loss_rate,
        "terrain_amsl_m": t.terrain_height_amsl_m if t is not None and here else None,
        "terrain_agl_m": t.current_height_m if t is not None and here else None,
        "terrain_pending": None if t is None else t.pending_tiles,
        "terrain_loaded": None if t is None else t.loaded_tiles,
        "speedup": speedup}
    return {k: _round(v, STATE_FIELDS[k][1]) for k, v in raw.items()}


class StateEncoder:
    """The state messages of one vehicle, from its successive fields.

    A full snapshot goes out first, every ``full_every_s``, as soon as more than a third of
    the fields changed since the last one, and when a keep-alive would repeat changes (the
    state settled); in between, a message with the
    fields that differ from that snapshot whenever something changed, and at least every
    ``keepalive_s`` (so that receivers know the vehicle is still heard). Not thread-safe.
    """

    def __init__(self, worker: str, *, full_every_s: float = 30.0,
                 keepalive_s: float = 2.0) -> None:
        self.worker = worker
        self.full_every_s = full_every_s
        self.keepalive_s = keepalive_s
        self.seq = 0
        self._full: dict[str, Any] | None = None
        self._full_seq = 0
        self._full_at_s = -math.inf
        self._sent: dict[str, Any] = {}
        self._sent_at_s = -math.inf

    def due(self, now_s: float) -> bool:
        """Whether a message is due at ``now_s`` even if nothing changed (a keep-alive or the
        next full snapshot)."""
        return now_s - self._sent_at_s >= self.keepalive_s or \
            now_s - self._full_at_s >= self.full_every_s

    def encode(self, fields: Mapping[str, Any], *, now_s: float,
               force_full: bool = False) -> StateMessage | None:
        """The message to publish for ``fields`` at wall time ``now_s`` (Unix s), or None
        when nothing is due."""
        fields = dict(fields)
        change: dict[str, Any] = {}
        if self._full is not None:
            full = self._full
            change = {k: v for k, v in fields.items() if full.get(k) != v}
            change.update({k: None for k in full if k not in fields})
        if force_full or self._full is None or now_s - self._full_at_s >= self.full_every_s \
                or len(change) * REBASE_SHARE > len(fields) \
                or (change and fields == self._sent and
                    now_s - self._sent_at_s >= self.keepalive_s):  # settled: a new base
            self.seq += 1
            self._full, self._full_seq, self._full_at_s = fields, self.seq, now_s
            self._sent, self._sent_at_s = fields, now_s
            return StateMessage(worker=self.worker, seq=self.seq, sent_at_s=round(now_s, 2),
                                full=True, base_seq=self.seq, fields=fields)
        if fields == self._sent and now_s - self._sent_at_s < self.keepalive_s:
            return None
        self.seq += 1
        self._sent, self._sent_at_s = fields, now_s
        return StateMessage(worker=self.worker, seq=self.seq, sent_at_s=round(now_s, 2),
                            full=False, base_seq=self._full_seq, fields=change)


@dataclass(frozen=True, slots=True, kw_only=True)
class HeardVehicle:
    """What a console holds of one vehicle: its hub, the worker that sent it, its fields
    (the last full snapshot with the later changes), and when the worker sent them (Unix s,
    the worker's clock)."""

    hub: str
    sysid: int
    worker: str
    fields: Mapping[str, Any]
    sent_at_s: float
    seq: int
    #: The key the book holds it by (its system id, or :func:`vehicle_id` of hub and
    #: system id).
    key: int


class StateBook:
    """The latest state of every vehicle heard on the bus, by ``key(hub, sysid)``
    (thread-safe).

    By default the key is the system id (:func:`sysid_key`: system ids unique across hubs,
    as on one radio network; a vehicle heard from another hub replaces the one held); with
    ``key=vehicle_id`` the same system id on two hubs is two vehicles.
    """

    def __init__(self, key: Callable[[str, int], int] = sysid_key) -> None:
        self.key = key
        self._lock = threading.Lock()
        self._full: dict[int, tuple[int, dict[str, Any]]] = {}
        self._held: dict[int, HeardVehicle] = {}

    def apply(self, hub: str, sysid: int, msg: StateMessage) -> HeardVehicle | None:
        """Take ``msg`` in; the vehicle's new state, or None when the message is older than
        the one held (a late or repeated delivery)."""
        sysid_in = sysid
        sysid = self.key(hub, sysid_in)
        with self._lock:
            held = self._held.get(sysid)
            same_source = held is not None and held.worker == msg.worker and held.hub == hub
            if same_source and held is not None and msg.seq <= held.seq \
                    and msg.sent_at_s <= held.sent_at_s:   # (a restarted worker counts anew)
                return None
            if msg.full:
                base = dict(msg.fields)
                self._full[sysid] = (msg.seq, base)
                fields = base
            else:
                base_held = self._full.get(sysid)
                if same_source and base_held is not None and base_held[0] == msg.base_seq:
                    known = base_held[1]
                else:  # its snapshot was missed: the fields held, until the next snapshot
                    known = dict(held.fields) if held is not None else {}
                fields = {**known, **msg.fields}
            heard = HeardVehicle(hub=hub, sysid=sysid_in, worker=msg.worker, fields=fields,
                                 sent_at_s=msg.sent_at_s, seq=msg.seq, key=sysid)
            self._held[sysid] = heard
            return heard

    def vehicles(self) -> dict[int, HeardVehicle]:
        """Every vehicle held, by key."""
        with self._lock:
            return dict(self._held)

    def get(self, key: int) -> HeardVehicle | None:
        """The vehicle held by ``key`` (None: never heard)."""
        with self._lock:
            return self._held.get(key)


def snapshot_of(heard: HeardVehicle, *, now_wall_s: float | None = None,
                now_mono_s: float | None = None) -> VehicleSnapshot:
    """A snapshot of what the console holds of a vehicle, whose ``sysid`` is the book's key
    of it: its heartbeat's age grows with the time since its worker sent the state (wall
    clocks of both machines)."""
    f = heard.fields
    wall = time.time() if now_wall_s is None else now_wall_s
    mono = time.monotonic() if now_mono_s is None else now_mono_s
    age_s = float(f.get("hb_age_s") or 0) + max(0.0, wall - heard.sent_at_s)
    pending, loaded = f.get("terrain_pending"), f.get("terrain_loaded")
    terrain = None
    if pending is not None or loaded is not None:
        here = f.get("terrain_amsl_m") is not None
        terrain = TerrainReport(
            lat_deg=float(f.get("lat_deg") or 0.0) if here else 0.0,
            lon_deg=float(f.get("lon_deg") or 0.0) if here else 0.0,
            spacing_m=30 if here else 0,
            terrain_height_amsl_m=float(f.get("terrain_amsl_m") or 0.0),
            current_height_m=float(f.get("terrain_agl_m") or 0.0),
            pending_tiles=int(pending or 0), loaded_tiles=int(loaded or 0))
    return VehicleSnapshot(
        sysid=heard.key, link_url=str(f.get("link_url") or f"mqtt:{heard.hub}"),
        time_s=mono, received_s=mono - age_s, position_age_s=age_s, boot_time_s=None,
        lat_deg=f.get("lat_deg"), lon_deg=f.get("lon_deg"), alt_amsl_m=f.get("alt_amsl_m"),
        alt_rel_m=f.get("alt_rel_m"), alt_agl_m=f.get("alt_agl_m"),
        groundspeed_m_s=f.get("groundspeed_m_s"), climb_m_s=f.get("climb_m_s"),
        heading_deg=f.get("heading_deg"), battery_pct=f.get("battery_pct"),
        battery_consumed_mah=f.get("battery_consumed_mah"),
        battery_voltage_v=f.get("battery_voltage_v"), battery_current_a=None,
        mode=str(f.get("mode") or "UNKNOWN"), armed=bool(f.get("armed")),
        system_status=int(f.get("system_status") or 0), mission_seq=f.get("mission_seq"),
        mission_total=f.get("mission_total"), mission_state=None,
        last_reached_seq=f.get("last_reached_seq"),
        gps_fix_type=int(f.get("gps_fix_type") or 0), satellites=int(f.get("satellites") or 0),
        ekf_flags=None, ekf_ok=f.get("ekf_ok"), prearm_ok=None,
        home_lat_deg=f.get("home_lat_deg"), home_lon_deg=f.get("home_lon_deg"),
        home_alt_amsl_m=f.get("home_alt_amsl_m"),
        fence_breached=bool(f.get("fence_breached")), fence_breach_count=0,
        last_text=f.get("last_text"), heartbeat_age_s=age_s,
        loss_rate=float(f.get("loss_rate") or 0.0), terrain=terrain)
