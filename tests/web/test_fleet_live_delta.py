"""The crew stream's encoding: figures rounded to what a map and a card need, deltas that
rebuild the full state, stale thresholds by rate, and compression a client decodes chunk by
chunk."""

from __future__ import annotations

import json
import zlib
from typing import Any

import pytest

from web.events import CompressedStream, pick_coding
from web.fleet_delta import (
    CREW_FIELDS,
    apply_delta,
    crew_vehicle,
    delta,
    fleet_delta,
    round_figure,
    stale_after_s,
)

FULL: dict[str, Any] = {"sysid": 3, "link_url": "tcp:127.0.0.1:5760", "lat_deg": 44.061812999123,
        "lon_deg": -71.136854000987, "alt_rel_m": 49.8361, "alt_agl_m": 31.04,
        "terrain_agl_m": None, "groundspeed_m_s": 11.9649, "heading_deg": 271.3,
        "battery_pct": 87, "mode": "AUTO", "armed": True, "mission_seq": 4,
        "mission_total": 12, "heartbeat_age_s": 0.3, "loss_rate": 0.01234, "gps_fix_type": 3,
        "last_text": "Reached waypoint #4", "terrain_pending": 0, "terrain_loaded": 56,
        "name": "heavy_octo-1", "phase": "flying", "sortie_id": "S001", "current_drop": "P014",
        "message": None, "heard_at": 1_765_000_000.4321, "eta_at": 1_765_000_093.2}


@pytest.mark.parametrize(("value", "digits", "expected"), [
    (44.061812999, 5, 44.06181), (-71.136854001, 5, -71.13685), (49.8361, 1, 49.8),
    (-0.04, 1, 0.0), (87.4, 0, 87), (1_765_000_093.2, -1, 1_765_000_095.0),
    (None, 1, None), (True, 1, True), ("AUTO", 1, "AUTO"), (3, None, 3)])
def test_round_figure(value: Any, digits: int | None, expected: Any) -> None:
    """Each figure is rounded to its digits; None, flags and text pass unchanged; no -0.0."""
    got = round_figure(value, digits)
    assert got == expected and type(got) is type(expected)
    if isinstance(got, float):
        assert str(got) != "-0.0"


def test_crew_vehicle_keeps_what_the_card_and_map_need() -> None:
    """Only the crew fields, rounded: position to 5 decimals (about 1 m), heights and speed
    to 0.1, the loss to a percent; the link URL, headings and counters are left out."""
    v = crew_vehicle(FULL)
    assert set(v) == set(CREW_FIELDS)
    assert v["lat_deg"] == 44.06181 and v["lon_deg"] == -71.13685
    assert v["alt_rel_m"] == 49.8 and v["groundspeed_m_s"] == 12.0 and v["loss_rate"] == 0.01
    assert v["heard_at"] == 1_765_000_000.4 and v["eta_at"] == 1_765_000_095.0
    assert "link_url" not in v and "heading_deg" not in v and "last_text" not in v
    assert len(json.dumps(v, separators=(",", ":"))) < len(json.dumps(FULL)) * 0.7


def test_delta_sends_only_changes_and_rebuilds_the_state() -> None:
    """A sequence of states sent as a first full state and deltas rebuilds every state."""
    states = [crew_vehicle(FULL)]
    for i in range(1, 20):
        states.append(crew_vehicle({**FULL, "lat_deg": FULL["lat_deg"] + i * 1e-4,
                                    "heard_at": FULL["heard_at"] + i,
                                    "battery_pct": 87 - i // 5, "mode": "AUTO" if i < 15
                                    else "RTL"}))
    client: dict[str, Any] | None = None
    sent: dict[str, Any] | None = None
    for state in states:
        change = delta(sent, state)
        client = apply_delta(client, change)
        sent = state
        assert client == state
    assert set(delta(states[4], states[5])) == {"lat_deg", "heard_at", "battery_pct"}
    assert set(delta(states[5], states[6])) == {"lat_deg", "heard_at"}
    assert delta(states[5], states[5]) == {}


def test_fleet_delta_adds_changes_and_removes_vehicles() -> None:
    """Vehicles that appear come whole, changed ones as their changes, gone ones as None."""
    a = crew_vehicle(FULL)
    b = crew_vehicle({**FULL, "sysid": 4})
    moved = {**a, "alt_rel_m": 51.0}
    change = fleet_delta({"3": a, "4": b}, {"3": moved, "5": b})
    assert change == {"3": {"alt_rel_m": 51.0}, "5": b, "4": None}
    assert fleet_delta({"3": a}, {"3": dict(a)}) == {}


@pytest.mark.parametrize(("rate_hz", "stale_s"), [(5.0, 5.0), (1.0, 5.0), (0.5, 6.0),
                                                  (0.1, 30.0)])
def test_stale_threshold_follows_the_rate(rate_hz: float, stale_s: float) -> None:
    """Stale after 5 s, or three periods of a slower stream."""
    assert stale_after_s(rate_hz) == pytest.approx(stale_s)


@pytest.mark.parametrize(("header", "coding"), [
    ("gzip, deflate, br", "gzip"), ("br, deflate", "deflate"), ("identity", None), ("", None),
    ("gzip;q=0, deflate;q=0.5", "deflate"), ("GZIP", "gzip"), ("gzip;q=x", None)])
def test_pick_coding(header: str, coding: str | None) -> None:
    """gzip when accepted, else deflate, else none; q=0 refuses a coding."""
    assert pick_coding(header) == coding


@pytest.mark.parametrize(("coding", "wbits"), [("gzip", 31), ("deflate", 15)])
def test_compressed_stream_decodes_chunk_by_chunk(coding: str, wbits: int) -> None:
    """Every compressed chunk decodes at once to its event (a client sees each tick as it
    comes), and the whole stream is much smaller than the text."""
    ticks = [{"t": 1765000000.0 + i, "v": {"1": {"heard_at": 1765000000.0 + i}}}
             for i in range(60)]
    events = [f"event: tick\ndata: {json.dumps(t)}\n\n" for t in ticks]
    decoder = zlib.decompressobj(wbits)
    total = 0
    for text, chunk in zip(events, CompressedStream(iter(events), coding), strict=False):
        total += len(chunk)
        assert decoder.decompress(chunk).decode() == text
    assert total < sum(len(e) for e in events) / 3


def test_compressed_stream_closes_its_inner_stream() -> None:
    """Closing the compressed stream (the server does when the client goes) closes the
    stream inside, even before its first chunk."""
    closed = []

    class Inner:
        def __iter__(self) -> Inner:
            return self

        def __next__(self) -> str:
            return "data: x\n\n"

        def close(self) -> None:
            closed.append(True)

    stream = CompressedStream(Inner(), "gzip")
    stream.close()
    assert closed == [True]
