"""The missions, fences and rally points of the recorded SITL traces, as rows and as items."""

from __future__ import annotations

from planner.items import MissionItem

# The missions, fences and rally points the recorded sessions had loaded (MISSION_ITEM_INT
# fields: frame, command, p1..p4, x, y, z). The payload-place mission is the one uploaded in
# mission_upload_download.tlog; the gripper and land-release missions are read off their tracks.
HOME_ITEM = (0, 16, 0, 0, 0, 0, 303165000, 780322000, 640.0)
_N, _NE, _E = (303182966, 780322000), (303182966, 780342812), (303165000, 780342812)
PAYLOAD_MISSION = [HOME_ITEM, (6, 22, 0, 0, 0, 0, 0, 0, 30.0), (6, 16, 15, 0, 0, 0, *_N, 30.0),
                   (6, 16, 0, 0, 0, 0, *_NE, 30.0), (6, 16, 0, 0, 0, 0, *_E, 30.0),
                   (6, 94, 40, 0, 0, 0, *_E, 30.0), (6, 20, 0, 0, 0, 0, 0, 0, 0.0)]
GRIPPER_MISSION = [HOME_ITEM, (6, 22, 0, 0, 0, 0, 0, 0, 30.0), (6, 16, 15, 0, 0, 0, *_N, 30.0),
                   (6, 16, 0, 0, 0, 0, *_NE, 30.0), (6, 16, 0, 0, 0, 0, *_E, 30.0),
                   (6, 16, 3, 0, 0, 0, *_E, 5.0), (0, 211, 1, 0, 0, 0, 0, 0, 0.0),
                   (6, 16, 0, 0, 0, 0, *_E, 30.0), (6, 20, 0, 0, 0, 0, 0, 0, 0.0)]
LAND_MISSION = [HOME_ITEM, (6, 22, 0, 0, 0, 0, 0, 0, 30.0), (6, 16, 15, 0, 0, 0, *_N, 30.0),
                (6, 16, 0, 0, 0, 0, *_NE, 30.0), (6, 21, 0, 0, 0, 0, *_E, 0.0),
                (0, 211, 1, 0, 0, 0, 0, 0, 0.0), (6, 22, 0, 0, 0, 0, 0, 0, 30.0),
                (6, 20, 0, 0, 0, 0, 0, 0, 0.0)]
BREACH_FENCE = [(0, 5002, 4, 0, 0, 0, 303179373, 780328244, 0.0),
                (0, 5002, 4, 0, 0, 0, 303179373, 780336569, 0.0),
                (0, 5002, 4, 0, 0, 0, 303186560, 780336569, 0.0),
                (0, 5002, 4, 0, 0, 0, 303186560, 780328244, 0.0)]
RALLY = [(3, 5100, 0, 0, 0, 0, 303173983, 780318878, 30.0)]


def as_items(rows: list[tuple[float, ...]], mission_type: int = 0) -> list[MissionItem]:
    """MissionItems from MISSION_ITEM_INT-like rows."""
    return [MissionItem(frame=int(r[0]), command=int(r[1]), param1=r[2], param2=r[3],
                        param3=r[4], param4=r[5], lat_deg=r[6] / 1e7, lon_deg=r[7] / 1e7,
                        alt_m=r[8], mission_type=mission_type) for r in rows]
