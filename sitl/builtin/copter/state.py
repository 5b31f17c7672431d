"""The inspectable state of one simulated vehicle (a frozen snapshot)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class VehicleState:
    """What a simulated vehicle is doing at one instant of simulated time.

    Positions are true (noise-free) positions: ``lat_deg``/``lon_deg`` in degrees,
    ``alt_amsl_m`` above mean sea level, ``alt_rel_m`` above home, ``alt_agl_m`` above the
    terrain below the vehicle.
    """

    sysid: int
    time_s: float
    lat_deg: float
    lon_deg: float
    alt_amsl_m: float
    alt_rel_m: float
    alt_agl_m: float
    groundspeed_m_s: float
    climb_m_s: float
    heading_deg: float
    mode: str
    armed: bool
    flying: bool
    battery_remaining_pct: int
    battery_consumed_mah: float
    battery_voltage_v: float
    battery_current_a: float
    mission_seq: int
    mission_total: int
    mission_state: str
    gripper_released_count: int
    winch_commands: int
    payload_kg: float
    home_lat_deg: float
    home_lon_deg: float
    home_alt_amsl_m: float
    ready_to_arm: bool
    fence_breached: bool
    failsafes: tuple[str, ...]
    link_connected: bool
    distance_flown_m: float
    #: Where each parcel was let go: true (lat_deg, lon_deg, alt_agl_m) at the release.
    release_positions: tuple[tuple[float, float, float], ...] = ()
    #: Where each parcel was taken on by a gripper grab (a pickup), the same way.
    grab_positions: tuple[tuple[float, float, float], ...] = ()
