"""The AUTO mission executor, as AP_Mission and ArduCopter's mode_auto run a mission.

NAV commands run one at a time; the DO commands between two NAV commands start when the first
of them completes (the first DO before the next NAV, the rest right after it), DO_JUMP is
followed with its repeat counters, and every command announces itself with "Mission: N <Cmd>".
Completed NAV commands send MISSION_ITEM_REACHED; waypoints and timed loiters also "Reached
command #N".
"""

from __future__ import annotations

import math
from typing import Any, Protocol

from gcs.mavlink import dialect as mav
from sitl.builtin.flight import tasks as flight
from sitl.builtin.flight.geo import LocalFrame
from sitl.builtin.flight.physics import corner_speed_m_s
from sitl.builtin.mission import MISSION, StoredItem

STOPPED, RUNNING, COMPLETE = "stopped", "running", "complete"

NAV_CMDS = frozenset({16, 17, 19, 20, 21, 22, 93, 94})
_PASS_THROUGH_NEXT = frozenset({16})

CMD_NAMES = {16: "WP", 17: "LoitUnlim", 19: "LoitTime", 20: "RTL", 21: "Land", 22: "Takeoff",
             93: "Delay", 94: "PayloadPlace", 112: "CondDelay", 177: "Jump", 178: "ChangeSpeed",
             179: "SetHome", 183: "SetServo", 189: "LandStart", 207: "FenceEnable",
             211: "Gripper", 42600: "Winch"}


class MissionHost(flight.FlightHost, Protocol):
    """What the AUTO executor needs from its vehicle (besides what its flight tasks need)."""

    @property
    def armed(self) -> bool: ...

    @property
    def frame(self) -> LocalFrame: ...

    @property
    def missions(self) -> dict[int, list[StoredItem]]: ...

    def send(self, msg: Any) -> None: ...

    def change_speed(self, speed_type: int, speed_m_s: float) -> None: ...

    def rtl_task(self) -> flight.Rtl: ...

    def disarm(self, *, reason: str = "gcs", force: bool = False) -> bool: ...


