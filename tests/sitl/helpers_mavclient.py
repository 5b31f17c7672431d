"""A tiny blocking MAVLink ground station for tests, over :func:`gcs.mavlink.connect`.

It keeps the last 20000 received messages (``client.log``) and every reassembled STATUSTEXT
(``client.texts``), so that a test can wait for one answer and still assert on what came before.
Timeouts are wall-clock seconds; vehicle timers run on simulated time, so with a speedup the
vehicle does more per wall second.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from gcs.mavlink import GCS_COMPONENT_ID, GCS_SYSTEM_ID, connect, dialect
from planner.items import MissionItem, MissionType

mavlink = dialect


class MavClientError(AssertionError):
    """The vehicle did not answer as a test expected."""


class MavClient:
    """A blocking ground station connected to one vehicle.

    Parameters
    ----------
    url
        Connection string (``tcp:127.0.0.1:5760``, ``udpin:...``).
    target_system
        System id of the vehicle.
    source_system, source_component
        Ids stamped on sent messages (a ground station is 255/190).
    heartbeat_period_s
        Send a GCS HEARTBEAT whenever this much wall time has passed while receiving (0 = never).
    connect_retries
        TCP connection attempts before giving up.
    """

    def __init__(self, url: str, *, target_system: int = 1, target_component: int = 1,
                 source_system: int = GCS_SYSTEM_ID, source_component: int = GCS_COMPONENT_ID,
                 heartbeat_period_s: float = 1.0, connect_retries: int = 10) -> None:
        kwargs: dict[str, Any] = {}
        if url.startswith("tcp:"):
            kwargs = {"retries": connect_retries, "reconnect_delay": 0.2}
        self.conn = connect(url, source_system=source_system,
                            source_component=source_component, **kwargs)
        self.mav = self.conn.mav
        self.target_system = target_system
        self.target_component = target_component
        self.heartbeat_period_s = heartbeat_period_s
        self.log: deque[Any] = deque(maxlen=20000)
        self.texts: list[str] = []
        self._chunks: dict[int, list[str]] = {}
        self._last_hb = 0.0
        #: Called with every received message (e.g. to answer terrain requests).
        self.listeners: list[Callable[[Any], None]] = []

    # -- plumbing ---------------------------------------------------------------------------
    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def __enter__(self) -> MavClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, msg: Any) -> None:
        """Send one message object (``mavlink.MAVLink_..._message``)."""
        self.mav.send(msg)

    def heartbeat(self) -> None:
        """Send one ground-station HEARTBEAT."""
        self.mav.heartbeat_send(mavlink.MAV_TYPE_GCS, mavlink.MAV_AUTOPILOT_INVALID, 0, 0, 0)
        self._last_hb = time.monotonic()

    def _keep_alive(self) -> None:
        if self.heartbeat_period_s > 0 and time.monotonic() - self._last_hb >= \
                self.heartbeat_period_s:
            self.heartbeat()

    def _note(self, msg: Any) -> None:
        self.log.append(msg)
        for listener in self.listeners:
            listener(msg)
        if msg.get_type() != "STATUSTEXT":
            return
        text = msg.text if isinstance(msg.text, str) else msg.text.decode(errors="replace")
        msg_id = getattr(msg, "id", 0)
        if msg_id == 0:
            self.texts.append(text)
            return
        parts = self._chunks.setdefault(msg_id, [])
        parts.append(text)
        if len(text) < 50:
            self.texts.append("".join(self._chunks.pop(msg_id)))

    def poll(self, timeout_s: float = 0.0) -> Any | None:
        """Receive at most one message (any type), waiting up to ``timeout_s``."""
        self._keep_alive()
        msg = self.conn.recv_match(blocking=timeout_s > 0, timeout=max(timeout_s, 0.0))
        if msg is None or msg.get_type() == "BAD_DATA":
            return None
        self._note(msg)
        return msg

    def recv(self, type: str | Iterable[str] | None = None, timeout_s: float = 5.0,
             cond: Callable[[Any], bool] | None = None) -> Any | None:
        """The next message of ``type`` (a name or several) meeting ``cond``, or None on timeout.

        Messages from other systems than the target are kept in the log but never returned.
        """
        types = None if type is None else ({type} if isinstance(type, str) else set(type))
        deadline = time.monotonic() + timeout_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            msg = self.poll(min(remaining, 0.2))
            if msg is None or msg.get_srcSystem() != self.target_system:
                continue
            if types is not None and msg.get_type() not in types:
                continue
            if cond is None or cond(msg):
                return msg

    def expect(self, type: str | Iterable[str] | None = None, timeout_s: float = 5.0,
               cond: Callable[[Any], bool] | None = None) -> Any:
        """Like :meth:`recv` but raise :class:`MavClientError` on timeout."""
        msg = self.recv(type, timeout_s, cond)
        if msg is None:
            raise MavClientError(f"no {type} within {timeout_s} s (last texts: {self.texts[-5:]})")
        return msg

    def wait_text(self, fragment: str, timeout_s: float = 10.0) -> str:
        """Wait for a (reassembled) STATUSTEXT containing ``fragment``; seen ones count too."""
        start = 0
        deadline = time.monotonic() + timeout_s
        while True:
            for text in self.texts[start:]:
                if fragment in text:
                    return text
            start = len(self.texts)
            if time.monotonic() >= deadline:
                raise MavClientError(f"no STATUSTEXT with {fragment!r} (texts: {self.texts[-8:]})")
            self.poll(0.1)

    def drain(self, duration_s: float = 0.0) -> None:
        """Receive (and log) everything for ``duration_s``."""
        deadline = time.monotonic() + duration_s
        while True:
            msg = self.poll(max(0.0, min(0.05, deadline - time.monotonic())))
            if msg is None and time.monotonic() >= deadline:
                return

    def wait_heartbeat(self, timeout_s: float = 10.0) -> Any:
        """The next vehicle HEARTBEAT."""
        return self.expect("HEARTBEAT", timeout_s)

    # -- vehicle state ----------------------------------------------------------------------
    def mode(self, timeout_s: float = 5.0) -> str:
        """The flight mode named by the next HEARTBEAT."""
        from gcs.mavlink import COPTER_MODE_NAMES
        return COPTER_MODE_NAMES.get(self.wait_heartbeat(timeout_s).custom_mode, "?")

    def armed(self, timeout_s: float = 5.0) -> bool:
        """Whether the next HEARTBEAT says armed."""
        hb = self.wait_heartbeat(timeout_s)
        return bool(hb.base_mode & mavlink.MAV_MODE_FLAG_SAFETY_ARMED)

    def wait_ready(self, timeout_s: float = 60.0) -> Any:
        """Wait until SYS_STATUS carries the pre-arm-check-passed bit (streams must be on)."""
        bit = mavlink.MAV_SYS_STATUS_PREARM_CHECK
        return self.expect("SYS_STATUS", timeout_s,
                           lambda m: bool(m.onboard_control_sensors_health & bit))

    # -- commands ---------------------------------------------------------------------------
    def command_long(self, command: int, *params: float, timeout_s: float = 5.0,
                     wait_ack: bool = True, confirmation: int = 0) -> Any | None:
        """Send COMMAND_LONG and return its COMMAND_ACK (None if ``wait_ack`` is False)."""
        p = [float(x) for x in params] + [0.0] * (7 - len(params))
        self.mav.command_long_send(self.target_system, self.target_component, command,
                                   confirmation, *p[:7])
        if not wait_ack:
            return None
        return self.expect("COMMAND_ACK", timeout_s, lambda m: m.command == command)

    def set_mode(self, name: str, timeout_s: float = 5.0) -> Any:
        """Ask for a flight mode by name with MAV_CMD_DO_SET_MODE; return the COMMAND_ACK."""
        from gcs.mavlink import COPTER_MODES
        return self.command_long(mavlink.MAV_CMD_DO_SET_MODE,
                                 mavlink.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED, COPTER_MODES[name],
                                 timeout_s=timeout_s)

    def arm(self, force: bool = False, timeout_s: float = 5.0) -> Any:
        """MAV_CMD_COMPONENT_ARM_DISARM(1); return the COMMAND_ACK."""
        return self.command_long(mavlink.MAV_CMD_COMPONENT_ARM_DISARM, 1,
                                 21196 if force else 0, timeout_s=timeout_s)

    def disarm(self, force: bool = False, timeout_s: float = 5.0) -> Any:
        """MAV_CMD_COMPONENT_ARM_DISARM(0); return the COMMAND_ACK."""
        return self.command_long(mavlink.MAV_CMD_COMPONENT_ARM_DISARM, 0,
                                 21196 if force else 0, timeout_s=timeout_s)

    def request_streams(self, hz: float, stream_id: int = 0) -> None:
        """REQUEST_DATA_STREAM(all streams by default) at ``hz``."""
        self.mav.request_data_stream_send(self.target_system, self.target_component,
                                          stream_id, round(hz), 1 if hz > 0 else 0)

    def set_message_interval(self, msg_id: int, hz: float) -> Any:
        """MAV_CMD_SET_MESSAGE_INTERVAL for one message id; return the COMMAND_ACK."""
        interval_us = -1 if hz <= 0 else 1e6 / hz
        return self.command_long(mavlink.MAV_CMD_SET_MESSAGE_INTERVAL, msg_id, interval_us)

    # -- parameters -------------------------------------------------------------------------
    def param_get(self, name: str, timeout_s: float = 5.0) -> float:
        """PARAM_REQUEST_READ by name; the value from PARAM_VALUE."""
        self.mav.param_request_read_send(self.target_system, self.target_component,
                                         name.encode(), -1)
        msg = self.expect("PARAM_VALUE", timeout_s, lambda m: m.param_id == name)
        return float(msg.param_value)

    def param_set(self, name: str, value: float, timeout_s: float = 5.0) -> float:
        """PARAM_SET (as a float); the value the vehicle echoes back."""
        self.mav.param_set_send(self.target_system, self.target_component, name.encode(),
                                float(value), mavlink.MAV_PARAM_TYPE_REAL32)
        msg = self.expect("PARAM_VALUE", timeout_s, lambda m: m.param_id == name)
        return float(msg.param_value)

    # -- mission protocol -------------------------------------------------------------------
    def item_message(self, seq: int, item: MissionItem, mission_type: int) -> Any:
        """MISSION_ITEM_INT for one item."""
        return mavlink.MAVLink_mission_item_int_message(
            self.target_system, self.target_component, seq, int(item.frame), int(item.command),
            0, int(item.autocontinue), item.param1, item.param2, item.param3, item.param4,
            round(item.lat_deg * 1e7), round(item.lon_deg * 1e7), item.alt_m, mission_type)

    def upload(self, items: Sequence[MissionItem],
               mission_type: int = MissionType.MISSION, timeout_s: float = 10.0) -> int:
        """Upload ``items`` (item 0 is home for a mission) and return the MISSION_ACK type."""
        self.mav.mission_count_send(self.target_system, self.target_component, len(items),
                                    mission_type)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            msg = self.recv(("MISSION_REQUEST", "MISSION_REQUEST_INT", "MISSION_ACK"),
                            deadline - time.monotonic(),
                            lambda m: m.mission_type == mission_type)
            if msg is None:
                break
            if msg.get_type() == "MISSION_ACK":
                return int(msg.type)
            if 0 <= msg.seq < len(items):
                self.send(self.item_message(msg.seq, items[msg.seq], mission_type))
        raise MavClientError(f"upload of {len(items)} items (type {mission_type}) timed out")

    def download(self, mission_type: int = MissionType.MISSION,
                 timeout_s: float = 10.0) -> list[MissionItem]:
        """Download a list with MISSION_REQUEST_INT, acknowledge it, return the items."""
        self.mav.mission_request_list_send(self.target_system, self.target_component,
                                           mission_type)
        count = self.expect("MISSION_COUNT", timeout_s,
                            lambda m: m.mission_type == mission_type).count
        items: list[MissionItem] = []
        for seq in range(count):
            msg = None
            for _ in range(3):
                self.mav.mission_request_int_send(self.target_system, self.target_component,
                                                  seq, mission_type)
                msg = self.recv("MISSION_ITEM_INT", timeout_s / 3,
                                lambda m, s=seq: m.seq == s and m.mission_type == mission_type)
                if msg is not None:
                    break
            if msg is None:
                raise MavClientError(f"no MISSION_ITEM_INT {seq} of type {mission_type}")
            items.append(MissionItem(
                command=msg.command, frame=msg.frame, param1=msg.param1, param2=msg.param2,
                param3=msg.param3, param4=msg.param4, lat_deg=msg.x / 1e7, lon_deg=msg.y / 1e7,
                alt_m=msg.z, autocontinue=bool(msg.autocontinue), mission_type=mission_type))
        self.mav.mission_ack_send(self.target_system, self.target_component,
                                  mavlink.MAV_MISSION_ACCEPTED, mission_type)
        return items

    def clear(self, mission_type: int = MissionType.MISSION, timeout_s: float = 5.0) -> int:
        """MISSION_CLEAR_ALL; the MISSION_ACK type."""
        self.mav.mission_clear_all_send(self.target_system, self.target_component, mission_type)
        return int(self.expect("MISSION_ACK", timeout_s,
                               lambda m: m.mission_type == mission_type).type)

    def serve_terrain(self, dem: Any) -> None:
        """Answer every TERRAIN_REQUEST from ``dem`` from now on, statelessly and in full, as the
        ground station's terrain server (:mod:`gcs.terrain`) does."""
        from gcs.terrain import mask_bits, tile_heights_m

        def answer(msg: Any) -> None:
            if msg.get_type() != "TERRAIN_REQUEST":
                return
            for bit in mask_bits(msg.mask):
                heights = tile_heights_m(dem, msg.lat, msg.lon, msg.grid_spacing, bit)
                if heights is not None:
                    self.mav.terrain_data_send(msg.lat, msg.lon, msg.grid_spacing, bit, heights)

        self.listeners.append(answer)

    def texts_since(self, start: int) -> list[str]:
        """STATUSTEXTs received since ``len(client.texts)`` was ``start``."""
        return self.texts[start:]
