"""Free loopback ports: single TCP or UDP ports, and port blocks for simulator instances."""

from __future__ import annotations

import itertools
import os
import socket
from collections.abc import Iterator
from pathlib import Path

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


def _ephemeral_low() -> int:
    """The first port the system hands out to outgoing connections (32768 where unknown)."""
    try:
        text = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text(encoding="ascii")
        return int(text.split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_base_port(vehicles: int = 1) -> int:
    """A base port whose ``base + 10*i + {0, 2, 3}`` are all free for ``vehicles`` instances.

    Blocks are drawn from 20000 up to the system's ephemeral range (which outgoing connections
    take ports from at any moment, so a block checked free there can be taken before the
    simulator binds it), spread by process id so that parallel test processes rarely probe the
    same ones; each port is free for TCP and for UDP.
    """
    span = 10 * vehicles + 10
    low = 20000
    size = max(_ephemeral_low() - low - span, 2000)
    start = (os.getpid() * 97) % size
    for k in range(2000):
        base = low + (start + (next(_next) + k) * span) % size
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


def sitl_instances(first: int, stop: int) -> Iterator[int]:
    """SITL instance numbers (``-I``) ``first`` .. ``stop - 1`` in turn, endlessly.

    ``-I`` places a SITL's fixed UDP ports, so parallel test processes (pytest-xdist workers,
    ``PYTEST_XDIST_WORKER=gwN`` of ``PYTEST_XDIST_WORKER_COUNT``) each cycle over their own
    share of the range; a single process has all of it.
    """
    numbers = list(range(first, stop))
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    if worker.startswith("gw") and worker[2:].isdigit() and 1 < count <= len(numbers):
        numbers = numbers[int(worker[2:]) % count::count]
    return itertools.cycle(numbers)
