"""Cost of a plan per parcel, per drone-km and per kg, against a road baseline (yuan)."""

from planner.cost.report import DropCost as DropCost
from planner.cost.report import PlanCost as PlanCost
from planner.cost.report import SortieCost as SortieCost
from planner.cost.report import cost_summary as cost_summary
from planner.cost.report import flown_cost as flown_cost
from planner.cost.report import format_cost as format_cost
from planner.cost.report import plan_cost as plan_cost
from planner.cost.table import CURRENCY as CURRENCY
from planner.cost.table import CostTable as CostTable
