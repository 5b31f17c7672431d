"""The one module that imports pymavlink: the ArduPilot dialect over MAVLink 2.

pymavlink picks its wire version and dialect from environment variables when it is first
imported and keeps them process-wide, so they are fixed here, once, before the import. Everything
else in dropline (ground control, the simulators, tools) takes the MAVLink classes, constants and
connections from this module.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeAlias

os.environ["MAVLINK20"] = "1"
os.environ["MAVLINK_DIALECT"] = "ardupilotmega"

from pymavlink import mavutil
from pymavlink.dialects.v20 import ardupilotmega as mavlink

#: The generated dialect module: message classes (``mavlink.MAVLink_heartbeat_message``), enums
#: (``mavlink.MAV_CMD_NAV_WAYPOINT``) and the codec class ``mavlink.MAVLink``.
dialect = mavlink
MAVLink = mavlink.MAVLink
MAVLinkMessage = mavlink.MAVLink_message
MAVError = mavlink.MAVError
#: A MAVLink message, received or built (pymavlink's ``MAVLink_message``, which is untyped):
#: ``msg.get_type()``, ``msg.get_srcSystem()`` and the fields of its type by name.
Message: TypeAlias = Any

#: ArduCopter flight modes (HEARTBEAT custom_mode).
COPTER_MODES: dict[str, int] = {
    "STABILIZE": 0, "ACRO": 1, "ALT_HOLD": 2, "AUTO": 3, "GUIDED": 4, "LOITER": 5, "RTL": 6,
    "CIRCLE": 7, "LAND": 9, "DRIFT": 11, "SPORT": 13, "FLIP": 14, "AUTOTUNE": 15,
    "POSHOLD": 16, "BRAKE": 17, "THROW": 18, "AVOID_ADSB": 19, "GUIDED_NOGPS": 20,
    "SMART_RTL": 21, "FLOWHOLD": 22, "FOLLOW": 23, "ZIGZAG": 24, "SYSTEMID": 25,
    "AUTOROTATE": 26, "AUTO_RTL": 27,
}
COPTER_MODE_NAMES: dict[int, str] = {v: k for k, v in COPTER_MODES.items()}

#: Ground stations conventionally use system 255, component 190 (MAV_COMP_ID_MISSIONPLANNER).
GCS_SYSTEM_ID = 255
GCS_COMPONENT_ID = 190

log = logging.getLogger(__name__)


def _pymavlink_print(*args: object, **_kwargs: object) -> None:
    """pymavlink's own status lines ("EOF on TCP socket", "Attempting reconnect", "... sleeping")
    go to this module's log, not to standard output: a program's output is its own, and a
    reconnecting link's background thread never writes into it."""
    log.info("pymavlink: %s", " ".join(str(a) for a in args))


# Module globals come before builtins in a name lookup: mavutil's print calls land here.
setattr(mavutil, "print", _pymavlink_print)  # noqa: B010


