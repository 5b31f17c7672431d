"""Helpers for real ArduPilot SITL tests: the SITL program and the `dropline` command line."""

from __future__ import annotations

import sys

from tests.helpers.shared_data import ardupilot_binary

#: The real SITL program: ``$ARDUPILOT_SITL_BIN``, else the shared one.
ARDUCOPTER = ardupilot_binary()


def dropline_command(*args: str) -> list[str]:
    """The argument vector running ``dropline args...`` in this Python."""
    return [sys.executable, "-c", "import sys; from dropline.cli import main; "
            "sys.exit(main(sys.argv[1:]))", *args]
