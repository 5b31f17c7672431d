"""File input and output of the planner: the only modules of ``planner`` that touch files."""

from planner.io.dem import DemReport as DemReport
from planner.io.dem import load_dem as load_dem
from planner.io.dem import load_dem_report as load_dem_report
from planner.io.geojson_out import write_routes_geojson as write_routes_geojson
from planner.io.inputs import LoadedScenario as LoadedScenario
from planner.io.inputs import load_scenario_with_dem as load_scenario_with_dem
from planner.io.inputs import scenario_with_dem as scenario_with_dem
from planner.io.plan_folder import MissionFile as MissionFile
from planner.io.plan_folder import PlanFolder as PlanFolder
from planner.io.plan_folder import read_mission_file as read_mission_file
from planner.io.plan_folder import read_plan_folder as read_plan_folder
from planner.io.plan_folder import read_plan_source as read_plan_source
from planner.io.plan_folder import write_plan_folder as write_plan_folder
from planner.io.planfile import read_plan_json as read_plan_json
from planner.io.planfile import write_plan_json as write_plan_json
from planner.io.qgc import read_qgc_plan as read_qgc_plan
from planner.io.qgc import write_qgc_plan as write_qgc_plan
from planner.io.scenario import load_scenario as load_scenario
from planner.io.wpl import read_wpl as read_wpl
from planner.io.wpl import write_wpl as write_wpl
