"""Free loopback ports: single TCP or UDP ports, and port blocks for simulator instances."""

from __future__ import annotations

import itertools
import os
import socket

_next = itertools.count()


def _free(port: int) -> bool:
    """Whether ``port`` can be bound on loopback for both TCP and UDP right now."""
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def free_base_port(vehicles: int = 1) -> int:
    """A base port whose ``base + 10*i + {0, 2, 3}`` are all free for ``vehicles`` instances.

    Blocks are drawn from 30000-59999, spread by process id so that parallel test processes
    rarely probe the same ones; each port is free for TCP and for UDP.
    """
    span = 10 * vehicles + 10
    start = 30000 + (os.getpid() * 97) % 20000
    for k in range(2000):
        base = 30000 + (start - 30000 + (next(_next) + k) * span) % 29000
        ports = [base + 10 * i + d for i in range(vehicles) for d in (0, 2, 3)]
        if all(_free(p) for p in ports):
            return base
    raise RuntimeError("no free port block found")


def free_tcp_port() -> int:
    """A loopback TCP port nobody is bound to right now (the system picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_udp_port() -> int:
    """A loopback UDP port nobody is bound to right now (the system picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
