"""Ground-station moves shared by the simulator tests: get ready, arm, take off, fly, land.

Everything goes over MAVLink through :class:`tests.sitl.mavclient.MavClient`, so the same steps
run against the built-in simulator and real ArduPilot SITL. Durations are in simulated seconds
and turned into wall-clock timeouts with the backend's speedup.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from gcs.mavlink import COPTER_MODE_NAMES, dialect
from planner.items import Cmd, Frame, MissionItem, MissionType
from tests.sitl.helpers_mavclient import MavClient, MavClientError

mavlink = dialect
EARTH_RADIUS_M = 6_371_000.0


@dataclass
class Rig:
    """One started backend with a ground station connected to its first vehicle."""

    backend_name: str
    backend: Any
    client: MavClient
    speedup: float
    home: tuple[float, float, float]

    def wall_s(self, sim_s: float) -> float:
        """A generous wall-clock timeout for something taking ``sim_s`` simulated seconds."""
        return sim_s / self.speedup * 2.0 + 5.0

    def let_run(self, sim_s: float) -> None:
        """Keep receiving for about ``sim_s`` simulated seconds."""
        self.client.drain(sim_s / self.speedup)


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance in metres between two WGS84 points."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def offset(lat: float, lon: float, north_m: float, east_m: float) -> tuple[float, float]:
    """The point ``north_m``, ``east_m`` from (lat, lon), rounded to the 1e-7 degree grid."""
    dlat = math.degrees(north_m / EARTH_RADIUS_M)
    dlon = math.degrees(east_m / (EARTH_RADIUS_M * math.cos(math.radians(lat))))
    return round(lat + dlat, 7), round(lon + dlon, 7)


def mode_of(hb: Any) -> str:
    """Flight mode name of a HEARTBEAT."""
    return COPTER_MODE_NAMES.get(hb.custom_mode, str(hb.custom_mode))


def is_armed(hb: Any) -> bool:
    """Armed flag of a HEARTBEAT."""
    return bool(hb.base_mode & mavlink.MAV_MODE_FLAG_SAFETY_ARMED)


def wait_heartbeat_where(rig: Rig, cond: Any, sim_s: float, what: str) -> Any:
    """The first HEARTBEAT meeting ``cond`` within ``sim_s`` simulated seconds."""
    msg = rig.client.recv("HEARTBEAT", rig.wall_s(sim_s), cond)
    if msg is None:
        raise MavClientError(f"no HEARTBEAT with {what} within {sim_s} s simulated "
                             f"(texts: {rig.client.texts[-8:]})")
    return msg


def wait_mode(rig: Rig, mode: str, sim_s: float = 10.0) -> Any:
    """Wait for a HEARTBEAT in ``mode``."""
    return wait_heartbeat_where(rig, lambda m: mode_of(m) == mode, sim_s, f"mode {mode}")


def wait_disarmed(rig: Rig, sim_s: float) -> Any:
    """Wait for a disarmed HEARTBEAT."""
    return wait_heartbeat_where(rig, lambda m: not is_armed(m), sim_s, "disarmed")


def position(rig: Rig, sim_s: float = 5.0) -> Any:
    """The next GLOBAL_POSITION_INT."""
    return rig.client.expect("GLOBAL_POSITION_INT", rig.wall_s(sim_s))


def wait_rel_alt(rig: Rig, alt_m: float, sim_s: float, *, above: bool = True) -> Any:
    """Wait until the relative altitude is above (or below) ``alt_m``."""
    def ok(m: Any) -> bool:
        rel_m = float(m.relative_alt) / 1000
        return rel_m >= alt_m if above else rel_m <= alt_m
    return rig.client.expect("GLOBAL_POSITION_INT", rig.wall_s(sim_s), ok)


#: EKF_STATUS_REPORT flags of a vehicle that can arm in GUIDED (attitude, velocities, relative
#: and absolute position, predicted positions): 0x33f.
EKF_READY_FLAGS = 0x33F


def prepare(rig: Rig, params: dict[str, float] | None = None) -> None:
    """Streams on, parameters set (echo checked), and wait until the vehicle can arm in GUIDED.

    The pre-arm bit of SYS_STATUS is not enough: real SITL sets it at about 23 s while arming
    is still refused ("Need Position Estimate") until the EKF uses GPS (about 42 s), when
    EKF_STATUS_REPORT carries the flags 0x33f.
    """
    client = rig.client
    client.request_streams(4)
    for name, value in (params or {}).items():
        assert client.param_set(name, value) == value, name
    client.set_message_interval(mavlink.MAVLINK_MSG_ID_EKF_STATUS_REPORT, 4)
    client.wait_ready(rig.wall_s(60))
    client.expect("EKF_STATUS_REPORT", rig.wall_s(60),
                  lambda m: m.flags & EKF_READY_FLAGS == EKF_READY_FLAGS
                  and not m.flags & mavlink.EKF_CONST_POS_MODE)
    client.expect("GPS_RAW_INT", rig.wall_s(5), lambda m: m.fix_type >= 3)


def assert_accepted(rig: Rig, ack: Any, what: str) -> None:
    """A COMMAND_ACK arrived and says MAV_RESULT_ACCEPTED."""
    assert ack is not None, f"no COMMAND_ACK for {what}"
    assert ack.result == mavlink.MAV_RESULT_ACCEPTED, (what, ack.result, rig.client.texts[-5:])


def set_mode(rig: Rig, mode: str) -> None:
    """Ask for ``mode``, require ACCEPTED and see it in a HEARTBEAT."""
    ack = rig.client.set_mode(mode, timeout_s=rig.wall_s(5))
    assert_accepted(rig, ack, f"mode {mode}")
    wait_mode(rig, mode)


def arm(rig: Rig) -> None:
    """Arm (ACCEPTED) and see the armed flag."""
    ack = rig.client.arm(timeout_s=rig.wall_s(5))
    for _ in range(5):
        # Real SITL refuses for a moment after its pre-arm checks pass ("Arm: Logging not
        # started"): retry, as a ground station does.
        if ack is None or ack.result == mavlink.MAV_RESULT_ACCEPTED:
            break
        rig.let_run(1)
        ack = rig.client.arm(timeout_s=rig.wall_s(5))
    if ack is not None and ack.result != mavlink.MAV_RESULT_ACCEPTED:
        rig.client.drain(0.5)  # the refusal's STATUSTEXT follows the COMMAND_ACK
    assert_accepted(rig, ack, "arm")
    wait_heartbeat_where(rig, is_armed, 5, "armed")


def guided_takeoff(rig: Rig, alt_m: float) -> Any:
    """GUIDED, arm, MAV_CMD_NAV_TAKEOFF to ``alt_m``; return the position once there."""
    set_mode(rig, "GUIDED")
    for _ in range(3):
        arm(rig)
        ack = rig.client.command_long(mavlink.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, 0, 0, 0, alt_m,
                                      timeout_s=rig.wall_s(5))
        if ack is None or ack.result == mavlink.MAV_RESULT_ACCEPTED \
                or "Disarming motors" not in rig.client.texts[-3:]:
            break
        # Armed on the ground, the vehicle disarms itself after DISARM_DELAY of its own time
        # (half a wall second at 20x): a slow ground station is refused and arms again.
    assert_accepted(rig, ack, "takeoff")
    return wait_rel_alt(rig, alt_m - 1.0, alt_m + 20)


def start_mission(rig: Rig) -> None:
    """GUIDED, arm, MAV_CMD_MISSION_START (as NOTES: mode becomes AUTO and it takes off)."""
    set_mode(rig, "GUIDED")
    arm(rig)
    ack = rig.client.command_long(mavlink.MAV_CMD_MISSION_START, 0, 0, timeout_s=rig.wall_s(5))
    assert_accepted(rig, ack, "mission start")
    wait_mode(rig, "AUTO")


def home_item(rig: Rig) -> MissionItem:
    """Mission item 0 (home, AMSL) at the backend's home."""
    lat, lon, alt = rig.home
    return MissionItem(command=Cmd.NAV_WAYPOINT, frame=Frame.GLOBAL, lat_deg=round(lat, 7),
                       lon_deg=round(lon, 7), alt_m=alt)


