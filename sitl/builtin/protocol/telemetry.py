"""Telemetry of a simulated copter: message builders and ArduPilot-style stream rates.

Only HEARTBEAT (1 Hz) and TIMESYNC (every 10 s) are sent unasked; every stream starts at 0 Hz
and is set by REQUEST_DATA_STREAM (ArduCopter's stream groups) or, per message, by
SET_MESSAGE_INTERVAL. MISSION_CURRENT runs at half the EXTENDED_STATUS rate, as measured.
EXTRA3 carries ArduPilot's terrain slot: a TERRAIN_REPORT and, when due, a TERRAIN_REQUEST for the
terrain the vehicle lacks (:mod:`sitl.builtin.terrain`), so a ground station that never asks for
EXTRA3 (or message 133) is never asked for terrain, as on SITL.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Protocol

from gcs.mavlink import dialect as mav
from sitl.builtin.flight.auto import COMPLETE, RUNNING, MissionRunner
from sitl.builtin.flight.failsafe import Failsafes
from sitl.builtin.flight.host import VehicleView
from sitl.builtin.flight.payload import Payload
from sitl.builtin.mission import MISSION
from sitl.builtin.modes import MODE, POSITION_MODES
from sitl.builtin.terrain import Terrain

#: Unix time of boot (fixed, so that runs are reproducible).
EPOCH_US = 1_735_689_600_000_000
_NAN4 = (math.nan, math.nan, math.nan, math.nan)

SENSORS_PRESENT = 1399979055
SENSORS_ENABLED = 1398930479
SENSORS_HEALTH_READY = 1467087919
_GPS_SENSOR = 32

#: REQUEST_DATA_STREAM groups of ArduCopter (stream id -> message names).
STREAMS: dict[int, tuple[str, ...]] = {
    mav.MAV_DATA_STREAM_EXTENDED_STATUS: ("SYS_STATUS", "MISSION_CURRENT", "GPS_RAW_INT",
                                          "NAV_CONTROLLER_OUTPUT", "FENCE_STATUS"),
    mav.MAV_DATA_STREAM_POSITION: ("GLOBAL_POSITION_INT", "LOCAL_POSITION_NED"),
    mav.MAV_DATA_STREAM_RC_CHANNELS: ("SERVO_OUTPUT_RAW", "RC_CHANNELS"),
    mav.MAV_DATA_STREAM_EXTRA1: ("ATTITUDE",),
    mav.MAV_DATA_STREAM_EXTRA2: ("VFR_HUD",),
    mav.MAV_DATA_STREAM_EXTRA3: ("SYSTEM_TIME", "WIND", "BATTERY_STATUS", "EKF_STATUS_REPORT",
                                 "TERRAIN_REQUEST"),
}
_HALF_RATE = frozenset({"MISSION_CURRENT"})


class TelemetryHost(VehicleView, Protocol):
    """What the telemetry needs from its vehicle."""

    @property
    def sysid(self) -> int: ...

    @property
    def payload(self) -> Payload: ...

    @property
    def failsafes(self) -> Failsafes: ...

    @property
    def runner(self) -> MissionRunner: ...

    @property
    def home(self) -> tuple[float, float, float]: ...

    @property
    def ready(self) -> bool: ...

    @property
    def ready_at_s(self) -> float: ...

    @property
    def settle_s(self) -> float: ...

    @property
    def gps_noise(self) -> list[float]: ...

    @property
    def prearm_ok_cached(self) -> bool: ...

    @property
    def terrain(self) -> Terrain: ...

    @property
    def home_set(self) -> bool: ...

    def wind_ne(self) -> tuple[float, float]: ...


class Telemetry:
    """Schedules and builds the messages of one vehicle."""

    def __init__(self, vehicle: TelemetryHost) -> None:
        self.v = vehicle
        self.stream_interval: dict[str, float] = {}  # from REQUEST_DATA_STREAM
        self.message_interval: dict[str, float] = {}  # from SET_MESSAGE_INTERVAL (-1 = off)
        self.next_due: dict[str, float] = {}
        self.active: list[str] = []
        self.next_heartbeat_s = 0.0
        self.next_timesync_s = 5.0
        self.builders: dict[str, Callable[[], Any]] = {
            "HEARTBEAT": self.heartbeat, "SYS_STATUS": self.sys_status,
            "GPS_RAW_INT": self.gps_raw_int, "GLOBAL_POSITION_INT": self.global_position_int,
            "ATTITUDE": self.attitude, "VFR_HUD": self.vfr_hud,
            "BATTERY_STATUS": self.battery_status, "EKF_STATUS_REPORT": self.ekf_status_report,
            "MISSION_CURRENT": self.mission_current, "HOME_POSITION": self.home_position,
            "NAV_CONTROLLER_OUTPUT": self.nav_controller_output,
            "LOCAL_POSITION_NED": self.local_position_ned, "SYSTEM_TIME": self.system_time,
            "FENCE_STATUS": self.fence_status, "SERVO_OUTPUT_RAW": self.servo_output_raw,
            "RC_CHANNELS": self.rc_channels, "WIND": self.wind,
            "AUTOPILOT_VERSION": self.autopilot_version,
            "GPS_GLOBAL_ORIGIN": self.gps_global_origin,
            "TERRAIN_REQUEST": self.terrain, "TERRAIN_REPORT": self.terrain_report,
        }

    # -- rates --------------------------------------------------------------------------------
    def request_stream(self, stream_id: int, rate_hz: float) -> None:
        """REQUEST_DATA_STREAM (stream 0 = all)."""
        ids = list(STREAMS) if stream_id == mav.MAV_DATA_STREAM_ALL else [stream_id]
        rate = min(max(rate_hz, 0.0), 50.0)
        for sid in ids:
            for name in STREAMS.get(sid, ()):
                interval = 0.0 if rate <= 0 else 1.0 / rate
                if name in _HALF_RATE and interval > 0:
                    interval *= 2.0
                self.stream_interval[name] = interval
        self._refresh()

    def set_interval(self, msg_id: int, interval_us: float) -> bool:
        """SET_MESSAGE_INTERVAL: -1 disables, 0 restores the stream rate."""
        name = self.name_of(msg_id)
        if name is None or name not in self.builders:
            return False
        if interval_us == 0:
            self.message_interval.pop(name, None)
        elif interval_us < 0:
            self.message_interval[name] = -1.0
        else:
            self.message_interval[name] = max(interval_us / 1e6, 0.02)
        self._refresh()
        return True

    def interval_of(self, name: str) -> float:
        """Interval (s) a message is sent at, 0 when off."""
        if name == "HEARTBEAT":
            return 1.0
        override = self.message_interval.get(name)
        if override is not None:
            return 0.0 if override < 0 else override
        return self.stream_interval.get(name, 0.0)

    def _refresh(self) -> None:
        names = set(self.stream_interval) | set(self.message_interval)
        self.active = [n for n in self.builders if n in names and n != "HEARTBEAT"
                       and self.interval_of(n) > 0]
        for name in self.active:
            self.next_due.setdefault(name, self.v.t)

    @staticmethod
    def name_of(msg_id: int) -> str | None:
        """Message name of a MAVLink id."""
        cls = mav.mavlink_map.get(int(msg_id))
        return None if cls is None else str(cls.msgname)

    # -- sending ------------------------------------------------------------------------------
    def update(self) -> None:
        """Send what is due at the vehicle's present time."""
        v = self.v
        t = v.t
        if t >= self.next_heartbeat_s:
            v.send(self.heartbeat())
            self.next_heartbeat_s += 1.0
            if self.next_heartbeat_s <= t:
                self.next_heartbeat_s = t + 1.0
        if t >= self.next_timesync_s:
            v.send(mav.MAVLink_timesync_message(0, int(t * 1e9)))
            self.next_timesync_s = t + 10.0
        due = self.next_due
        for name in self.active:
            when = due[name]
            if t + 1e-9 >= when:
                if name == "FENCE_STATUS" and v.params["FENCE_ENABLE"] < 1:
                    continue
                msg = self.builders[name]()
                if msg is not None:
                    v.send(msg)
                interval = self.interval_of(name)
                when += interval
                due[name] = when if when > t else t + interval

    def heartbeat_now(self) -> None:
        """An extra HEARTBEAT (sent on mode changes)."""
        self.v.send(self.heartbeat())

    def send_once(self, msg_id: int) -> bool:
        """REQUEST_MESSAGE: send one message now."""
        name = self.name_of(msg_id)
        if name is None or name not in self.builders:
            return False
        msg = self.builders[name]()
        if msg is not None:
            self.v.send(msg)
        return True

    def on_arm(self) -> None:
        """GPS_GLOBAL_ORIGIN and HOME_POSITION, as ArduCopter sends them when arming."""
        self.v.send(self.gps_global_origin())
        self.v.send(self.home_position())

    def send_param(self, name: str, *, broadcast: bool, index: int | None = None) -> None:
        """PARAM_VALUE (index 65535 for a set or a read by name)."""
        desc = self.v.params.describe(name)
        self.v.send(mav.MAVLink_param_value_message(
            name.encode(), desc.value, desc.param_type, desc.count,
            65535 if broadcast and index is None else desc.index))

    # -- values -------------------------------------------------------------------------------
    def _boot_ms(self) -> int:
        return int(self.v.t * 1000.0)

    def _gps_latlon_e7(self) -> tuple[int, int, float]:
        v = self.v
        noise = v.gps_noise
        lat, lon = v.frame.to_latlon(v.body.n_m + noise[0], v.body.e_m + noise[1])
        return round(lat * 1e7), round(lon * 1e7), v.body.alt_m + noise[2]

    def heartbeat(self) -> Any:
        """HEARTBEAT with ArduCopter's base mode bits."""
        v = self.v
        base = 81
        if v.mode == MODE["GUIDED"] or (v.armed and v.mode in POSITION_MODES):
            base |= 8
        if v.armed:
            base |= 128
        if v.failsafes.critical:
            status = mav.MAV_STATE_CRITICAL
        elif v.flying:
            status = mav.MAV_STATE_ACTIVE
        else:
            status = mav.MAV_STATE_STANDBY
        return mav.MAVLink_heartbeat_message(mav.MAV_TYPE_QUADROTOR,
                                             mav.MAV_AUTOPILOT_ARDUPILOTMEGA, base, v.mode,
                                             status, 3)

    def sys_status(self) -> Any:
        """SYS_STATUS with the PREARM_CHECK health bit once arming checks pass."""
        v = self.v
        health = SENSORS_HEALTH_READY
        if not v.prearm_ok_cached:
            health &= ~mav.MAV_SYS_STATUS_PREARM_CHECK
        if not v.ready:
            health &= ~_GPS_SENSOR
        b = v.battery
        return mav.MAVLink_sys_status_message(
            SENSORS_PRESENT, SENSORS_ENABLED, health, 0, round(b.voltage_v * 1000),
            round(b.current_a * 100), b.remaining_pct, 0, 0, 0, 0, 0, 0)

    def gps_raw_int(self) -> Any:
        """GPS_RAW_INT: fix 6 (as SITL) once settled, none while lost."""
        v = self.v
        lat, lon, alt = self._gps_latlon_e7()
        if v.gps_lost:
            fix, sats = 1, 0
        elif v.t < v.ready_at_s - v.settle_s * 0.5:
            fix, sats = 1, 4
        elif v.t < v.ready_at_s:
            fix, sats = 3, 8
        else:
            fix, sats = 6, 10
        speed = math.hypot(v.body.vn, v.body.ve)
        cog = round(math.degrees(math.atan2(v.body.ve, v.body.vn)) % 360 * 100) if speed > 0.2 \
            else 0
        return mav.MAVLink_gps_raw_int_message(
            int(v.t * 1e6), fix, lat, lon, round(alt * 1000), 121, 200, round(speed * 100), cog,
            sats, round(alt * 1000), 300, 300, 40, 0, 0)

    def global_position_int(self) -> Any:
        """GLOBAL_POSITION_INT (velocities NED in cm/s)."""
        v = self.v
        lat, lon, alt = self._gps_latlon_e7()
        body = v.body
        return mav.MAVLink_global_position_int_message(
            self._boot_ms(), lat, lon, round(alt * 1000), round((alt - v.home[2]) * 1000),
            round(body.vn * 100), round(body.ve * 100), round(-body.vu * 100),
            round(body.yaw_deg * 100) % 36000)

    def attitude(self) -> Any:
        """ATTITUDE: level, nose down in proportion to forward speed."""
        v = self.v
        speed = math.hypot(v.body.vn, v.body.ve)
        yaw = math.radians(v.body.yaw_deg)
        if yaw > math.pi:
            yaw -= 2 * math.pi
        return mav.MAVLink_attitude_message(self._boot_ms(), 0.0, -0.012 * speed, yaw,
                                            0.0, 0.0, 0.0)

    def vfr_hud(self) -> Any:
        """VFR_HUD."""
        v = self.v
        body = v.body
        wn, we = v.wind_ne()
        ground = math.hypot(body.vn, body.ve)
        air = math.hypot(body.vn - wn, body.ve - we) if v.flying else 0.0
        throttle = round(v.params["MOT_THST_HOVER"] * 100) if v.flying else 0
        return mav.MAVLink_vfr_hud_message(air, ground, round(body.yaw_deg) % 360, throttle,
                                           body.alt_m, body.vu)

    def battery_status(self) -> Any:
        """BATTERY_STATUS (mAh, hJ, %)."""
        v = self.v
        b = v.battery
        cells = [round(b.voltage_v * 1000)] + [65535] * 9
        state = mav.MAV_BATTERY_CHARGE_STATE_OK
        if v.failsafes.battery_level == 2:
            state = mav.MAV_BATTERY_CHARGE_STATE_CRITICAL
        elif v.failsafes.battery_level == 1:
            state = mav.MAV_BATTERY_CHARGE_STATE_LOW
        return mav.MAVLink_battery_status_message(
            0, 0, 0, 32767, cells, round(b.current_a * 100), int(b.consumed_mah),
            int(b.consumed_wh * 36), b.remaining_pct, 0, state, [0, 0, 0, 0], 0, 0)

    def ekf_status_report(self) -> Any:
        """EKF_STATUS_REPORT: flags 0x33f when healthy."""
        v = self.v
        if v.ready:
            flags = 0x33F
        elif v.t < v.ready_at_s - v.settle_s * 0.5:
            flags = 0
        else:
            flags = 0x0A7
        return mav.MAVLink_ekf_status_report_message(flags, 0.02, 0.01, 0.01, 0.02, 0.0, 0.0)

    def mission_current(self) -> Any:
        """MISSION_CURRENT with total (items without home) and mission_state."""
        v = self.v
        total = len(v.missions[MISSION]) - 1
        runner = v.runner
        if total <= 0:
            state = mav.MISSION_STATE_NO_MISSION
        elif runner.state == COMPLETE:
            state = mav.MISSION_STATE_COMPLETE
        elif runner.state == RUNNING and v.mode == MODE["AUTO"]:
            state = mav.MISSION_STATE_PAUSED if runner.paused else mav.MISSION_STATE_ACTIVE
        else:
            state = mav.MISSION_STATE_NOT_STARTED
        return mav.MAVLink_mission_current_message(runner.nav_index, max(total, 0), state,
                                                   1 if v.mode == MODE["AUTO"] else 0)

    def home_position(self) -> Any:
        """HOME_POSITION."""
        v = self.v
        lat, lon, alt = v.home
        return mav.MAVLink_home_position_message(
            round(lat * 1e7), round(lon * 1e7), round(alt * 1000), 0.0, 0.0, 0.0, _NAN4,
            0.0, 0.0, 0.0, int(v.t * 1e6))

    def gps_global_origin(self) -> Any:
        """GPS_GLOBAL_ORIGIN (the EKF origin: home at boot)."""
        v = self.v
        lat, lon, alt = v.home
        return mav.MAVLink_gps_global_origin_message(round(lat * 1e7), round(lon * 1e7),
                                                     round(alt * 1000), int(v.t * 1e6))

    def nav_controller_output(self) -> Any:
        """NAV_CONTROLLER_OUTPUT: distance and bearing to the current target."""
        v = self.v
        tn, te, talt = v.body.target
        dn, de = tn - v.body.n_m, te - v.body.e_m
        bearing = round(math.degrees(math.atan2(de, dn))) % 360
        return mav.MAVLink_nav_controller_output_message(
            0.0, 0.0, bearing, bearing, min(round(math.hypot(dn, de)), 65535),
            talt - v.body.alt_m, 0.0, 0.0)

    def local_position_ned(self) -> Any:
        """LOCAL_POSITION_NED from home."""
        v = self.v
        hn, he = v.home_ne()
        body = v.body
        return mav.MAVLink_local_position_ned_message(
            self._boot_ms(), body.n_m - hn, body.e_m - he, v.home[2] - body.alt_m, body.vn,
            body.ve, -body.vu)

    def system_time(self) -> Any:
        """SYSTEM_TIME (a fixed epoch plus simulated time)."""
        return mav.MAVLink_system_time_message(EPOCH_US + int(self.v.t * 1e6), self._boot_ms())

    def fence_status(self) -> Any:
        """FENCE_STATUS."""
        f = self.v.failsafes
        return mav.MAVLink_fence_status_message(1 if f.breached else 0, f.breach_count,
                                                f.breach_type, int(f.breach_time_s * 1000), 1)

    def servo_output_raw(self) -> Any:
        """SERVO_OUTPUT_RAW: motors 1-4 and the gripper on servo 8."""
        v = self.v
        motor = 1000 if not v.armed else (1100 if v.body.on_ground else 1500)
        grip = int(v.params["GRIP_RELEASE"] if v.payload.gripper_open else v.params["GRIP_GRAB"])
        return mav.MAVLink_servo_output_raw_message(int(v.t * 1e6) & 0xFFFFFFFF, 0, motor,
                                                    motor, motor, motor, 0, 0, 0, grip)

    def rc_channels(self) -> Any:
        """RC_CHANNELS: sticks centred, throttle low."""
        ch = [1500, 1500, 1000, 1500] + [1500] * 14
        return mav.MAVLink_rc_channels_message(self._boot_ms(), 16, *ch, 255)

    def wind(self) -> Any:
        """WIND: direction the wind comes from and its speed."""
        p = self.v.params
        return mav.MAVLink_wind_message(p["SIM_WIND_DIR"], p["SIM_WIND_SPD"], 0.0)

    def autopilot_version(self) -> Any:
        """AUTOPILOT_VERSION of ArduCopter 4.7.0-dev."""
        caps = (mav.MAV_PROTOCOL_CAPABILITY_MISSION_FLOAT | mav.MAV_PROTOCOL_CAPABILITY_PARAM_FLOAT
                | mav.MAV_PROTOCOL_CAPABILITY_MISSION_INT | mav.MAV_PROTOCOL_CAPABILITY_COMMAND_INT
                | mav.MAV_PROTOCOL_CAPABILITY_SET_POSITION_TARGET_GLOBAL_INT
                | mav.MAV_PROTOCOL_CAPABILITY_MAVLINK2 | mav.MAV_PROTOCOL_CAPABILITY_MISSION_FENCE
                | mav.MAV_PROTOCOL_CAPABILITY_MISSION_RALLY)
        version = (4 << 24) | (7 << 16) | (0 << 8)
        return mav.MAVLink_autopilot_version_message(
            caps, version, 0, 0, 0, [0] * 8, [0] * 8, [0] * 8, 0, 0, self.v.sysid, [0] * 18)

    # -- terrain ------------------------------------------------------------------------------
    def _terrain_position(self) -> tuple[int, int, float] | None:
        """Where the vehicle knows it is (lat, lon degE7, altitude AMSL); None before a fix."""
        v = self.v
        if v.gps_lost or v.t < v.ready_at_s - v.settle_s * 0.5:
            return None
        return self._gps_latlon_e7()

    def _home_e7(self) -> tuple[int, int] | None:
        v = self.v
        return (round(v.home[0] * 1e7), round(v.home[1] * 1e7)) if v.home_set else None

    def terrain(self) -> None:
        """The EXTRA3 terrain slot (MSG_TERRAIN): a TERRAIN_REPORT and, when due, one
        TERRAIN_REQUEST for the tiles the vehicle lacks (sent directly; nothing returned)."""
        self.v.terrain.stream(position=self._terrain_position(), home_e7=self._home_e7())

    def terrain_report(self) -> Any:
        """TERRAIN_REPORT about where the vehicle is (None with TERRAIN_ENABLE 0)."""
        terrain = self.v.terrain
        if not terrain.enabled:
            return None
        position = self._terrain_position()
        lat, lon = (0, 0) if position is None else position[:2]
        return terrain.report(lat, lon, position=position, home_e7=self._home_e7(),
                              extrapolate=True)

    def terrain_check(self, lat_e7: int, lon_e7: int) -> None:
        """TERRAIN_CHECK: a TERRAIN_REPORT about that point; its block is queued for download."""
        terrain = self.v.terrain
        if not terrain.enabled:
            return
        self.v.send(terrain.report(lat_e7, lon_e7, position=self._terrain_position(),
                                   home_e7=self._home_e7(), extrapolate=False))
