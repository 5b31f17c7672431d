"""The ``dropline`` command line.

Every command exits with a code of one table (:class:`dropline.commands.exit_codes.ExitCode`):
0 done; 1 a check failed (violations, drops not delivered, a tolerance broken); 2 bad input
(file, line and field named); 3 refused as unsafe (the verifier rejected a plan and nothing
flyable was written, a vehicle refused); 4 no usable vehicle answered; 130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from dropline.commands import (
    broker,
    db,
    fly,
    plan,
    region,
    replan,
    replay,
    sim,
    sitl,
    web,
    worker,
)
from dropline.commands.exit_codes import ExitCode, exit_code_for
from planner.errors import VerificationError


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every ``dropline`` subcommand."""
    parser = argparse.ArgumentParser(
        prog="dropline",
        description="Drone delivery mission planning and ground control.",
        epilog="exit codes: 0 done, 1 a check failed, 2 bad input, 3 refused as unsafe, "
               "4 no usable vehicle answered, 130 interrupted")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in (plan, replan, sim, sitl, fly, web, replay, worker, broker, db, region):
        group.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code (:class:`ExitCode`).

    The one place that turns errors into exit codes (:data:`exit_codes.ERROR_CODES`); an error
    that is not dropline's is a bug and keeps its traceback.
    """
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except (Exception, KeyboardInterrupt) as exc:
        code = exit_code_for(exc)
        if code is None:
            raise
        if code is ExitCode.INTERRUPTED:
            print("interrupted", file=sys.stderr)
        elif isinstance(exc, VerificationError):
            print(f"error: {exc}\nnothing flyable was written", file=sys.stderr)
        else:
            print(f"error: {exc}", file=sys.stderr)
        return int(code)


if __name__ == "__main__":
    sys.exit(main())
