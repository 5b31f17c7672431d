"""Preparing a vehicle for a sortie: configuration, then mission, fence and rally, each verified.

Used by each vehicle's thread of the fleet before every sortie, and on its own by ``dropline
upload`` and the console's upload. The items go on the vehicle's storage grid first
(:func:`gcs.storage.as_stored`) so that each read-back compares exactly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from gcs import transfer
from gcs.errors import GroundControlError
from gcs.fleet.config import ConfigOptions, configure
from gcs.fleet.preflight import Uploads
from gcs.link import Link
from gcs.storage import as_stored
from gcs.transfer import DEFAULT_RETRY, Retry, Target
from planner.items import MissionType
from planner.plan_model import Sortie

log = logging.getLogger(__name__)


def prepare_vehicle(link: Link, target: Target, sortie: Sortie, *,
                    config: ConfigOptions | None = None, retry: Retry = DEFAULT_RETRY,
                    attempts: int = 2, on_upload: Callable[[], None] | None = None,
                    stopping: Callable[[], bool] = lambda: False) -> Uploads:
    """Configure a vehicle for ``sortie``, then upload mission, fence and rally, each verified.

    Returns only when every list's read-back matched; otherwise raises (an upload is tried
    ``attempts`` times).

    Raises
    ------
    VehicleNotCapable
        The vehicle lacks the gripper or winch the sortie uses.
    MissionTransferError, LinkTimeout, CommandRejected
        Configuration or an upload failed for good.
    """
    configure(link, target, sortie, config, retry)
    if on_upload is not None:
        on_upload()
    lists = ((MissionType.MISSION, sortie.mission), (MissionType.FENCE, sortie.fence),
             (MissionType.RALLY, sortie.rally))
    for kind, planned in lists:
        items = as_stored(planned, kind)
        for attempt in range(attempts):
            try:
                if items:
                    transfer.upload_verified(link, target, items, kind, retry)
                else:
                    transfer.clear(link, target, kind, retry)
                break
            except GroundControlError as exc:
                if attempt + 1 >= attempts or stopping():
                    raise
                log.warning("vehicle %d: %s upload failed (%s), again", target.sysid,
                            kind.name.lower(), exc)
    return Uploads(mission=True, fence=True, rally=True)
