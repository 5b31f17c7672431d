"""The exit codes of every ``dropline`` command, and the error classes each code stands for.

One table for every command:

====  ================  ========================================================================
code  name              meaning
====  ================  ========================================================================
0     ``OK``            done as asked
1     ``CHECK_FAILED``  the command ran to its end but what it checks or does did not come out
                        right: ``verify`` found violations, ``fly`` left drops undelivered,
                        ``upload`` left a vehicle not ready, a vehicle did not confirm ``rtl``,
                        ``replay`` broke a tolerance, a simulated vehicle or SITL instance
                        failed its health check or died, ``sitl status`` found it stopped,
                        a server or process of ``region`` did not start or stopped
2     ``BAD_INPUT``     a usage error, or a file, folder, option or value that is wrong, missing
                        or not free (a port in use, a SITL launcher already running or none to
                        stop); nothing was done
3     ``REJECTED``      refused as unsafe before anything flew: the verifier rejected a plan
                        (nothing flyable was written), a vehicle refused a command, a transfer,
                        signing or its preflight checks
4     ``UNREACHABLE``   no usable vehicle answered, or a vehicle stopped answering
130   ``INTERRUPTED``   Ctrl-C stopped a command that ends by itself (those that run until
                        stopped, such as ``sim``, ``sitl start``, ``demo``, ``serve`` and
                        ``status --watch``, exit 0 on Ctrl-C)
====  ================  ========================================================================

Commands that act on several vehicles (``fly``, ``upload``, ``rtl``) report each vehicle's
failure on its own line and exit 1 when any vehicle did not end as asked; an error that stops the
whole command exits with the code of its class (:data:`ERROR_CODES`).
"""

from __future__ import annotations

import enum

from dropline.region.errors import RegionError
from gcs.errors import FleetError, GroundControlError, LinkTimeout
from planner.errors import DroplineError, InfeasibleError, InputError, VerificationError
from sitl.errors import SimulatorError, SitlLaunchError


class ExitCode(enum.IntEnum):
    """The process exit status of a ``dropline`` command (see the module's table)."""

    OK = 0
    CHECK_FAILED = 1
    BAD_INPUT = 2
    REJECTED = 3
    UNREACHABLE = 4
    INTERRUPTED = 130


#: The exit code of each error class a command may raise; the first matching class wins.
ERROR_CODES: tuple[tuple[type[BaseException], ExitCode], ...] = (
    (InputError, ExitCode.BAD_INPUT),
    (VerificationError, ExitCode.REJECTED),
    (InfeasibleError, ExitCode.BAD_INPUT),
    (SitlLaunchError, ExitCode.CHECK_FAILED),
    (RegionError, ExitCode.CHECK_FAILED),
    (SimulatorError, ExitCode.BAD_INPUT),
    (LinkTimeout, ExitCode.UNREACHABLE),
    (FleetError, ExitCode.UNREACHABLE),
    (GroundControlError, ExitCode.REJECTED),
    (DroplineError, ExitCode.BAD_INPUT),
    (KeyboardInterrupt, ExitCode.INTERRUPTED),
)


def exit_code_for(error: BaseException) -> ExitCode | None:
    """The exit code of ``error``, or None for an error that is not dropline's (a bug).

    Examples
    --------
    >>> from planner.errors import InputError, VerificationError
    >>> exit_code_for(InputError("expected a number", field="--seed"))
    <ExitCode.BAD_INPUT: 2>
    >>> exit_code_for(VerificationError(["S001 item 4: below the ground"]))
    <ExitCode.REJECTED: 3>
    >>> exit_code_for(ZeroDivisionError()) is None
    True
    """
    for kind, code in ERROR_CODES:
        if isinstance(error, kind):
            return code
    return None
