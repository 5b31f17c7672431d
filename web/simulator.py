"""What the console needs from an attached simulator: its vehicles and fault injection.

The console never imports a simulator package; whoever starts both (``dropline demo``) passes an
implementation as the app's ``SIMULATOR`` setting. Without one (``dropline serve``) the
simulator API answers 404 and the fleet page shows no simulator panel.
"""

from __future__ import annotations

from typing import Protocol


class SimulatorControl(Protocol):
    """Fault injection into simulated vehicles."""

    def vehicles(self) -> list[int]:
        """The simulated vehicles' numbers (their MAVLink system ids)."""
        ...

    def faults(self) -> dict[str, str]:
        """Every fault name and what value it takes (``"a share 0..1"``, ``"off or on"``)."""
        ...

    def inject(self, vehicle: int, fault: str, value: str) -> str:
        """Inject ``fault`` with ``value`` into ``vehicle``; a line saying what was done.

        Raises
        ------
        InputError
            An unknown vehicle or fault, or a value the fault does not take (``field`` is
            ``"vehicle"``, ``"fault"`` or ``"value"``).
        """
        ...
