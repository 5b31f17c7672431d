"""Checks and options shared by the ``dropline`` command groups: numbers, ports, key files.

Every check raises :class:`planner.errors.InputError` naming the option, which the command line
turns into exit code 2 (:mod:`dropline.commands.exit_codes`).
"""

from __future__ import annotations

import argparse
import math

from planner.errors import InputError

#: The highest TCP or UDP port number.
MAX_PORT = 65535
#: Ports between the simulated vehicles of one fleet (vehicle i listens on ``base + 10 * i``).
PORT_STEP = 10


def positive(value: float, option: str) -> float:
    """``value`` of ``option`` when it is a finite number above 0.

    Raises
    ------
    InputError
        Naming ``option``, for 0, a negative number, infinity or NaN.

    Examples
    --------
    >>> positive(10.0, "--speedup")
    10.0
    """
    if not (value > 0 and math.isfinite(value)):
        raise InputError(f"expected {option} > 0, got {value}", field=option)
    return value


def at_least(value: float, low: float, option: str) -> float:
    """``value`` of ``option`` when it is a finite number of at least ``low``.

    Raises
    ------
    InputError
        Naming ``option``, for a smaller number, infinity or NaN.

    Examples
    --------
    >>> at_least(0, 0, "--turnaround")
    0
    """
    if not (value >= low and math.isfinite(value)):
        raise InputError(f"expected {option} >= {low:g}, got {value}", field=option)
    return value


def port_number(value: int, option: str, *, lowest: int = 0) -> int:
    """``value`` of ``option`` when it is a port number from ``lowest`` (0: any free port).

    Raises
    ------
    InputError
        Naming ``option``, for a number outside ``lowest..65535``.

    Examples
    --------
    >>> port_number(8080, "--port")
    8080
    """
    if not lowest <= value <= MAX_PORT:
        raise InputError(f"expected a port in {lowest}..{MAX_PORT}, got {value}", field=option)
    return value


def fleet_ports(base_port: int, vehicles: int, option: str) -> int:
    """``base_port`` of ``option`` when every vehicle's port ``base_port + 10 * i`` is a port.

    Raises
    ------
    InputError
        Naming ``option`` and the ports the vehicles would need.

    Examples
    --------
    >>> fleet_ports(5760, 3, "--base-port")
    5760
    """
    last = base_port + PORT_STEP * (vehicles - 1)
    if not (base_port >= 1 and last <= MAX_PORT):
        raise InputError(f"expected a port such that {base_port}..{last} (every {PORT_STEP}th, "
                         f"one per simulated vehicle, {vehicles} vehicles) lies in "
                         f"1..{MAX_PORT}", field=option)
    return base_port


def add_sign_key_file(parser: argparse.ArgumentParser) -> None:
    """The ``--sign-key-file PATH`` option of the commands that talk to vehicles."""
    parser.add_argument("--sign-key-file", metavar="PATH",
                        help="sign with the key in PATH: 64 hex digits or a passphrase (hashed "
                             "as MAVProxy's 'signing setup' does) for every vehicle, or the "
                             "per-vehicle keys written by 'fly --sign'")
