"""Incoming MAVLink messages of a simulated copter: parameters, missions, streams, GUIDED targets.

COMMAND_LONG and COMMAND_INT are in :mod:`sitl.builtin.protocol.commands`.
"""

from __future__ import annotations

from typing import Any, Protocol

from gcs.mavlink import dialect as mav
from sitl.builtin.mission import FENCE, MISSION, RALLY, IncomingItem, StoredItem
from sitl.builtin.protocol.commands import CommandHost, guided_goto, handle_command, handle_set_mode
from sitl.builtin.protocol.transfer import ItemTransfer, item_float_message, item_int_message
from sitl.builtin.terrain import Terrain

_TYPES = (MISSION, FENCE, RALLY)


class MessageHost(CommandHost, Protocol):
    """What the message handlers need from their vehicle (besides what commands need)."""

    last_gcs_heartbeat_s: float | None
    warned_mission_request: bool
    signing_key: bytes | None
    signing_timestamp: int
    signing_changed: bool

    @property
    def sysid(self) -> int: ...

    @property
    def t(self) -> float: ...

    @property
    def transfers(self) -> dict[int, ItemTransfer]: ...

    @property
    def terrain(self) -> Terrain: ...

    def mission_running(self) -> bool: ...

    def store(self, mission_type: int, items: list[StoredItem], *, complete: bool) -> None: ...

    def param_sent(self, name: str) -> None: ...


def _targets_us(v: MessageHost, msg: Any) -> bool:
    target = getattr(msg, "target_system", 0)
    return target in (0, v.sysid)


def handle_message(v: MessageHost, msg: Any) -> None:
    """Dispatch one received message."""
    kind = msg.get_type()
    if kind == "HEARTBEAT":
        if msg.type == mav.MAV_TYPE_GCS or msg.get_srcSystem() == int(v.params["SYSID_MYGCS"]):
            v.last_gcs_heartbeat_s = v.t
        return
    handler = _HANDLERS.get(kind)
    if handler is None or not _targets_us(v, msg):
        return
    handler(v, msg)


def _src(msg: Any) -> tuple[int, int]:
    return (msg.get_srcSystem(), msg.get_srcComponent())


# -- parameters -------------------------------------------------------------------------------
def _param_request_list(v: MessageHost, msg: Any) -> None:
    for i, name in enumerate(v.params):
        v.telemetry.send_param(name, broadcast=False, index=i)


def _param_id(msg: Any) -> str:
    raw = msg.param_id
    return raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)


def _param_request_read(v: MessageHost, msg: Any) -> None:
    if msg.param_index >= 0:
        name = v.params.name_at(msg.param_index)
        if name is not None:
            v.telemetry.send_param(name, broadcast=False, index=msg.param_index)
        return
    name = _param_id(msg)
    if name in v.params:
        v.telemetry.send_param(name, broadcast=True)


def _param_set(v: MessageHost, msg: Any) -> None:
    name = _param_id(msg)
    if not v.params.set(name, float(msg.param_value)):
        return
    v.telemetry.send_param(name, broadcast=True)
    v.param_sent(name)


# -- mission protocol -------------------------------------------------------------------------
def _mission_type(msg: Any) -> int:
    return int(getattr(msg, "mission_type", 0))


def _mission_count(v: MessageHost, msg: Any) -> None:
    kind = _mission_type(msg)
    if kind in _TYPES:
        v.transfers[kind].handle_count(_src(msg), msg.count)


def _mission_item(v: MessageHost, msg: Any) -> None:
    kind = _mission_type(msg)
    if kind in _TYPES:
        v.transfers[kind].handle_item(_src(msg), IncomingItem.from_message(msg))


def _mission_request_list(v: MessageHost, msg: Any) -> None:
    kind = _mission_type(msg)
    if kind in _TYPES:
        v.transfers[kind].handle_request_list(_src(msg))


def _mission_request_int(v: MessageHost, msg: Any) -> None:
    kind = _mission_type(msg)
    if kind not in _TYPES:
        return
    item = v.transfers[kind].item_for_download(_src(msg), msg.seq)
    if item is not None:
        v.send(item_int_message(_src(msg), msg.seq, item, kind))