class Encoder(Protocol):
    """The message builders of a codec that the ground station uses.

    Each returns a message for :meth:`gcs.link.Link.send`; the arguments are the MAVLink
    fields in the order of the message definition (positions in degrees x 1e7, ``bytes``
    parameter ids, altitudes in metres).
    """

    def heartbeat_encode(self, type: int, autopilot: int, base_mode: int, custom_mode: int,
                         system_status: int, mavlink_version: int = 3) -> Message:
        """HEARTBEAT."""

    def command_long_encode(self, target_system: int, target_component: int, command: int,
                            confirmation: int, param1: float, param2: float, param3: float,
                            param4: float, param5: float, param6: float,
                            param7: float) -> Message:
        """COMMAND_LONG."""

    def request_data_stream_encode(self, target_system: int, target_component: int,
                                   req_stream_id: int, req_message_rate: int,
                                   start_stop: int) -> Message:
        """REQUEST_DATA_STREAM."""

    def param_request_read_encode(self, target_system: int, target_component: int,
                                  param_id: bytes, param_index: int) -> Message:
        """PARAM_REQUEST_READ."""

    def param_set_encode(self, target_system: int, target_component: int, param_id: bytes,
                         param_value: float, param_type: int) -> Message:
        """PARAM_SET."""

    def set_position_target_global_int_encode(
            self, time_boot_ms: int, target_system: int, target_component: int,
            coordinate_frame: int, type_mask: int, lat_int: int, lon_int: int, alt: float,
            vx: float, vy: float, vz: float, afx: float, afy: float, afz: float, yaw: float,
            yaw_rate: float) -> Message:
        """SET_POSITION_TARGET_GLOBAL_INT."""

    def mission_count_encode(self, target_system: int, target_component: int, count: int,
                             mission_type: int = 0) -> Message:
        """MISSION_COUNT."""

    def mission_item_int_encode(self, target_system: int, target_component: int, seq: int,
                                frame: int, command: int, current: int, autocontinue: int,
                                param1: float, param2: float, param3: float, param4: float,
                                x: int, y: int, z: float, mission_type: int = 0) -> Message:
        """MISSION_ITEM_INT."""

    def mission_request_list_encode(self, target_system: int, target_component: int,
                                    mission_type: int = 0) -> Message:
        """MISSION_REQUEST_LIST."""

    def mission_request_int_encode(self, target_system: int, target_component: int, seq: int,
                                   mission_type: int = 0) -> Message:
        """MISSION_REQUEST_INT."""

    def mission_ack_encode(self, target_system: int, target_component: int, type: int,
                           mission_type: int = 0) -> Message:
        """MISSION_ACK."""

    def mission_clear_all_encode(self, target_system: int, target_component: int,
                                 mission_type: int = 0) -> Message:
        """MISSION_CLEAR_ALL."""

    def mission_set_current_encode(self, target_system: int, target_component: int,
                                   seq: int) -> Message:
        """MISSION_SET_CURRENT."""

    def timesync_encode(self, tc1: int, ts1: int) -> Message:
        """TIMESYNC."""

    def setup_signing_encode(self, target_system: int, target_component: int,
                             secret_key: Sequence[int], initial_timestamp: int) -> Message:
        """SETUP_SIGNING."""

    def terrain_check_encode(self, lat: int, lon: int) -> Message:
        """TERRAIN_CHECK."""

    def terrain_data_encode(self, lat: int, lon: int, grid_spacing: int, gridbit: int,
                            data: Sequence[int]) -> Message:
        """TERRAIN_DATA."""


#: Seconds from the Unix epoch to 2015-01-01, the origin of MAVLink signing timestamps.
SIGNING_EPOCH_S = 1_420_070_400
#: One minute in signing timestamp units (10 microseconds): how far behind the local
#: timestamp a new stream may start.
SIGNING_MINUTE = 6_000_000


def signing_now(now_s: float | None = None) -> int:
    """The wall clock as a signing timestamp: 10 microsecond units since 2015-01-01."""
    now = time.time() if now_s is None else now_s
    return int(max(now - SIGNING_EPOCH_S, 0.0) * 100_000)


def check_signature(codec: Any, msgbuf: bytes | bytearray, src_system: int,
                    src_component: int) -> bool:
    """Accept a signed packet only when its signature holds and its timestamp is new.

    The MAVLink 2 signing rules, in an order that lets no unauthenticated packet change any
    state: the signature (first 48 bits of SHA-256 over key, header, payload, CRC, link id and
    timestamp) is checked first; then the timestamp must be later than the last one accepted on
    the same stream (system, component, link id), or, on a stream not seen before, no more than
    a minute behind the local timestamp (the larger of the link's and the wall clock's). Only
    then are the stream's timestamp and the local one moved forward. pymavlink's own check
    stores the timestamp before checking the signature, so one forged packet dated in the future
    would make every later genuine packet of its stream look like a replay.
    """
    signing = codec.signing
    key = signing.secret_key
    if key is None or len(msgbuf) < 13:
        return False
    buf = bytes(msgbuf)
    if not hmac.compare_digest(hashlib.sha256(bytes(key) + buf[:-6]).digest()[:6], buf[-6:]):
        return False
    link_id = buf[-13]
    timestamp = int.from_bytes(buf[-12:-6], "little")
    stream = (link_id, src_system, src_component)
    last = signing.stream_timestamps.get(stream)
    local = max(int(signing.timestamp), signing_now())
    if last is not None:
        if timestamp <= last:
            return False  # a replay, or a packet older than one already taken
    elif timestamp + SIGNING_MINUTE < local:
        return False  # a new stream starting in the past: a recorded packet played again
    if timestamp > local + SIGNING_MINUTE:
        log.warning("signed packet from %d/%d dated %.0f s ahead of the local clock",
                    src_system, src_component, (timestamp - local) / 100_000)
    signing.stream_timestamps[stream] = timestamp
    signing.timestamp = max(local, timestamp)
    return True


