"""Errors of ground control: links, transfers, commands, preflight, the fleet and signing.

All derive from :class:`planner.errors.DroplineError`, the root of the one hierarchy.
"""

from __future__ import annotations

from planner.errors import DroplineError


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


class SortieFailed(GroundControlError):
    """A sortie could not start or went wrong; its vehicle is taken out of service.

    Parameters
    ----------
    reason
        Why (the error that stopped the sortie, or what went wrong in flight).
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


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

