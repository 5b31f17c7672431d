"""A real Mosquitto broker for tests: the bus's generated config (loopback, logins, ACL) on a
free port in a temporary folder, started, waited for, and stopped."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from gcs.bus.broker_config import BrokerFiles, write_broker_config
from tests.helpers.ports import free_tcp_port
from tests.helpers.waiting import poll

MOSQUITTO = Path("/usr/sbin/mosquitto")


@dataclass(frozen=True, slots=True)
class Broker:
    """A running broker: its files (logins in ``files.credentials``), process and log."""

    files: BrokerFiles
    process: subprocess.Popen[bytes]
    log_file: Path

    @property
    def port(self) -> int:
        """The loopback port it listens on."""
        return self.files.port

    def url(self, username: str) -> str:
        """The ``--broker`` URL of ``username`` with its password."""
        return self.files.url(username, with_password=True)

    def log(self) -> str:
        """What the broker logged so far."""
        return self.log_file.read_text(encoding="utf-8", errors="replace") \
            if self.log_file.is_file() else ""


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@contextmanager
def running_mosquitto(folder: Path, hubs: list[str]) -> Iterator[Broker]:
    """Mosquitto with the bus's config for ``hubs`` in ``folder``, stopped after.

    Run as root, it is told to stay root (it would drop to the ``mosquitto`` user, which
    cannot read the owner-only files of the temporary folder).
    """
    mosquitto = MOSQUITTO if MOSQUITTO.is_file() else shutil.which("mosquitto")
    if mosquitto is None:
        pytest.fail("mosquitto is not installed (Debian package mosquitto)")
    log_file = folder / "mosquitto.log"
    files = write_broker_config(folder, hubs, port=free_tcp_port(),
                                run_as_user="root" if os.geteuid() == 0 else None,
                                log_file=log_file)
    process = subprocess.Popen([str(mosquitto), "-c", str(files.config)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    broker = Broker(files, process, log_file)
    try:
        if not poll(lambda: _listening(files.port) or process.poll() is not None, 10.0) \
                or process.poll() is not None:
            err = process.stderr.read().decode() if process.stderr and \
                process.poll() is not None else ""
            pytest.fail(f"mosquitto did not start: {err}{broker.log()}")
        yield broker
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()