def waypoint(lat: float, lon: float, alt_m: float, frame: int = Frame.GLOBAL_RELATIVE_ALT,
             command: int = Cmd.NAV_WAYPOINT, *, param1: float = 0.0) -> MissionItem:
    """A located mission item."""
    return MissionItem(command=command, frame=frame, lat_deg=lat, lon_deg=lon, alt_m=alt_m,
                       param1=param1)


def polygon(command: int, corners: Sequence[tuple[float, float]]) -> list[MissionItem]:
    """Fence vertex items (frame 0, param1 = vertex count) for (lat, lon) corners."""
    return [MissionItem(command=command, frame=Frame.GLOBAL, param1=float(len(corners)),
                        lat_deg=lat, lon_deg=lon, mission_type=MissionType.FENCE)
            for lat, lon in corners]


def square_around(lat: float, lon: float, north_m: float, east_m: float,
                  half_m: float) -> list[tuple[float, float]]:
    """Corners of a square of side ``2 * half_m`` centred ``north_m``/``east_m`` from a point."""
    return [offset(lat, lon, north_m + dn, east_m + de)
            for dn, de in ((-half_m, -half_m), (-half_m, half_m), (half_m, half_m),
                           (half_m, -half_m))]


def upload_ok(rig: Rig, items: Sequence[MissionItem], mission_type: int) -> None:
    """Upload and require MAV_MISSION_ACCEPTED."""
    result = rig.client.upload(items, mission_type, timeout_s=rig.wall_s(10))
    for _ in range(4):
        # The vehicle cancels an upload after 8 simulated seconds without an answer (0.8 s of
        # wall time at 10x), or refuses an item it asked for again after this client, late on a
        # loaded machine, already sent it (out of sequence): upload again as a ground station
        # would.
        if result not in (mavlink.MAV_MISSION_OPERATION_CANCELLED,
                          mavlink.MAV_MISSION_INVALID_SEQUENCE):
            break
        rig.client.drain(1.0)  # the failed transfer's late requests and acks
        result = rig.client.upload(items, mission_type, timeout_s=rig.wall_s(10))
    assert result == mavlink.MAV_MISSION_ACCEPTED, (mission_type, result)


