"""Find the ArduPilot SITL program (``arducopter``) the user built with ArduPilot's own tools.

dropline never downloads or builds ArduPilot: the path comes from ``--binary`` or from the
``ARDUPILOT_SITL_BIN`` environment variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from sitl.errors import SitlBinaryError

#: Environment variable naming the ``arducopter`` SITL program.
ENV_VAR = "ARDUPILOT_SITL_BIN"
#: ArduPilot's default parameter file for SITL copters (``Tools/autotest/default_params``).
COPTER_PARM = "copter.parm"


def resolve_binary(path: str | Path | None = None, *,
                   environ: Mapping[str, str] | None = None) -> Path:
    """The absolute path of a usable SITL program.

    Parameters
    ----------
    path
        The program given explicitly (``--binary``); when None, ``ARDUPILOT_SITL_BIN`` is used.
    environ
        Environment to read ``ARDUPILOT_SITL_BIN`` from (default ``os.environ``).

    Returns
    -------
    Path
        The resolved, absolute path of an existing executable file.

    Raises
    ------
    SitlBinaryError
        When no path is given, or it does not exist, is not a file or is not executable.
    """
    env = os.environ if environ is None else environ
    field = "--binary"
    if path is None or str(path) == "":
        path = env.get(ENV_VAR, "")
        field = ENV_VAR
        if not path:
            raise SitlBinaryError(
                f"no ArduPilot SITL program given: pass --binary PATH or set {ENV_VAR} to the "
                "'arducopter' program built by ArduPilot (build/sitl/bin/arducopter)",
                field="--binary")
    candidate = Path(path).expanduser()
    if not candidate.exists():
        raise SitlBinaryError("no such file; expected the 'arducopter' SITL program",
                              path=candidate, field=field)
    if not candidate.is_file():
        raise SitlBinaryError("not a file; expected the 'arducopter' SITL program",
                              path=candidate, field=field)
    if not os.access(candidate, os.X_OK):
        raise SitlBinaryError("not executable (chmod +x it, or check the mount options)",
                              path=candidate, field=field)
    return candidate.resolve()


def resolve_copter_parm(binary: Path, path: str | Path | None = None) -> Path:
    """ArduPilot's ``copter.parm``: ``path`` when given, else the one beside ``binary``.

    SITL needs it (frame class, RC calibration, simulated sensors): without it the vehicle
    never passes "PreArm: Motors: Check frame class and type". ArduPilot's ``sim_vehicle.py``
    passes it first in ``--defaults``.

    Raises
    ------
    SitlBinaryError
        When the file is not there.
    """
    if path is not None and str(path) != "":
        candidate = Path(path).expanduser()
        if not candidate.is_file():
            raise SitlBinaryError("no such parameter file; expected ArduPilot's copter.parm",
                                  path=candidate, field="--defaults-file")
        return candidate.resolve()
    beside = binary.parent / COPTER_PARM
    if not beside.is_file():
        raise SitlBinaryError(
            f"no {COPTER_PARM} beside the SITL program: pass --defaults-file PATH (ArduPilot's "
            f"Tools/autotest/default_params/{COPTER_PARM}) or copy it next to the program",
            path=beside, field="--defaults-file")
    return beside.resolve()
