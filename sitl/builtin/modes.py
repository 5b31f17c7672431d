"""ArduCopter flight modes of the built-in simulator: numbers, names and the groups they fall in.

Examples
--------
>>> MODE["GUIDED"] in POSITION_MODES, MODE["STABILIZE"] in POSITION_MODES
(True, False)
>>> mode_name(MODE["SMART_RTL"]), mode_name(99)
('SMART_RTL', '99')
"""

from __future__ import annotations

from gcs.mavlink import COPTER_MODE_NAMES, COPTER_MODES

#: ArduCopter mode numbers by name (``custom_mode`` of HEARTBEAT and SET_MODE).
MODE = COPTER_MODES
#: The modes the simulator flies; any other is refused.
SUPPORTED_MODES = frozenset({MODE["STABILIZE"], MODE["ALT_HOLD"], MODE["AUTO"], MODE["GUIDED"],
                             MODE["LOITER"], MODE["RTL"], MODE["LAND"], MODE["POSHOLD"],
                             MODE["BRAKE"], MODE["SMART_RTL"]})
#: Modes that need a position estimate (GPS).
POSITION_MODES = frozenset({MODE["AUTO"], MODE["GUIDED"], MODE["LOITER"], MODE["RTL"],
                            MODE["LAND"], MODE["POSHOLD"], MODE["BRAKE"], MODE["SMART_RTL"]})
#: Modes the motors cannot be armed in.
NOT_ARMABLE = frozenset({MODE["RTL"], MODE["LAND"], MODE["BRAKE"], MODE["SMART_RTL"]})


def mode_name(mode: int) -> str:
    """The ArduCopter name of a mode number (the number itself when unknown).

    Parameters
    ----------
    mode
        ArduCopter mode number.

    Returns
    -------
    str
        The mode's name, e.g. ``"GUIDED"``.
    """
    return COPTER_MODE_NAMES.get(mode, str(mode))