class MissionRunner:
    """Runs the stored mission of one vehicle."""

    def __init__(self, vehicle: MissionHost) -> None:
        self.v = vehicle
        self.state = STOPPED
        self.nav_index = 0  # 0 = none yet
        self.do_index = 0
        self.jumps: dict[int, int] = {}
        self.task: flight.Task | None = None
        self.phase = ""  # "" | "hold" (waypoint hold time) | "loiter_forever"
        self.do_wait_s = 0.0
        self.paused = False
        self._paused_task: flight.Task | None = None

    # -- mission state ------------------------------------------------------------------------
    @property
    def items(self) -> list[StoredItem]:
        """The stored mission, home first."""
        return self.v.missions[MISSION]

    def reset(self) -> None:
        """Back to the start (disarm, new mission)."""
        if self.state != COMPLETE:
            self.state = STOPPED
        self.nav_index = 0
        self.do_index = 0
        self.jumps.clear()
        self.task = None
        self.paused = False

    def stop(self) -> None:
        """Leave AUTO: the current command will be restarted on resume."""
        if self.state == RUNNING:
            self.state = STOPPED
        self.task = None
        self.paused = False

    def pause(self) -> None:
        """DO_PAUSE_CONTINUE(0): brake and hold, staying in AUTO."""
        if self.state == RUNNING and not self.paused:
            self.paused = True
            self._paused_task = self.task
            self.task = flight.Hold()
            self.task.start(self.v)

    def unpause(self) -> None:
        """DO_PAUSE_CONTINUE(1): continue the interrupted command."""
        if self.paused:
            self.paused = False
            self._paused_task = None
            self._start_nav(self.nav_index)

    def start(self) -> None:
        """Run from the first command."""
        self.state = RUNNING
        self.nav_index = 0
        self.do_index = 0
        self.jumps.clear()
        self.task = None
        if not self._advance():
            self._complete()

    def resume(self) -> None:
        """Restart the interrupted NAV command, or start when there is none."""
        if self.nav_index == 0 or self.state == COMPLETE:
            self.start()
            return
        self.state = RUNNING
        self._start_nav(self.nav_index)

    def start_or_resume(self) -> None:
        """MIS_RESTART 0 resumes, 1 restarts."""
        if self.v.params["MIS_RESTART"] >= 1 or self.state == COMPLETE:
            self.start()
        else:
            self.resume()

    def set_current(self, index: int) -> bool:
        """MISSION_SET_CURRENT: continue from ``index``."""
        if not 0 < index < len(self.items):
            return False
        if self.state == RUNNING:
            self.nav_index = 0
            self.task = None
            if not self._advance(index):
                self._complete()
            return True
        self.nav_index = index
        if self.state == COMPLETE:
            self.state = STOPPED
        return True

    def first_nav_is_takeoff(self) -> bool:
        """Whether the mission's first NAV command is a takeoff."""
        index = self._next_cmd(1, count_jumps=False)
        while index is not None and self.items[index].command not in NAV_CMDS:
            index = self._next_cmd(index + 1, count_jumps=False)
        return index is not None and self.items[index].command == 22

    # -- command sequencing -------------------------------------------------------------------
    def _next_cmd(self, start: int, *, count_jumps: bool) -> int | None:
        index = start
        loops = 64
        while index < len(self.items):
            item = self.items[index]
            if item.command != 177:
                return index
            loops -= 1
            target, times = int(item.param1), int(item.param2)
            if loops < 0 or target <= 0 or target >= len(self.items):
                return None
            run = self.jumps.get(index, 0)
            if times < 0 or run < times:
                if count_jumps and times >= 0:
                    self.jumps[index] = run + 1
                    self.v.text(6, f"Mission: {index} Jump {run + 1}/{times}")
                index = target
            else:
                index += 1
        return None

    def _advance(self, start: int | None = None) -> bool:
        """Find and start the next NAV command (and the first DO command before it)."""
        index = self._next_cmd(start if start is not None else self.nav_index + 1
                               if self.nav_index else 1, count_jumps=True)
        first_do_started = False
        while index is not None:
            item = self.items[index]
            if item.command in NAV_CMDS:
                self.do_index = index if not first_do_started else self.do_index
                self._start_nav(index)
                if first_do_started:
                    self._run_queued_dos()
                return True
            if not first_do_started:
                first_do_started = True
                self.do_index = index
                self._start_do(index)
            index = self._next_cmd(index + 1, count_jumps=True)
        return False

    def _run_queued_dos(self) -> None:
        index = self._next_cmd(self.do_index + 1, count_jumps=False)
        while index is not None and index < self.nav_index:
            if self.items[index].command in NAV_CMDS:
                break
            self.do_index = index
            self._start_do(index)
            index = self._next_cmd(index + 1, count_jumps=False)

    def _announce(self, index: int) -> None:
        name = CMD_NAMES.get(self.items[index].command, "?")
        self.v.text(6, f"Mission: {index} {name}")

    # -- DO commands --------------------------------------------------------------------------
    def _start_do(self, index: int) -> None:
        item = self.items[index]
        self._announce(index)
        v = self.v
        if item.command == 211:
            if item.param2 == 0:
                v.payload.release(announce=True)
            else:
                v.payload.grab(announce=True)
        elif item.command == 178:
            v.change_speed(int(item.param1), item.param2)
        elif item.command == 42600:
            v.payload.winch(int(item.param2), item.param3)
        elif item.command == 207:
            v.params.set("FENCE_ENABLE", 1.0 if item.param1 >= 1 else 0.0)
        elif item.command == 112:
            self.do_wait_s = item.param1

    # -- NAV commands -------------------------------------------------------------------------
    def _location(self, item: StoredItem) -> tuple[float, float, float]:
        """North, east and altitude AMSL of a NAV item (0/0 = here, alt 0 = current)."""
        v = self.v
        if item.has_location:
            n, e = v.frame.to_ne(item.lat_deg, item.lon_deg)
        else:
            n, e = v.body.n_m, v.body.e_m
        if item.z == 0 and item.command not in (21, 22):
            alt = v.body.alt_m
        elif item.terrain:
            alt = v.ground_alt_m(n, e) + item.z
        elif item.relative:
            alt = v.home_alt_m() + item.z
        else:
            alt = item.z
        return n, e, alt

    def _start_nav(self, index: int) -> None:
        v = self.v
        self.nav_index = index
        item = self.items[index]
        self._announce(index)
        self.phase = ""
        cmd = item.command
        n, e, alt = self._location(item)
        task: flight.Task
        if cmd == 22:
            task = flight.Takeoff(max(alt, v.body.alt_m if not v.body.on_ground else alt))
        elif cmd in (16, 19, 17):
            end_speed, radius = 0.0, 0.0
            if cmd == 16 and item.param1 == 0:
                end_speed = self._corner_speed(index, (n, e, alt))
                radius = v.params["WPNAV_RADIUS"] / 100.0 if end_speed > 0 else 0.0
            task = flight.GoTo(n, e, alt, end_speed_m_s=end_speed, radius_m=radius)
        elif cmd == 21:
            task = flight.Land(n, e) if item.has_location else flight.Land()
        elif cmd == 94:
            task = flight.PayloadPlace(n, e, item.param1)
        elif cmd == 20:
            task = v.rtl_task()
        elif cmd == 93:
            task = flight.Wait(item.param1 if item.param1 >= 0 else 0.0)
            v.text(6, f"Delaying {max(0, int(item.param1))} sec")
        else:
            task = flight.Hold()
        self.task = task
        task.start(v)

    def _corner_speed(self, index: int, here: tuple[float, float, float]) -> float:
        nxt = self._next_cmd(index + 1, count_jumps=False)
        while nxt is not None and self.items[nxt].command not in NAV_CMDS:
            nxt = self._next_cmd(nxt + 1, count_jumps=False)
        if nxt is None or self.items[nxt].command not in _PASS_THROUGH_NEXT:
            return 0.0
        if self.items[nxt].param1 < 0:
            return 0.0
        n2, e2, _ = self._location(self.items[nxt])
        body = self.v.body
        a = math.atan2(here[1] - body.e_m, here[0] - body.n_m)
        b = math.atan2(e2 - here[1], n2 - here[0])
        turn = math.degrees(abs((b - a + math.pi) % (2 * math.pi) - math.pi))
        return corner_speed_m_s(self.v.limits(), turn, self.v.params["WPNAV_RADIUS"] / 200.0)

    # -- running ------------------------------------------------------------------------------
    def update(self, dt_s: float) -> None:
        """Step the current NAV command; move on when it is verified."""
        if self.state != RUNNING or self.task is None or self.paused:
            if self.task is not None:
                self.task.step(self.v, dt_s)
            return
        v = self.v
        if self.do_wait_s > 0:
            self.do_wait_s -= dt_s
        self.task.step(v, dt_s)
        if not self.task.done:
            return
        item = self.items[self.nav_index]
        if self.phase == "" and item.command in (16, 19) and item.param1 > 0:
            self.phase = "hold"
            self.task = flight.Wait(item.param1)
            self.task.start(v)
            return
        if item.command == 17:
            return  # loiter forever
        self._verified(item)

    def _verified(self, item: StoredItem) -> None:
        v = self.v
        index = self.nav_index
        v.send(mav.MAVLink_mission_item_reached_message(index))
        if item.command in (16, 19):
            v.text(6, f"Reached command #{index}")
        if item.command == 21 and v.body.on_ground and not (int(v.params["MIS_OPTIONS"]) & 4):
            v.disarm(reason="landed")
            return
        self.task = None
        if not self._advance():
            self._complete()

    def _complete(self) -> None:
        v = self.v
        self.state = COMPLETE
        self.task = None
        self.nav_index = 0
        if v.body.on_ground:
            if v.armed:
                v.disarm(reason="mission end")
        else:
            self.task = flight.Hold()
            self.task.start(v)
