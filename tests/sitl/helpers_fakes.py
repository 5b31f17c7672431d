"""Stand-ins for simulators: the fake ``arducopter`` program (``data/fake_arducopter.py``) as an
executable file, and a vehicle handle that records the calls made to it."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


@dataclass
class RecordingVehicle:
    """Stands in for a SimVehicleHandle and records the calls made to it."""

    calls: list[tuple[str, Any]] = field(default_factory=list)

    def set_link_faults(self, **kw: float) -> None:
        """Record the link faults set."""
        self.calls.append(("link", dict(kw)))

    def cut_link(self, duration_s: float) -> None:
        """Record a link cut."""
        self.calls.append(("cut", duration_s))

    def battery_sag(self, fraction: float) -> None:
        """Record a battery sag."""
        self.calls.append(("battery", fraction))

    def gps_loss(self, lost: bool = True) -> None:
        """Record a GPS loss (or its end)."""
        self.calls.append(("gps", lost))

    def motor_failure(self) -> None:
        """Record a motor failure."""
        self.calls.append(("motor", None))

    def snapshot(self) -> Any:
        """A fixed snapshot-like state."""
        return RecordingState()


@dataclass(frozen=True)
class RecordingState:
    """A snapshot-like dataclass."""

    lat_deg: float = 44.123456789
    mode: str = "GUIDED"
    battery_pct: float = 87.456
