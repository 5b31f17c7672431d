"""The independent plan verifier: it reads only the shared data model, never the planner."""

from planner.verify._base import VIOLATION_KINDS as VIOLATION_KINDS
from planner.verify._base import Violation as Violation
from planner.verify._energy import dorling_power_w as dorling_power_w
from planner.verify.verifier import ensure_verified as ensure_verified
from planner.verify.verifier import format_violations as format_violations
from planner.verify.verifier import sortie_energy_steps_wh as sortie_energy_steps_wh
from planner.verify.verifier import sortie_energy_wh as sortie_energy_wh
from planner.verify.verifier import verify_plan as verify_plan
from planner.verify.verifier import verify_sortie as verify_sortie
