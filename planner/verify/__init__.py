"""The independent plan verifier: it reads only the shared data model, never the planner."""

from planner.verify.verifier import ensure_verified as ensure_verified
from planner.verify.verifier import format_violations as format_violations
from planner.verify.verifier import sortie_energy_wh as sortie_energy_wh
from planner.verify.verifier import verify_plan as verify_plan
from planner.verify.verifier import verify_sortie as verify_sortie
