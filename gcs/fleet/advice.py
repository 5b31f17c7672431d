"""What people should do about an alert: one suggested action per alert kind.

The failsafe monitor's message says what happened and what the ground station does; the advice
says what the crew or operator should do. Alerts recorded in the flight log keep only their
kind and the ground station's action, so the advice is derived from those two
(:func:`advice_for`) wherever an alert is shown.
"""

from __future__ import annotations

#: Suggested action per alert kind (the value of :class:`gcs.fleet.failsafe.AlertKind`).
ADVICE: dict[str, str] = {
    "battery_low": "watch the battery; bring the vehicle home (RTL) if the margin keeps falling",
    "battery_reserve": "prepare the landing site and be ready to recover the vehicle",
    "link_lost": "check the radio and ground station; the vehicle follows its own link "
                 "failsafe",
    "link_restored": "no action needed",
    "fence_breach": "check where the vehicle is; command RTL or LAND if it does not turn back",
    "deviation": "check the vehicle's position and wind; command RTL if it keeps drifting",
    "vehicle_failsafe": "follow the vehicle's failsafe; prepare the landing site",
    "mode_change": "check why the vehicle left the mission; resume or command RTL",
    "overdue": "check the vehicle's progress and battery; command RTL if it is stuck",
    "sortie_failed": "check the failed drops and re-plan or re-send them",
    "landed_away": "send a crew to recover it at the marked location",
}
#: Advice when the ground station itself commands a return.
RETURNING_ADVICE = "vehicle is returning; prepare the landing site"


def advice_for(kind: str, action: str | None) -> str:
    """The suggested action for an alert of ``kind`` on which the ground station did ``action``.

    Examples
    --------
    >>> advice_for("battery_reserve", "RTL")
    'vehicle is returning; prepare the landing site'
    >>> advice_for("link_restored", None)
    'no action needed'
    """
    if action == "RTL":
        return RETURNING_ADVICE
    return ADVICE.get(str(kind), "check the vehicle")
