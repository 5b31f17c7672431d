"""The fake ``arducopter`` program (``data/fake_arducopter.py``) as an executable file."""

from __future__ import annotations

import sys
from pathlib import Path

FAKE = Path(__file__).resolve().parent / "data" / "fake_arducopter.py"


def write_fake(folder: Path) -> Path:
    """An executable ``arducopter`` in ``folder`` that runs the fake SITL program."""
    exe = folder / "arducopter"
    exe.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE}" "$@"\n')
    exe.chmod(0o755)
    return exe