def _mission_request(v: MessageHost, msg: Any) -> None:
    kind = _mission_type(msg)
    if kind not in _TYPES:
        return
    transfer = v.transfers[kind]
    if transfer.receiving and _src(msg) == transfer.dest:
        return  # a vehicle never gets requests during its own upload
    item = transfer.item_for_download(_src(msg), msg.seq)
    if item is None:
        return
    v.send(item_float_message(_src(msg), msg.seq, item, kind))
    if not v.warned_mission_request:
        v.warned_mission_request = True
        v.text(mav.MAV_SEVERITY_WARNING, "got MISSION_REQUEST; use MISSION_REQUEST_INT!")


def _mission_clear_all(v: MessageHost, msg: Any) -> None:
    kind = _mission_type(msg)
    if kind == mav.MAV_MISSION_TYPE_ALL:
        ok = all(not v.transfers[k].receiving for k in _TYPES) and not v.mission_running()
        if ok:
            for k in _TYPES:
                v.store(k, v.missions[MISSION][:1] if k == MISSION else [], complete=True)
        v.send(mav.MAVLink_mission_ack_message(
            *_src(msg), mav.MAV_MISSION_ACCEPTED if ok else mav.MAV_MISSION_ERROR, kind))
        return
    if kind in _TYPES:
        v.transfers[kind].handle_clear(_src(msg))


def _mission_write_partial_list(v: MessageHost, msg: Any) -> None:
    kind = _mission_type(msg)
    if kind in _TYPES:
        v.transfers[kind].handle_write_partial(_src(msg), msg.start_index, msg.end_index)


def _mission_set_current(v: MessageHost, msg: Any) -> None:
    if v.runner.set_current(msg.seq):
        v.send(v.telemetry.mission_current())


# -- streams, time, guided --------------------------------------------------------------------
def _request_data_stream(v: MessageHost, msg: Any) -> None:
    rate = msg.req_message_rate if msg.start_stop else 0
    v.telemetry.request_stream(msg.req_stream_id, rate)


def _timesync(v: MessageHost, msg: Any) -> None:
    if msg.tc1 == 0:
        v.send(mav.MAVLink_timesync_message(int(v.t * 1e9), msg.ts1))


def _set_mode(v: MessageHost, msg: Any) -> None:
    handle_set_mode(v, msg)


def _position_target_global_int(v: MessageHost, msg: Any) -> None:
    if msg.type_mask & 0b111 == 0b111:
        return
    guided_goto(v, msg.lat_int / 1e7, msg.lon_int / 1e7, msg.alt, msg.coordinate_frame)


def _terrain_data(v: MessageHost, msg: Any) -> None:
    v.terrain.receive(msg)


def _terrain_check(v: MessageHost, msg: Any) -> None:
    v.telemetry.terrain_check(int(msg.lat), int(msg.lon))


def _setup_signing(v: MessageHost, msg: Any) -> None:
    key = bytes(msg.secret_key)
    v.signing_key = None if not any(key) else key
    v.signing_timestamp = int(msg.initial_timestamp)
    v.signing_changed = True


_HANDLERS = {
    "PARAM_REQUEST_LIST": _param_request_list,
    "PARAM_REQUEST_READ": _param_request_read,
    "PARAM_SET": _param_set,
    "MISSION_COUNT": _mission_count,
    "MISSION_ITEM": _mission_item,
    "MISSION_ITEM_INT": _mission_item,
    "MISSION_REQUEST_LIST": _mission_request_list,
    "MISSION_REQUEST_INT": _mission_request_int,
    "MISSION_REQUEST": _mission_request,
    "MISSION_CLEAR_ALL": _mission_clear_all,
    "MISSION_WRITE_PARTIAL_LIST": _mission_write_partial_list,
    "MISSION_SET_CURRENT": _mission_set_current,
    "REQUEST_DATA_STREAM": _request_data_stream,
    "TIMESYNC": _timesync,
    "SET_MODE": _set_mode,
    "SET_POSITION_TARGET_GLOBAL_INT": _position_target_global_int,
    "SETUP_SIGNING": _setup_signing,
    "TERRAIN_DATA": _terrain_data,
    "TERRAIN_CHECK": _terrain_check,
    "COMMAND_LONG": handle_command,
    "COMMAND_INT": handle_command,
}
