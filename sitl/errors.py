"""Errors of the simulator backends: the built-in fleet and real ArduPilot SITL.

All derive from :class:`planner.errors.DroplineError`, the root of the one hierarchy.
"""

from __future__ import annotations

from pathlib import Path

from planner.errors import DroplineError, InputError


class SimulatorError(DroplineError):
    """A simulator backend (built-in fleet or real ArduPilot SITL) failed.

    Parameters
    ----------
    reason
        What went wrong.
    instance
        0-based index of the simulated vehicle or SITL instance concerned, if any.
    """

    def __init__(self, reason: str, *, instance: int | None = None) -> None:
        self.reason = reason
        self.instance = instance
        prefix = "" if instance is None else f"instance {instance}: "
        super().__init__(f"{prefix}{reason}")


class SitlLaunchError(SimulatorError):
    """A real ArduPilot SITL instance did not start, died, or failed its health check.

    Parameters
    ----------
    reason
        What went wrong.
    instance
        0-based SITL instance number (``-I``).
    pid
        Process id of the instance, if it was started.
    returncode
        Exit status if the process ended (negative: killed by that signal).
    log_path
        The file its standard output and error went to.
    """

    def __init__(self, reason: str, *, instance: int | None = None, pid: int | None = None,
                 returncode: int | None = None, log_path: str | Path | None = None) -> None:
        self.pid = pid
        self.returncode = returncode
        self.log_path = None if log_path is None else str(log_path)
        super().__init__(reason, instance=instance)


class SitlBinaryError(InputError):
    """The ArduPilot SITL program (``--binary``, ``ARDUPILOT_SITL_BIN``) is missing or unusable."""