#: Commands ArduCopter returns with frame 0 whatever frame they were uploaded with.
FRAMELESS = frozenset({Cmd.NAV_RETURN_TO_LAUNCH, Cmd.DO_GRIPPER, Cmd.DO_CHANGE_SPEED,
                       Cmd.DO_JUMP, Cmd.DO_WINCH})
_NON_INT_FRAME: dict[int, int] = {
    Frame.GLOBAL_RELATIVE_ALT_INT: Frame.GLOBAL_RELATIVE_ALT, Frame.GLOBAL_INT: Frame.GLOBAL,
    Frame.GLOBAL_TERRAIN_ALT_INT: Frame.GLOBAL_TERRAIN_ALT}


def as_returned(item: MissionItem) -> MissionItem:
    """An uploaded item as ArduCopter sends it back (``NOTES.md`` and the traces: frame 6 comes
    back as 3, RTL and DO_GRIPPER with frame 0, NAV_LAND param4 as 1.0, fence and rally items
    with autocontinue 0); home is compared separately."""
    frame = _NON_INT_FRAME.get(item.frame, item.frame)
    if item.mission_type == MissionType.MISSION and item.command in FRAMELESS:
        frame = Frame.GLOBAL
    out = replace(item, frame=int(frame),
                  autocontinue=item.autocontinue and item.mission_type == MissionType.MISSION)
    if item.command == Cmd.NAV_LAND:
        out = replace(out, param4=1.0)
    return out


def assert_round_trip(sent: Sequence[MissionItem], back: Sequence[MissionItem], *,
                      home: tuple[float, float, float] | None = None,
                      home_tol_m: float = 2.0) -> None:
    """``back`` is ``sent`` with ArduCopter's normalisations; a mission's item 0 is the
    vehicle's real home (within ``home_tol_m``)."""
    assert len(back) == len(sent), (len(back), len(sent))
    for k, (s, b) in enumerate(zip(sent, back, strict=True)):
        if home is not None and k == 0:
            assert b.command == Cmd.NAV_WAYPOINT and b.frame == Frame.GLOBAL
            assert distance_m(b.lat_deg, b.lon_deg, home[0], home[1]) < home_tol_m
            assert abs(b.alt_m - home[2]) < home_tol_m
            continue
        e = as_returned(s)
        assert (b.command, b.frame, b.mission_type, b.autocontinue) == \
            (e.command, e.frame, e.mission_type, e.autocontinue), (k, b, e)
        for name in ("param1", "param2", "param3", "param4", "alt_m"):
            assert math.isclose(getattr(b, name), getattr(e, name), abs_tol=1e-3), (k, name, b, e)
        assert (round(b.lat_deg * 1e7), round(b.lon_deg * 1e7)) == \
            (round(e.lat_deg * 1e7), round(e.lon_deg * 1e7)), (k, b, e)


def texts_matching(texts: Iterable[str], fragment: str) -> list[str]:
    """The texts containing ``fragment``."""
    return [t for t in texts if fragment in t]


def release_positions(log: Iterable[Any]) -> list[Any]:
    """The last GLOBAL_POSITION_INT before each "Gripper Released" STATUSTEXT.

    ArduCopter sends "Gripper Released" for every DO_GRIPPER release, but "Gripper load
    releasing" only when the gripper was closed: a second drop with the gripper still open
    from the first says "Gripper load released" at once.
    """
    last = None
    out = []
    for msg in log:
        kind = msg.get_type()
        if kind == "GLOBAL_POSITION_INT":
            last = msg
        elif kind == "STATUSTEXT":
            text = msg.text if isinstance(msg.text, str) else msg.text.decode(errors="replace")
            if "Gripper Released" in text:
                out.append(last)
    return out


def mode_changes(log: Iterable[Any], sysid: int = 1) -> list[str]:
    """The sequence of distinct flight modes in the vehicle's HEARTBEATs."""
    modes: list[str] = []
    for msg in log:
        if msg.get_type() == "HEARTBEAT" and msg.get_srcSystem() == sysid and \
                msg.type != mavlink.MAV_TYPE_GCS:
            name = mode_of(msg)
            if not modes or modes[-1] != name:
                modes.append(name)
    return modes
