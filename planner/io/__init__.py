"""File input and output of the planner: the only modules of ``planner`` that touch files."""

from .dem import DemReport as DemReport
from .dem import load_dem as load_dem
from .dem import load_dem_report as load_dem_report
from .geojson_out import write_routes_geojson as write_routes_geojson
from .planfile import read_plan_json as read_plan_json
from .planfile import write_plan_json as write_plan_json
from .qgc import read_qgc_plan as read_qgc_plan
from .qgc import write_qgc_plan as write_qgc_plan
from .scenario import load_scenario as load_scenario
from .wpl import read_wpl as read_wpl
from .wpl import write_wpl as write_wpl
