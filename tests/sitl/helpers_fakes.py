"""The fake ``arducopter`` program (``data/fake_arducopter.py``) as an executable file."""

from __future__ import annotations

import sys
from pathlib import Path

FAKE = Path(__file__).resolve().parent / "data" / "fake_arducopter.py"


#: What the fake's ``copter.parm`` (beside it, as ArduPilot's is beside the real program) sets.
FAKE_COPTER_PARM = {"FRAME_CLASS": 1, "FRAME_TYPE": 0, "GRIP_ENABLE": 0}


def write_fake(folder: Path, *, copter_parm: bool = True) -> Path:
    """An executable ``arducopter`` in ``folder`` that runs the fake SITL program, with a
    ``copter.parm`` beside it unless ``copter_parm`` is False."""
    exe = folder / "arducopter"
    exe.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE}" "$@"\n')
    exe.chmod(0o755)
    if copter_parm:
        (folder / "copter.parm").write_text(
            "".join(f"{k}\t{v}\n" for k, v in FAKE_COPTER_PARM.items()))
    return exe
