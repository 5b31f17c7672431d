"""Free loopback TCP port blocks for simulator instances (base + 10 * i, + 2, + 3)."""

from __future__ import annotations

import itertools
import os
import socket

_next = itertools.count()


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_base_port(vehicles: int = 1) -> int:
    """A base port whose ``base + 10*i + {0, 2, 3}`` are all free for ``vehicles`` instances.

    Blocks are drawn from 30000-59999, spread by process id so that parallel test processes
    rarely probe the same ones.
    """
    span = 10 * vehicles + 10
    start = 30000 + (os.getpid() * 97) % 20000
    for k in range(2000):
        base = 30000 + (start - 30000 + (next(_next) + k) * span) % 29000
        ports = [base + 10 * i + d for i in range(vehicles) for d in (0, 2, 3)]
        if all(_free(p) for p in ports):
            return base
    raise RuntimeError("no free port block found")
