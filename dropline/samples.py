"""Where the sample scenarios are: ``missions/`` of a source checkout, else the copy that
building the package puts into it (``dropline/missions/``, see setup.py)."""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent
#: The sample scenarios of an installed package.
PACKAGED_MISSIONS = _HERE / "missions"
#: The sample scenarios of a source checkout (an editable install).
CHECKOUT_MISSIONS = _HERE.parent / "missions"


def missions_dir() -> Path:
    """The folder of the sample scenarios (``district``, ``tutorial``...).

    The installed package's copy when there is one, else the checkout's ``missions/``.
    """
    return PACKAGED_MISSIONS if PACKAGED_MISSIONS.is_dir() else CHECKOUT_MISSIONS