def _harden(mav: Any) -> Any:
    """Make a codec check signatures with :func:`check_signature`."""
    mav.check_signature = functools.partial(check_signature, mav)
    return mav


def codec(source_system: int, source_component: int, file: Any = None) -> Any:
    """A MAVLink 2 encoder/decoder (``mavlink.MAVLink``) for one system and component.

    Parameters
    ----------
    source_system
        System id stamped on sent messages.
    source_component
        Component id stamped on sent messages.
    file
        Object with a ``write(bytes)`` method that sent messages go to, or None to only pack.

    Returns
    -------
    Any
        The codec; ``codec.parse_buffer(data)`` decodes, ``codec.<msg>_encode(...).pack(codec)``
        encodes.
    """
    mav = mavlink.MAVLink(file, srcSystem=source_system, srcComponent=source_component)
    mav.robust_parsing = True
    return _harden(mav)


def connect(url: str, *, source_system: int = GCS_SYSTEM_ID,
            source_component: int = GCS_COMPONENT_ID, **kwargs: Any) -> Any:
    """Open a pymavlink connection from a MAVProxy/QGC style string.

    ``url`` is ``tcp:HOST:PORT``, ``tcpin:HOST:PORT``, ``udp:HOST:PORT`` (listen),
    ``udpin:HOST:PORT``, ``udpout:HOST:PORT``, a serial device (``/dev/ttyUSB0[,baud]``) or a
    ``.tlog`` file. Extra keyword arguments go to ``mavutil.mavlink_connection``.
    """
    conn = mavutil.mavlink_connection(url, source_system=source_system,
                                      source_component=source_component, **kwargs)
    _harden(conn.mav)
    return conn


def udp_listen_socket(conn: Any) -> Any:
    """The socket of a connection that listens on UDP (``udpin:``, ``udp:``), else None."""
    if isinstance(conn, mavutil.mavudp) and conn.udp_server:
        return conn.port
    return None


def parse_datagram(conn: Any, data: bytes) -> list[Any]:
    """Every message of one received datagram, decoded by ``conn``'s codec.

    Bytes left over (a datagram that ends mid-message) are dropped, so that no message is
    ever made of two datagrams, possibly from two senders.
    """
    codec = conn.mav
    msgs = codec.parse_buffer(data) or []
    if codec.buf_len() > 0:
        codec.buf = bytearray()
        codec.buf_index = 0
        codec.expected_length = mavlink.HEADER_LEN_V1 + 2
    for msg in msgs:
        if msg.get_type() != "BAD_DATA":
            conn.post_message(msg)
    return list(msgs)


def read_tlog(path: str | Path) -> Iterator[tuple[float, Any]]:
    """Every message of a ``.tlog`` with its timestamp (Unix seconds), in file order."""
    conn = mavutil.mavlink_connection(str(path), robust_parsing=True)
    try:
        while True:
            msg = conn.recv_match()
            if msg is None:
                break
            if msg.get_type() == "BAD_DATA":
                continue
            yield float(getattr(msg, "_timestamp", 0.0)), msg
    finally:
        conn.close()
