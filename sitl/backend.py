"""The simulator backend interface: the built-in fleet and real ArduPilot SITL look alike.

Both start N simulated copters that a ground station reaches over MAVLink at
:attr:`SitlBackend.connection_strings`; the rest of the project cannot tell them apart.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, runtime_checkable

from planner.errors import InputError
from sitl.ardupilot.binary import ENV_VAR, resolve_binary, resolve_copter_parm
from sitl.ardupilot.launcher import ArduPilotSitl
from sitl.builtin import BuiltinFleet
from sitl.errors import SitlBinaryError

#: Backend names :func:`make_backend` knows.
BACKENDS: tuple[str, ...] = ("builtin", "ardupilot")


@runtime_checkable
class SitlBackend(Protocol):
    """A started-on-demand fleet of simulated vehicles reachable over MAVLink."""

    def start(self) -> None:
        """Start every vehicle; return once each one accepts ground-station connections."""
        ...

    def stop(self) -> None:
        """Stop every vehicle and release every process, thread and socket."""
        ...

    @property
    def connection_strings(self) -> list[str]:
        """One MAVLink connection string per vehicle (``tcp:127.0.0.1:5760``, ...)."""
        ...

    def __enter__(self) -> Any:
        ...

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        ...


def make_backend(name: str, **options: Any) -> SitlBackend:
    """A backend by name, not started yet.

    Parameters
    ----------
    name
        ``builtin`` (:class:`sitl.builtin.BuiltinFleet`) or ``ardupilot``
        (:class:`sitl.ardupilot.ArduPilotSitl`).
    **options
        Keyword arguments of that class; both take ``vehicles``, ``home`` (lat_deg, lon_deg,
        alt_amsl_m), ``speedup``, ``base_port``, ``host``, ``params`` and ``drone_type``.

    Returns
    -------
    SitlBackend
        The backend; use it as a context manager or call ``start``/``stop``.

    Raises
    ------
    InputError
        For an unknown name.
    """
    if name == "builtin":
        fleet: SitlBackend = BuiltinFleet(**options)
        return fleet
    if name == "ardupilot":
        return ArduPilotSitl(**options)
    raise InputError(f"unknown simulator backend {name!r}; expected one of {', '.join(BACKENDS)}",
                     field="backend")


def unavailable_reason(name: str, *, binary: str | Path | None = None) -> str | None:
    """Why backend ``name`` cannot run on this machine, or None when it can.

    The built-in simulator always can; real SITL needs a usable ``arducopter`` program
    (``binary``, else ``ARDUPILOT_SITL_BIN``) with ArduPilot's ``copter.parm`` beside it.
    """
    if name == "builtin":
        return None
    if name == "ardupilot":
        if binary is None and not os.environ.get(ENV_VAR):
            return f"{ENV_VAR} is not set (path of an 'arducopter' SITL program built by ArduPilot)"
        try:
            resolve_copter_parm(resolve_binary(binary))
        except SitlBinaryError as exc:
            return str(exc)
        return None
    return f"unknown simulator backend {name!r}"
