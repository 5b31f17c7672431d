"""Following each vehicle's own speed: a simulator may run N times faster than real time.

:class:`SpeedPacer` reads each vehicle's ``SIM_SPEEDUP`` (1 for a real vehicle) as soon as it is
heard, unless a time scale is given: the link's heartbeat then goes out at least once a second
of the fastest vehicle's time on it, and telemetry is asked for per wall second
(:func:`stream_rate_hz`), so that a vehicle sped up N times sends about N times less per
simulated second than in real time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from gcs import commands
from gcs.binding import VehicleBinding
from gcs.link import Link
from gcs.telemetry import TelemetryHub, request_streams
from gcs.transfer import Target

log = logging.getLogger(__name__)

#: Telemetry asked of vehicles per wall second.
WALL_STREAM_RATE_HZ = 4.0
#: Seconds between looks for vehicles heard for the first time.
PACE_PERIOD_S = 0.25
#: Heartbeat period (wall s) of links to vehicles whose speed-up is not read yet: a vehicle
#: running up to 5 times faster than real time hears one a second of its own time.
UNKNOWN_SPEED_HEARTBEAT_S = 0.2


def stream_rate_hz(time_scale: float) -> float:
    """Position rate (Hz of vehicle time) asked of vehicles ``time_scale`` times faster than
    real time: :data:`WALL_STREAM_RATE_HZ` per wall second, never below 1 Hz.

    Examples
    --------
    >>> stream_rate_hz(1.0), stream_rate_hz(2.0), stream_rate_hz(20.0)
    (4.0, 2.0, 1.0)
    """
    return max(1.0, WALL_STREAM_RATE_HZ / time_scale)


class SpeedPacer:
    """The speed-up of every vehicle a telemetry hub hears, and the pace set from it.

    Parameters
    ----------
    telemetry
        The hub of the vehicles' links.
    time_scale
        Vehicle seconds per wall second of every vehicle (None: each vehicle's
        ``SIM_SPEEDUP``, read when it is first heard).
    stop
        Ends :meth:`loop`.
    """

    def __init__(self, telemetry: TelemetryHub, time_scale: float | None,
                 stop: threading.Event) -> None:
        self.telemetry = telemetry
        self.time_scale = time_scale
        self.stop = stop
        #: Vehicle seconds per wall second of each vehicle heard (given, or its SIM_SPEEDUP).
        self.speedups: dict[int, float] = {}

    def open_links(self, urls: Sequence[str], binding: VehicleBinding,
                   errors: dict[str, str]) -> list[Link]:
        """Open a link per connection string and attach it to the hub, heartbeating fast until
        the speed-ups are read (at the time scale's pace when one is given); a link that does
        not open is logged and its error kept in ``errors`` (url -> message)."""
        heartbeat_s = UNKNOWN_SPEED_HEARTBEAT_S if self.time_scale is None else \
            min(1.0, 1.0 / self.time_scale)
        links = []
        for url in urls:
            try:
                link = Link(url, heartbeat_period_s=heartbeat_s, binding=binding).open()
            except (OSError, ValueError) as exc:
                errors[url] = str(exc)
                log.error("cannot open %s: %s", url, exc)
                continue
            links.append(link)
            self.telemetry.attach(link)
        return links

    def loop(self) -> None:
        """Pace each newly heard vehicle until ``stop`` is set (a thread's target)."""
        while not self.stop.wait(PACE_PERIOD_S):
            for sysid in self.telemetry.vehicles:
                if sysid in self.speedups or self.stop.is_set():
                    continue
                try:
                    self.pace(sysid)
                except Exception:
                    log.exception("speed-up of vehicle %d not read", sysid)
                    self.speedups[sysid] = 1.0

    def pace(self, sysid: int) -> None:
        """Read vehicle ``sysid``'s speed-up (unless configured), heartbeat its link at least
        once a second of its time and ask for telemetry per wall second."""
        link = self.telemetry.link_of(sysid)
        if link is None:
            return
        if self.time_scale is not None:
            self.speedups[sysid] = self.time_scale
            return
        scale = commands.vehicle_speedup(link, Target(sysid=sysid))
        self.speedups[sysid] = scale
        fastest = max(s for v, s in self.speedups.items() if self.telemetry.link_of(v) is link)
        link.heartbeat_period_s = min(1.0, 1.0 / fastest)
        self.telemetry.stream_rate_hz = stream_rate_hz(max(self.speedups.values()))
        request_streams(link, sysid, stream_rate_hz(scale), self.telemetry.status_rate_hz)
        log.info("vehicle %d runs at %gx (SIM_SPEEDUP)", sysid, scale)

    def fastest(self) -> float:
        """The configured time scale, else the fastest vehicle's speed-up read so far (1
        before any)."""
        if self.time_scale is not None:
            return self.time_scale
        return max(self.speedups.values(), default=1.0)
