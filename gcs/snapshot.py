"""What one vehicle last reported, as an immutable value: :class:`VehicleSnapshot`.

The telemetry hub (:mod:`gcs.telemetry`) keeps a mutable state per vehicle and hands out
snapshots of it; fleet operations, the console and the command line read only snapshots.
:data:`STATE_TYPES` names the messages that can change a snapshot, :data:`URGENT_TYPES` those
whose change is published at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from gcs.terrain import TerrainReport

#: Message types that change a snapshot.
STATE_TYPES = frozenset({
    "HEARTBEAT", "GLOBAL_POSITION_INT", "VFR_HUD", "SYS_STATUS", "BATTERY_STATUS", "GPS_RAW_INT",
    "EKF_STATUS_REPORT", "MISSION_CURRENT", "HOME_POSITION", "FENCE_STATUS", "STATUSTEXT",
    "MISSION_ITEM_REACHED", "TERRAIN_REPORT"})
#: Messages whose change is published to subscribers at once (others ride along with these).
URGENT_TYPES = frozenset({"GLOBAL_POSITION_INT", "MISSION_CURRENT", "MISSION_ITEM_REACHED",
                          "STATUSTEXT", "FENCE_STATUS", "HOME_POSITION"})


@dataclass(frozen=True, slots=True, kw_only=True)
class VehicleSnapshot:
    """What one vehicle last reported, at ``time_s`` (the ground station's monotonic clock).

    Positions are WGS84 degrees; ``alt_amsl_m`` above mean sea level, ``alt_rel_m`` above home,
    ``alt_agl_m`` above the terrain of the DEM (None without a DEM or outside it). Fields the
    vehicle has not reported yet are None. ``received_s`` is when the last message that changed
    the state arrived; ``heartbeat_age_s`` and ``loss_rate`` describe the link. ``terrain`` is
    the vehicle's last TERRAIN_REPORT about where it is (terrain height there, its height above
    it, tiles pending and loaded; None until one came).
    """

    sysid: int
    link_url: str
    time_s: float
    received_s: float
    position_age_s: float | None
    boot_time_s: float | None
    lat_deg: float | None
    lon_deg: float | None
    alt_amsl_m: float | None
    alt_rel_m: float | None
    alt_agl_m: float | None
    groundspeed_m_s: float | None
    climb_m_s: float | None
    heading_deg: float | None
    battery_pct: int | None
    battery_consumed_mah: float | None
    battery_voltage_v: float | None
    battery_current_a: float | None
    mode: str
    armed: bool
    system_status: int
    mission_seq: int | None
    mission_total: int | None
    mission_state: int | None
    last_reached_seq: int | None
    gps_fix_type: int
    satellites: int
    ekf_flags: int | None
    ekf_ok: bool | None
    prearm_ok: bool | None
    home_lat_deg: float | None
    home_lon_deg: float | None
    home_alt_amsl_m: float | None
    fence_breached: bool
    fence_breach_count: int
    last_text: str | None
    heartbeat_age_s: float
    loss_rate: float
    terrain: TerrainReport | None = None

    @property
    def has_position(self) -> bool:
        """True once a GLOBAL_POSITION_INT has been heard."""
        return self.lat_deg is not None and self.lon_deg is not None
