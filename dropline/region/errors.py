"""The region launcher's error."""

from __future__ import annotations

from planner.errors import DroplineError


class RegionError(DroplineError):
    """A server or process of the regional setup could not be started."""
