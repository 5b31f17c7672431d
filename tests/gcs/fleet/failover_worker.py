"""A shared-run worker process for the failover tests: ``python -m <this module>``.

It serves as one worker of the plan's shared run (:func:`gcs.fleet.shared.run_shared_worker`)
on a SQLite flight log holding the lease table too, and prints one line per lease change,
``gained|lost <vehicle> <token> <unix seconds>``, then ``ended`` or ``timeout``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence

from gcs.fleet.leases import Lease, LeaseTable
from gcs.fleet.logs import FlightLog
from gcs.fleet.options import FlyOptions
from gcs.fleet.shared import VehicleSpec, run_shared_worker
from planner.io.dem import load_dem
from planner.io.planfile import read_plan_json
from planner.io.scenario import load_scenario


def _vehicle(text: str, hub: str) -> VehicleSpec:
    """``NAME=SYSID@URL``."""
    name, _, rest = text.partition("=")
    sysid, _, url = rest.partition("@")
    return VehicleSpec(key=f"{hub}/{int(sysid)}", name=name, sysid=int(sysid), url=url)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one worker until the shared run ends; 0 when it ended."""
    parser = argparse.ArgumentParser(prog="failover_worker")
    parser.add_argument("--db", required=True)
    parser.add_argument("--plan", required=True, help="plan.json")
    parser.add_argument("--scenario", required=True)
    parser.add_argument("--hub", default="hub1")
    parser.add_argument("--worker-id", required=True)
    parser.add_argument("--vehicle", action="append", default=[], help="NAME=SYSID@URL")
    parser.add_argument("--ttl", type=float, default=3.0)
    parser.add_argument("--expect-workers", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=900.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(threadName)s %(name)s: %(message)s")
    plan = read_plan_json(args.plan)
    scenario = load_scenario(args.scenario)
    dem = load_dem(scenario.terrain.dem_paths)
    flight_log = FlightLog(args.db)
    leases = LeaseTable(flight_log.engine, ttl_s=args.ttl)

    def report(event: str, lease: Lease) -> None:
        print(f"{event} {lease.vehicle} {lease.token} {time.time():.3f}", flush=True)

    try:
        ended = run_shared_worker(
            plan, [_vehicle(v, args.hub) for v in args.vehicle], flight_log=flight_log,
            leases=leases, worker_id=args.worker_id, group=args.hub,
            options=FlyOptions(reset_battery=True), dem=dem,
            drone_types=scenario.drone_types, plan_path=args.plan, timeout_s=args.timeout,
            report=report, expect_workers=args.expect_workers, settle_s=60.0)
    finally:
        leases.close()
        flight_log.close()
    print("ended" if ended else "timeout", flush=True)
    return 0 if ended else 1


if __name__ == "__main__":
    sys.exit(main())
