"""Helpers for simulator tests: where the recorded traces are, and a socket-free ground station
driving one built-in vehicle step by step."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.helpers.shared_data import SHARED

TRACES = SHARED / "ardupilot" / "traces"

#: Home of the recorded traces (lat, lon, alt AMSL).
TRACE_HOME = (30.3165, 78.0322, 640.0)
#: Metres per degree of latitude.
M_PER_DEG_LAT = 111_319.49


def north_slope_dem(home_alt_m: float, rise_m_per_km: float) -> Any:
    """Terrain rising (or falling) northwards at a constant rate around the traces' home,
    ``home_alt_m`` there: a :class:`~planner.terrain.Dem` several blocks of terrain wide."""
    import numpy as np

    from planner.terrain import Dem, DemTile

    south, north = 30.28, 30.36
    rise_m_per_deg = rise_m_per_km * M_PER_DEG_LAT / 1000.0
    heights = home_alt_m + rise_m_per_deg * (np.array([[north], [south]]) - TRACE_HOME[0])
    tile = DemTile(heights_m=np.repeat(heights, 2, axis=1), west_deg=77.99, north_deg=north,
                   dlon_deg=0.1, dlat_deg=north - south)
    return Dem(tiles=(tile,))


class OfflineGcs:
    """Drives one :class:`~sitl.builtin.SimVehicle` without sockets, step by step.

    Messages go through real MAVLink encoding both ways (so headers, sysids and signing are
    as on a link); ``log`` holds ``(sim_time_s, message)`` of everything the vehicle sent.
    """

    def __init__(self, *, sysid: int = 1, gcs: tuple[int, int] = (255, 190),
                 **kwargs: Any) -> None:
        from gcs.mavlink import codec
        from sitl.builtin import SimVehicle
        from sitl.builtin.flight.geo import LocalFrame

        home = kwargs.pop("home", TRACE_HOME)
        kwargs.setdefault("settle_s", 2.0)
        self.vehicle = SimVehicle(sysid=sysid, start=home, frame=LocalFrame(home[0], home[1]),
                                  **kwargs)
        self.sysid = sysid
        self.codecs = {gcs: codec(*gcs)}
        self.gcs = gcs
        self._vehicle_in = codec(sysid, 1)
        self._vehicle_out = codec(sysid, 1)
        self._gcs_in = codec(*gcs)
        self.log: list[tuple[float, Any]] = []
        self.dem: Any = None

    def serve_terrain(self, dem: Any) -> None:
        """Answer the vehicle's TERRAIN_REQUESTs from ``dem`` from now on (as the ground
        station's terrain server, :mod:`gcs.terrain`) and ask for the EXTRA3 stream that
        carries them."""
        from gcs.mavlink import dialect as mav

        self.dem = dem
        self.send(mav.MAVLink_request_data_stream_message(
            self.sysid, 1, mav.MAV_DATA_STREAM_EXTRA3, 4, 1))

    @property
    def t(self) -> float:
        """Simulated seconds since boot."""
        return float(self.vehicle.t)

    def send(self, msg: Any, *, gcs: tuple[int, int] | None = None,
             mavlink1: bool = False) -> None:
        """Deliver one message from a ground station (default 255/190)."""
        from gcs.mavlink import codec

        src = gcs or self.gcs
        enc = self.codecs.setdefault(src, codec(*src))
        for m in self._vehicle_in.parse_buffer(msg.pack(enc, force_mavlink1=mavlink1)) or []:
            self.vehicle.link_v1 = m.get_msgbuf()[0] == 0xFE
            self.vehicle.handle(m)
        self._collect()

    def _collect(self) -> None:
        v = self.vehicle
        requests = []
        for m in v.outbox:
            for d in self._gcs_in.parse_buffer(m.pack(self._vehicle_out)) or []:
                self.log.append((v.t, d))
                if self.dem is not None and d.get_type() == "TERRAIN_REQUEST":
                    requests.append(d)
        v.outbox.clear()
        for request in requests:
            self._answer_terrain(request)

    def _answer_terrain(self, request: Any) -> None:
        from gcs.mavlink import dialect as mav
        from gcs.terrain import mask_bits, tile_heights_m

        for bit in mask_bits(request.mask):
            heights = tile_heights_m(self.dem, request.lat, request.lon, request.grid_spacing,
                                     bit)
            if heights is not None:
                self.send(mav.MAVLink_terrain_data_message(request.lat, request.lon,
                                                           request.grid_spacing, bit, heights))

    def run(self, seconds: float) -> None:
        """Advance ``seconds`` of simulated time."""
        end = self.vehicle.t + seconds - 1e-9
        while self.vehicle.t < end:
            self.vehicle.step()
            self._collect()

    def run_until(self, predicate: Callable[[], bool], limit_s: float = 600.0,
                  step_s: float = 0.05) -> bool:
        """Advance until ``predicate()`` or ``limit_s``; whether it became true."""
        end = self.vehicle.t + limit_s
        while self.vehicle.t < end:
            self.vehicle.step()
            self._collect()
            if predicate():
                return True
        return False

    def since(self, start: int, kind: str | None = None) -> list[Any]:
        """Messages logged after index ``start`` (of one type)."""
        return [m for _, m in self.log[start:] if kind is None or m.get_type() == kind]

    def of(self, kind: str) -> list[Any]:
        """Every logged message of one type."""
        return self.since(0, kind)

    def texts(self, start: int = 0) -> list[str]:
        """Reassembled STATUSTEXTs logged after ``start``."""
        out: list[str] = []
        chunks: dict[int, str] = {}
        for m in self.since(start, "STATUSTEXT"):
            if m.id:
                chunks[m.id] = chunks.get(m.id, "") + m.text
                if len(m.text) < 50:
                    out.append(chunks.pop(m.id))
            else:
                out.append(m.text)
        return out

    def command(self, command: int, *params: float) -> Any:
        """COMMAND_LONG; the COMMAND_ACK it got."""
        from gcs.mavlink import dialect as mav

        start = len(self.log)
        p = [float(x) for x in params] + [0.0] * (7 - len(params))
        self.send(mav.MAVLink_command_long_message(self.sysid, 1, command, 0, *p))
        acks = [m for m in self.since(start, "COMMAND_ACK") if m.command == command]
        assert acks, f"no COMMAND_ACK for {command}"
        return acks[0]

    def set_mode(self, name: str) -> Any:
        """DO_SET_MODE by name; the COMMAND_ACK."""
        from gcs.mavlink import COPTER_MODES

        return self.command(176, 1, COPTER_MODES[name])

    def arm(self, force: bool = False) -> Any:
        """Arm; the COMMAND_ACK."""
        return self.command(400, 1, 21196 if force else 0)

    def upload(self, rows: list[tuple[float, ...]], mission_type: int = 0) -> int:
        """Upload MISSION_ITEM_INT rows (frame, cmd, p1..p4, x, y, z); the MISSION_ACK type."""
        from gcs.mavlink import dialect as mav

        start = len(self.log)
        self.send(mav.MAVLink_mission_count_message(self.sysid, 1, len(rows), mission_type))
        for _ in range(len(rows) + 1):
            answers = [m for m in self.since(start) if m.get_type() in (
                "MISSION_REQUEST", "MISSION_ACK") and m.mission_type == mission_type]
            last = answers[-1]
            if last.get_type() == "MISSION_ACK":
                return int(last.type)
            start = len(self.log)
            r = rows[last.seq]
            self.send(mav.MAVLink_mission_item_int_message(
                self.sysid, 1, last.seq, int(r[0]), int(r[1]), 0, 1, r[2], r[3], r[4], r[5],
                int(r[6]), int(r[7]), r[8], mission_type))
        raise AssertionError("upload did not finish")

    def download(self, mission_type: int = 0) -> list[Any]:
        """Download with MISSION_REQUEST_INT; the MISSION_ITEM_INT messages."""
        from gcs.mavlink import dialect as mav

        start = len(self.log)
        self.send(mav.MAVLink_mission_request_list_message(self.sysid, 1, mission_type))
        count = self.since(start, "MISSION_COUNT")[-1].count
        items = []
        for seq in range(count):
            start = len(self.log)
            self.send(mav.MAVLink_mission_request_int_message(self.sysid, 1, seq,
                                                              mission_type))
            items.append(self.since(start, "MISSION_ITEM_INT")[-1])
        self.send(mav.MAVLink_mission_ack_message(self.sysid, 1, 0, mission_type))
        return items

    def ready(self) -> None:
        """Run until the pre-arm checks pass."""
        assert self.run_until(lambda: self.vehicle.prearm_ok_cached, 120.0)

    def fly(self, rows: list[tuple[float, ...]], *, start_mode: str = "GUIDED") -> float:
        """Upload a mission (home first), arm and MISSION_START; the start time."""
        self.ready()
        assert self.upload(rows) == 0
        assert self.set_mode(start_mode).result == 0
        ack = self.arm()
        assert ack.result == 0, self.texts()[-3:]
        assert self.command(300).result == 0
        return self.t
