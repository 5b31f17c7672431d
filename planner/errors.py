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


class SimulatorError(DroplineError):
    """A simulator backend (built-in fleet or real ArduPilot SITL) failed.

    Parameters
    ----------
    reason
        What went wrong.
    instance
        0-based index of the simulated vehicle or SITL instance concerned, if any.
    """

    def __init__(self, reason: str, *, instance: int | None = None) -> None:
        self.reason = reason
        self.instance = instance
        prefix = "" if instance is None else f"instance {instance}: "
        super().__init__(f"{prefix}{reason}")


class SitlLaunchError(SimulatorError):
    """A real ArduPilot SITL instance did not start, died, or failed its health check.

    Parameters
    ----------
    reason
        What went wrong.
    instance
        0-based SITL instance number (``-I``).
    pid
        Process id of the instance, if it was started.
    returncode
        Exit status if the process ended (negative: killed by that signal).
    log_path
        The file its standard output and error went to.
    """

    def __init__(self, reason: str, *, instance: int | None = None, pid: int | None = None,
                 returncode: int | None = None, log_path: str | Path | None = None) -> None:
        self.pid = pid
        self.returncode = returncode
        self.log_path = None if log_path is None else str(log_path)
        super().__init__(reason, instance=instance)


class SitlBinaryError(InputError):
    """The ArduPilot SITL program (``--binary``, ``ARDUPILOT_SITL_BIN``) is missing or unusable."""


class GroundControlError(DroplineError):
    """Ground control could not do what was asked of a vehicle."""


class LinkTimeout(GroundControlError):
    """A vehicle did not answer in time (after every retry).

    Parameters
    ----------
    what
        What was waited for (``"MISSION_REQUEST for item 3"``, ``"COMMAND_ACK for ARM"``).
    timeout_s
        The total time waited, over all tries.
    sysid
        The vehicle's system id.
    """

    def __init__(self, what: str, *, timeout_s: float, sysid: int | None = None) -> None:
        self.what = what
        self.timeout_s = timeout_s
        self.sysid = sysid
        who = f"vehicle {sysid}: " if sysid is not None else ""
        super().__init__(f"{who}no answer: {what} (waited {timeout_s:.1f} s over every retry)")


class MissionTransferError(GroundControlError):
    """A mission, fence or rally upload or download failed or did not verify.

    Parameters
    ----------
    reason
        What went wrong.
    mission_type
        MAV_MISSION_TYPE (0 mission, 1 fence, 2 rally).
    item_index
        The item concerned, if any.
    result_code
        The MAV_MISSION_RESULT the vehicle sent, if any.
    sysid
        The vehicle's system id.
    """

    def __init__(self, reason: str, *, mission_type: int, item_index: int | None = None,
                 result_code: int | None = None, sysid: int | None = None) -> None:
        self.reason = reason
        self.mission_type = mission_type
        self.item_index = item_index
        self.result_code = result_code
        self.sysid = sysid
        kind = {0: "mission", 1: "fence", 2: "rally"}.get(mission_type, f"type {mission_type}")
        where = f" item {item_index}" if item_index is not None else ""
        who = f"vehicle {sysid}: " if sysid is not None else ""
        super().__init__(f"{who}{kind}{where}: {reason}")


class CommandRejected(GroundControlError):
    """A vehicle refused a command (COMMAND_ACK result other than ACCEPTED).

    Parameters
    ----------
    command
        The MAV_CMD name or number.
    result
        The MAV_RESULT name the vehicle answered.
    params
        The command's parameters.
    sysid
        The vehicle's system id.
    detail
        The vehicle's own explanation (its STATUSTEXT), when it sent one.
    """

    def __init__(self, command: str, result: str, *, params: tuple[float, ...] = (),
                 sysid: int | None = None, detail: str | None = None) -> None:
        self.command = command
        self.result = result
        self.params = params
        self.sysid = sysid
        self.detail = detail
        who = f"vehicle {sysid}: " if sysid is not None else ""
        why = f" ({detail})" if detail else ""
        super().__init__(f"{who}{command} {result}{why}")


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



class VehicleNotCapable(GroundControlError):
    """A vehicle lacks something a sortie needs (no gripper configured, no winch).

    Parameters
    ----------
    reasons
        Every missing capability, as a sentence naming the parameter to set.
    sysid
        The vehicle's system id.
    sortie_id
        The sortie it was meant to fly.
    """

    def __init__(self, reasons: list[str] | tuple[str, ...], *, sysid: int | None = None,
                 sortie_id: str | None = None) -> None:
        self.reasons = tuple(reasons)
        self.sysid = sysid
        self.sortie_id = sortie_id
        who = f"vehicle {sysid}: " if sysid is not None else ""
        what = f"cannot fly sortie {sortie_id}: " if sortie_id else "not capable: "
        super().__init__(f"{who}{what}{'; '.join(self.reasons)}")


class PreflightFailed(GroundControlError):
    """Preflight checks failed before a sortie; every failed check is named.

    Parameters
    ----------
    failures
        ``"name: detail"`` for every failed check.
    sysid
        The vehicle's system id.
    sortie_id
        The sortie that was about to start.
    """

    def __init__(self, failures: list[str] | tuple[str, ...], *, sysid: int | None = None,
                 sortie_id: str | None = None) -> None:
        self.failures = tuple(failures)
        self.sysid = sysid
        self.sortie_id = sortie_id
        who = f"vehicle {sysid}: " if sysid is not None else ""
        what = f"sortie {sortie_id} " if sortie_id else ""
        super().__init__(f"{who}{what}preflight failed: {'; '.join(self.failures)}")


class FleetError(GroundControlError):
    """The fleet cannot fly a plan as asked (too few vehicles, a plan the log does not match).

    Parameters
    ----------
    reason
        What is wrong and what was expected.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class SigningError(GroundControlError):
    """MAVLink 2 signing could not be set up with a vehicle, or a key is unusable.

    Parameters
    ----------
    reason
        What went wrong (``"no signed message within 6.0 s: it may hold another key"``).
    sysid
        The vehicle's system id, if one is concerned.
    """

    def __init__(self, reason: str, *, sysid: int | None = None) -> None:
        self.reason = reason
        self.sysid = sysid
        who = f"vehicle {sysid}: " if sysid is not None else ""
        super().__init__(f"{who}signing: {reason}")
