"""Which link (and which remote address) each vehicle belongs to; packets claiming it elsewhere
are flagged and ignored.

A vehicle (MAVLink system id) belongs to the link its first vehicle HEARTBEAT was heard on and,
on a link that listens (``udpin:``, ``udp:``, ``tcpin:``: anyone who reaches the port may send),
to the remote address and port it was heard from. Packets claiming that system id on another
link, or from another address, never reach telemetry, commands or transfers: they are flagged
once per source (logged, and handed to ``on_flag``, e.g. the console's audit log) and counted,
with a reminder in the log at most every ``repeat_s`` seconds.

With ``confirm_listening`` a vehicle first heard on a listening link is *unconfirmed*: its
packets are held back (it is not a vehicle to telemetry, so no plan can be given to it) until an
operator accepts it with :meth:`VehicleBinding.accept`. A vehicle heard on a point-to-point link
(``tcp:``, ``udpout:``, a serial device) is confirmed at once and takes over a system id only
claimed, unconfirmed, on a listening link. Vehicles that the configuration names for a link
(:meth:`VehicleBinding.expect`) are confirmed when they are heard there.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

#: Connection string prefixes of links that listen for whoever sends.
LISTENING_PREFIXES = ("udpin:", "udp:", "tcpin:")


def listening(url: str) -> bool:
    """True for a connection string that listens for any sender (``udpin:``, ``udp:``...)."""
    return url.startswith(LISTENING_PREFIXES)


@dataclass(frozen=True, slots=True, kw_only=True)
class VehicleBind:
    """Where one vehicle belongs: its link, the remote address on a listening link (None on a
    point-to-point link) and whether it counts as a vehicle (``confirmed``)."""

    sysid: int
    link_url: str
    address: str | None
    confirmed: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class SpoofFlag:
    """Packets claiming a vehicle from a source it does not belong to, or a vehicle waiting to
    be accepted (``kind`` ``"other link"``, ``"other address"`` or ``"unconfirmed"``).

    ``count`` packets so far; ``first_s`` and ``last_s`` on the binding's monotonic clock.
    """

    sysid: int
    kind: str
    link_url: str
    address: str | None
    message: str
    count: int
    first_s: float
    last_s: float


def _where(url: str, address: str | None) -> str:
    return url if address is None else f"{url} from {address}"


class VehicleBinding:
    """Vehicles bound to links (and addresses); shared by every link of one fleet.

    Parameters
    ----------
    confirm_listening
        Vehicles first heard on a listening link wait for :meth:`accept` (the console);
        otherwise they are confirmed at once (the command line).
    on_flag
        Called once per new flag (per system id, kind, link and address), from a reader thread.
    repeat_s
        A flag's packets are logged again, with their count, at most this often.
    clock
        Monotonic clock in seconds.
    """

    def __init__(self, *, confirm_listening: bool = False,
                 on_flag: Callable[[SpoofFlag], None] | None = None, repeat_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.confirm_listening = confirm_listening
        self.on_flag = on_flag
        self.repeat_s = repeat_s
        self.clock = clock
        self._lock = threading.Lock()
        self._binds: dict[int, VehicleBind] = {}
        self._expected: dict[int, str] = {}
        self._flags: dict[tuple[int, str, str, str | None], SpoofFlag] = {}
        self._logged_s: dict[tuple[int, str, str, str | None], float] = {}

    # -- configuration ------------------------------------------------------------------------
    def expect(self, sysid: int, link_url: str) -> None:
        """Vehicle ``sysid`` belongs to ``link_url`` (configured): confirmed when heard there,
        flagged anywhere else."""
        with self._lock:
            self._expected[sysid] = link_url

    def accept(self, sysid: int) -> VehicleBind:
        """An operator accepts an unconfirmed vehicle: its packets count from now on.

        Raises
        ------
        KeyError
            No vehicle ``sysid`` was heard.
        """
        with self._lock:
            bind = self._binds[sysid]
            if not bind.confirmed:
                bind = VehicleBind(sysid=sysid, link_url=bind.link_url, address=bind.address,
                                   confirmed=True)
                self._binds[sysid] = bind
                self._flags = {k: f for k, f in self._flags.items()
                               if not (f.sysid == sysid and f.kind == "unconfirmed")}
        log.warning("vehicle %d on %s accepted", sysid, _where(bind.link_url, bind.address))
        return bind

    # -- state --------------------------------------------------------------------------------
    def binds(self) -> tuple[VehicleBind, ...]:
        """Every vehicle heard, by system id."""
        with self._lock:
            return tuple(self._binds[s] for s in sorted(self._binds))

    def unconfirmed(self) -> tuple[VehicleBind, ...]:
        """Vehicles waiting for an operator to accept them."""
        return tuple(b for b in self.binds() if not b.confirmed)

    def answers(self, link_url: str, address: str) -> bool:
        """A confirmed vehicle on listening link ``link_url`` sends from ``address``."""
        with self._lock:
            return any(b.link_url == link_url and b.address == address and b.confirmed
                       for b in self._binds.values())

    def flags(self) -> tuple[SpoofFlag, ...]:
        """Every flag, oldest first."""
        with self._lock:
            return tuple(sorted(self._flags.values(), key=lambda f: f.first_s))

    # -- the gate -----------------------------------------------------------------------------
    def admit(self, link_url: str, sysid: int, *, vehicle_heartbeat: bool,
              address: str | None = None) -> bool:
        """Whether a packet from ``sysid`` heard on ``link_url`` (from ``address`` on a
        listening link) may be taken; binds the vehicle on its first vehicle HEARTBEAT.

        Packets of a system id not bound yet pass unless they are a vehicle HEARTBEAT that
        binds it (telemetry only takes a vehicle once it sent one).
        """
        report: list[SpoofFlag] = []
        try:
            with self._lock:
                return self._admit(link_url, sysid, vehicle_heartbeat, address, report)
        finally:
            for new in report:
                self._report(new)

    def _admit(self, link_url: str, sysid: int, vehicle_heartbeat: bool, address: str | None,
               report: list[SpoofFlag]) -> bool:
        flag: tuple[str, str] | None = None
        bind = self._binds.get(sysid)
        if bind is None or (not bind.confirmed and vehicle_heartbeat
                            and self._takes_over(bind, link_url, address)):
            if not vehicle_heartbeat:
                return True
            expected = self._expected.get(sysid)
            if expected is not None and expected != link_url:
                flag = ("other link", f"system id {sysid} heard on another link "
                        f"{_where(link_url, address)}, ignored (configured on {expected})")
            else:
                confirmed = expected == link_url or not (
                    self.confirm_listening and listening(link_url))
                if bind is not None:
                    self._raise(report, sysid, "other link", bind.link_url, bind.address,
                                f"system id {sysid} heard on {link_url} after "
                                f"{_where(bind.link_url, bind.address)}, which is ignored")
                bind = VehicleBind(sysid=sysid, link_url=link_url,
                                   address=address if listening(link_url) else None,
                                   confirmed=confirmed)
                self._binds[sysid] = bind
                if not confirmed:
                    flag = ("unconfirmed", f"new vehicle {sysid} on "
                            f"{_where(link_url, address)} waits for an operator to "
                            "accept it")
        elif bind.link_url != link_url:
            flag = ("other link", f"system id {sysid} heard on another link "
                    f"{_where(link_url, address)}, ignored")
        elif bind.address is not None and address is not None and bind.address != address:
            flag = ("other address", f"system id {sysid} heard from another address "
                    f"{address} on {link_url}, ignored (it belongs to {bind.address})")
        if flag is not None:
            self._raise(report, sysid, flag[0], link_url, address, flag[1])
            return False
        return bind is not None and bind.confirmed

    def _takes_over(self, bind: VehicleBind, link_url: str, address: str | None) -> bool:
        """A confirmed claim (point-to-point or configured link) replaces an unconfirmed one."""
        if bind.link_url == link_url and bind.address == (address if listening(link_url)
                                                          else None):
            return False
        return self._expected.get(bind.sysid) == link_url or not (
            self.confirm_listening and listening(link_url))

    def _raise(self, report: list[SpoofFlag], sysid: int, kind: str, link_url: str,
               address: str | None, message: str) -> None:
        """Count a flagged packet; the first of each source goes to ``report``. Lock held."""
        now = self.clock()
        key = (sysid, kind, link_url, address)
        old = self._flags.get(key)
        flag = SpoofFlag(sysid=sysid, kind=kind, link_url=link_url, address=address,
                         message=message, count=1 if old is None else old.count + 1,
                         first_s=now if old is None else old.first_s, last_s=now)
        self._flags[key] = flag
        if old is None:
            self._logged_s[key] = now
            report.append(flag)
        elif now - self._logged_s.get(key, now) >= self.repeat_s:
            self._logged_s[key] = now
            log.warning("%s (%d packets so far)", message, flag.count)

    def _report(self, flag: SpoofFlag) -> None:
        log.warning("%s", flag.message)
        if self.on_flag is not None:
            try:
                self.on_flag(flag)
            except Exception:
                log.exception("flag callback failed")
