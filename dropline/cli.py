"""The ``dropline`` command line.

Exit codes: 0 success; 1 the verifier found violations (``verify``); 2 bad input (file, line and
field named); 3 a plan was rejected by the verifier and nothing flyable was written.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from dropline.commands import fly as fly_commands
from dropline.commands import plan as commands
from dropline.commands import replay as replay_commands
from dropline.commands import sim as sim_commands
from dropline.commands import web as web_commands
from planner.errors import DroplineError, InputError, VerificationError

EXIT_OK = 0
EXIT_VIOLATIONS = 1
EXIT_BAD_INPUT = 2
EXIT_REJECTED = 3


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every ``dropline`` subcommand."""
    parser = argparse.ArgumentParser(
        prog="dropline",
        description="Drone delivery mission planning and ground control.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    plan = sub.add_parser("plan", help="plan verified sorties for a scenario folder")
    plan.add_argument("scenario", metavar="SCENARIO_DIR")
    plan.add_argument("-o", "--out", required=True, metavar="OUT_DIR",
                      help="folder for plan.json, .plan/.waypoints per sortie, "
                           "routes.geojson and summary.json")
    plan.add_argument("--seed", type=int, default=None, help="random seed (default 0)")
    plan.add_argument("--time-limit", type=float, default=None, metavar="S",
                      help="search time limit in seconds")
    plan.add_argument("--frame", choices=("relative", "terrain"), default=None,
                      help="altitude frame of waypoints (default: the scenario's, else relative)")
    plan.add_argument("--no-progress", action="store_true", help="do not show progress bars")
    commands.add_plan_arguments(plan)
    plan.set_defaults(func=commands.plan_command)

    verify = sub.add_parser("verify", help="re-check a plan against its scenario")
    verify.add_argument("plan", metavar="PLAN",
                        help="plan folder, plan.json, QGroundControl .plan or .waypoints file")
    verify.add_argument("--scenario", required=True, metavar="SCENARIO_DIR")
    verify.add_argument("--drone-type", default=None,
                        help="drone type flying a single .plan/.waypoints mission (default: "
                             "the type based at its depot)")
    verify.set_defaults(func=commands.verify_command)
    sim_commands.register(sub)
    fly_commands.register(sub)
    web_commands.register(sub)
    replay_commands.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        code: int = args.func(args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except VerificationError as exc:
        print(f"error: {exc}\nnothing flyable was written", file=sys.stderr)
        return EXIT_REJECTED
    except DroplineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
