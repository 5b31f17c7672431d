"""The one module that imports pymavlink: the ArduPilot dialect over MAVLink 2.

pymavlink picks its wire version and dialect from environment variables when it is first
imported and keeps them process-wide, so they are fixed here, once, before the import. Everything
else in dropline (ground control, the simulators, tools) takes the MAVLink classes, constants and
connections from this module.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
    return mav


def connect(url: str, *, source_system: int = GCS_SYSTEM_ID,
            source_component: int = GCS_COMPONENT_ID, **kwargs: Any) -> Any:
    """Open a pymavlink connection from a MAVProxy/QGC style string.

    ``url`` is ``tcp:HOST:PORT``, ``tcpin:HOST:PORT``, ``udp:HOST:PORT`` (listen),
    ``udpin:HOST:PORT``, ``udpout:HOST:PORT``, a serial device (``/dev/ttyUSB0[,baud]``) or a
    ``.tlog`` file. Extra keyword arguments go to ``mavutil.mavlink_connection``.
    """
    return mavutil.mavlink_connection(url, source_system=source_system,
                                      source_component=source_component, **kwargs)


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
