"""A plan flown by several worker processes sharing one database: each vehicle flown by the
worker holding its lease, a dead worker's vehicles taken over mid-flight."""

from gcs.fleet.shared.fleet import SharedFleet as SharedFleet
from gcs.fleet.shared.fleet import run_shared_worker as run_shared_worker
from gcs.fleet.shared.run import VehicleHistory as VehicleHistory
from gcs.fleet.shared.run import end_run_if_over as end_run_if_over
from gcs.fleet.shared.run import open_shared_run as open_shared_run
from gcs.fleet.shared.run import run_outcome as run_outcome
from gcs.fleet.shared.run import vehicle_history as vehicle_history
from gcs.fleet.shared.tenure import SharedRun as SharedRun
from gcs.fleet.shared.tenure import VehicleSpec as VehicleSpec
from gcs.fleet.shared.tenure import VehicleTenure as VehicleTenure
