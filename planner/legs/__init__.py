"""How one leg is flown: no-fly paths (visibility graph), terrain-safe altitude profiles, energy."""

from planner.legs.catalogue import Leg as Leg
from planner.legs.catalogue import LegCatalog as LegCatalog
from planner.legs.catalogue import path_time_climb as path_time_climb
from planner.legs.energy import G_M_S2 as G_M_S2
from planner.legs.energy import J_PER_WH as J_PER_WH
from planner.legs.energy import DorlingModel as DorlingModel
from planner.legs.energy import EnergyModel as EnergyModel
from planner.legs.energy import ground_speed_m_s as ground_speed_m_s
from planner.legs.energy import move_time_s as move_time_s
from planner.legs.nofly import EPS_REL as EPS_REL
from planner.legs.nofly import ZoneMap as ZoneMap
from planner.legs.nofly import build_zone_map as build_zone_map
from planner.legs.profile import AltitudeBand as AltitudeBand
from planner.legs.profile import LegProfile as LegProfile
from planner.legs.profile import band_violations as band_violations
from planner.legs.profile import profile_leg as profile_leg
