"""The fleet page's JSON: a vehicle's figures, its terrain report, the run in progress and its
alerts (the telemetry rate the console asks of vehicles running faster than real time is
:func:`gcs.pacing.stream_rate_hz`).

Pure functions of what the fleet service holds; :class:`web.fleet_service.FleetService`
publishes what they return.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gcs.snapshot import VehicleSnapshot
from web.fleet_run import FleetRun


def terrain_json(snap: VehicleSnapshot) -> dict[str, Any]:
    """The vehicle's terrain report: ground height (m AMSL) and its height above it where it
    is (None where it has no terrain), tiles pending and loaded (None before any report)."""
    t = snap.terrain
    here = t is not None and t.has_data
    return {"terrain_amsl_m": round(t.terrain_height_amsl_m, 1) if t is not None and here
            else None,
            "terrain_agl_m": round(t.current_height_m, 1) if t is not None and here else None,
            "terrain_pending": None if t is None else t.pending_tiles,
            "terrain_loaded": None if t is None else t.loaded_tiles}


def snapshot_json(snap: VehicleSnapshot) -> dict[str, Any]:
    """The figures of a vehicle the fleet page shows."""
    def r(value: float | None, digits: int = 1) -> float | None:
        return None if value is None else round(value, digits)

    return {**terrain_json(snap), "sysid": snap.sysid, "link_url": snap.link_url,
            "lat_deg": snap.lat_deg, "lon_deg": snap.lon_deg, "alt_rel_m": r(snap.alt_rel_m),
            "alt_agl_m": r(snap.alt_agl_m),
            "groundspeed_m_s": r(snap.groundspeed_m_s), "heading_deg": r(snap.heading_deg, 0),
            "battery_pct": snap.battery_pct, "mode": snap.mode, "armed": snap.armed,
            "mission_seq": snap.mission_seq, "mission_total": snap.mission_total,
            "heartbeat_age_s": round(snap.heartbeat_age_s, 1),
            "loss_rate": round(snap.loss_rate, 3),
            "gps_fix_type": snap.gps_fix_type, "last_text": snap.last_text}


def run_json(run: FleetRun) -> dict[str, Any]:
    """The run in progress as the fleet page shows it: its plan, state, routes, which vehicle
    flies which drone, and the sorties it skips."""
    return {"plan_id": run.plan_id, "run_id": run.run_id, "started": run.started,
            "finished": run.finished, "routes": run.routes(),
            "assignment": run.manager.assignment,
            "resumed": run.manager.run is not None and run.manager.run.resumed,
            "resend_delivered": run.manager.resend_delivered,
            "skipped": dict(run.manager.skipped)}


def alert_json(alert: Mapping[str, Any], acked_by: str | None) -> dict[str, Any]:
    """An alert of the flight log as the fleet page shows it, with who acknowledged it (None:
    nobody yet)."""
    return {"id": alert["id"], "sysid": alert["sysid"], "sortie_id": alert["sortie_id"],
            "at": alert["at"], "kind": alert["kind"], "severity": alert["severity"],
            "message": alert["message"], "action": alert["action"], "acked_by": acked_by}


def heard_at_s(snap: VehicleSnapshot, now_wall_s: float) -> float:
    """Unix time (the server's clock) of the vehicle's last message, for the snapshot taken
    at wall time ``now_wall_s``.

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class S:
    ...     time_s: float
    ...     received_s: float
    >>> heard_at_s(S(time_s=100.0, received_s=58.5), 1_765_000_000.0)  # type: ignore[arg-type]
    1764999958.5
    """
    return now_wall_s - max(0.0, snap.time_s - snap.received_s)
