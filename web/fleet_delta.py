"""The crew view's light live stream: vehicle figures rounded to what a map and a card need,
and deltas (only the fields that changed since the last state a client was sent).

Pure functions of JSON-ready dictionaries; :mod:`web.fleet_live` samples the fleet and sends
what they return.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Decimals each figure of a vehicle is rounded to for the crew view (None: sent as is).
#: 5 decimals of a degree are about 1.1 m, finer than a map at street zoom shows; heights and
#: speeds to 0.1, the link loss to a percent, the ETA (Unix s) to 5 s (shown in minutes).
CREW_FIELDS: dict[str, int | None] = {
    "sysid": None, "name": None, "mode": None, "armed": None, "phase": None,
    "sortie_id": None, "current_drop": None, "message": None,
    "lat_deg": 5, "lon_deg": 5, "alt_rel_m": 1, "alt_agl_m": 1, "terrain_agl_m": 1,
    "groundspeed_m_s": 1, "battery_pct": 0, "loss_rate": 2, "terrain_pending": None,
    "heard_at": 1, "eta_at": -1, "field_landing": None,
}
#: The ETA is rounded to this many seconds.
ETA_STEP_S = 5.0


def round_figure(value: Any, digits: int | None) -> Any:
    """``value`` rounded to ``digits`` decimals (integers for 0 digits, multiples of
    :data:`ETA_STEP_S` for -1); None, text and flags unchanged.

    Examples
    --------
    >>> round_figure(44.123456789, 5), round_figure(12.345, 1), round_figure(99.6, 0)
    (44.12346, 12.3, 100)
    >>> round_figure(1765000003.2, -1), round_figure(None, 1), round_figure(True, 1)
    (1765000005.0, None, True)
    """
    if digits is None or value is None or isinstance(value, bool) \
            or not isinstance(value, int | float):
        return value
    if digits < 0:
        return round(value / ETA_STEP_S) * ETA_STEP_S + 0.0
    if digits == 0:
        return round(value)
    return round(float(value), digits) + 0.0   # never -0.0


def crew_vehicle(vehicle: Mapping[str, Any]) -> dict[str, Any]:
    """The crew view's figures of a vehicle (the fleet page's full vehicle JSON with
    ``heard_at``, the server's Unix time of its last message), rounded.

    Fields the crew card does not show (link URL, GPS fix, mission counters, terrain tiles
    loaded, the last status text) are left out; a missing field is None.

    Examples
    --------
    >>> crew_vehicle({"sysid": 1, "lat_deg": 44.1234567, "gps_fix_type": 3})["lat_deg"]
    44.12346
    """
    return {key: round_figure(vehicle.get(key), digits) for key, digits in CREW_FIELDS.items()}


def delta(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of ``new`` that differ from ``old`` (every field when there is no ``old``);
    a field ``old`` had and ``new`` has not is sent as None.

    Examples
    --------
    >>> delta({"a": 1, "b": 2, "c": 3}, {"a": 1, "b": 5})
    {'b': 5, 'c': None}
    >>> delta(None, {"a": 1})
    {'a': 1}
    """
    if old is None:
        return dict(new)
    out = {k: v for k, v in new.items() if k not in old or old[k] != v}
    out.update({k: None for k in old if k not in new})
    return out


def apply_delta(old: Mapping[str, Any] | None, change: Mapping[str, Any]) -> dict[str, Any]:
    """``old`` with ``change`` applied (what a client does with a delta).

    Examples
    --------
    >>> apply_delta({"a": 1, "b": 2}, {"b": 5})
    {'a': 1, 'b': 5}
    """
    return {**(old or {}), **change}


def fleet_delta(old: Mapping[str, Mapping[str, Any]],
                new: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any] | None]:
    """The change from one set of vehicles (by system id as text) to the next: the changed
    fields of each vehicle that changed, None for a vehicle no longer heard.

    Examples
    --------
    >>> fleet_delta({"1": {"alt": 1.0}, "2": {"alt": 0.0}}, {"1": {"alt": 1.5}, "3": {"alt": 2}})
    {'1': {'alt': 1.5}, '3': {'alt': 2}, '2': None}
    """
    out: dict[str, dict[str, Any] | None] = {}
    for sysid, vehicle in new.items():
        change = delta(old.get(sysid), vehicle)
        if change:
            out[sysid] = change
    out.update({sysid: None for sysid in old if sysid not in new})
    return out


#: Rates (Hz) a client may ask the crew stream for, and the default (a crew's phone).
RATE_MIN_HZ, RATE_MAX_HZ, RATE_DEFAULT_HZ = 0.1, 5.0, 1.0
#: A vehicle not heard for this long (at most) is shown stale, whatever the rate.
STALE_MIN_S = 5.0


def stale_after_s(rate_hz: float) -> float:
    """Seconds without news after which a vehicle (or the stream) is shown stale: 5 s, or
    three periods of a slower stream.

    Examples
    --------
    >>> stale_after_s(1.0), stale_after_s(0.2)
    (5.0, 15.0)
    """
    return max(STALE_MIN_S, 3.0 / rate_hz)
