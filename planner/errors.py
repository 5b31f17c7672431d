"""The one exception hierarchy of dropline.

Every error the project raises on purpose derives from :class:`DroplineError`. Errors carry their
context as fields (file, line, field, item index) so that a caller can show them or map them to
an HTTP status without parsing the message.
"""

from __future__ import annotations

from pathlib import Path


class DroplineError(Exception):
    """Root of every error dropline raises on purpose."""


class InputError(DroplineError):
    """A file or value given by a user is wrong.

    Parameters
    ----------
    reason
        What is wrong and what was expected.
    path
        The file that holds the bad input, if any.
    line
        1-based line number in ``path`` (CSV row, TOML line), if known.
    item
        The feature, table entry or item the bad value belongs to (``"feature 3"``,
        ``"drone_type 'quad'"``), if any.
    field
        The name of the offending field or column, if any.
    """

    def __init__(
        self,
        reason: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        item: str | None = None,
        field: str | None = None,
    ) -> None:
        self.reason = reason
        self.path = None if path is None else str(path)
        self.line = line
        self.item = item
        self.field = field
        super().__init__(self._message())

    def _message(self) -> str:
        where = []
        if self.path is not None:
            where.append(self.path if self.line is None else f"{self.path}:{self.line}")
        elif self.line is not None:
            where.append(f"line {self.line}")
        if self.item is not None:
            where.append(self.item)
        if self.field is not None:
            where.append(f"field '{self.field}'")
        prefix = ", ".join(where)
        return f"{prefix}: {self.reason}" if prefix else self.reason


class ScenarioError(InputError):
    """A scenario folder (TOML, drops CSV, no-fly GeoJSON) is malformed or inconsistent."""


class TerrainError(InputError):
    """An elevation model is unreadable, void-filled or does not cover the area."""


class PlanFileError(InputError):
    """A plan file (plan.json, QGroundControl .plan, Mission Planner .waypoints) is malformed."""


class InfeasibleError(DroplineError):
    """No plan satisfies the constraints (for example no drop can be served at all)."""


class VerificationError(DroplineError):
    """A plan was rejected by the independent verifier.

    Parameters
    ----------
    violations
        Every violation the verifier found, as human-readable strings.
    """

    def __init__(self, violations: list[str]) -> None:
        self.violations = list(violations)
        shown = "\n".join(f"  - {v}" for v in self.violations[:20])
        more = len(self.violations) - 20
        tail = f"\n  ... and {more} more" if more > 0 else ""
        super().__init__(f"plan rejected by the verifier ({len(self.violations)} violations):\n"
                         f"{shown}{tail}")


class RoutingInfeasibleError(InfeasibleError):
    """The routing core found no answer that keeps every constraint.

    Parameters
    ----------
    reason
        Why.
    clients
        Indexes of the required clients that no vehicle type can serve even alone, if any.
    violations
        What the best answer found broke, if the search found one.
    """

    def __init__(self, reason: str, *, clients: tuple[int, ...] = (),
                 violations: tuple[str, ...] = ()) -> None:
        self.reason = reason
        self.clients = tuple(clients)
        self.violations = tuple(violations)
        shown = f" (clients {list(self.clients[:20])})" if self.clients else ""
        more = f"; first violations: {list(self.violations[:5])}" if self.violations else ""
        super().__init__(f"{reason}{shown}{more}")


