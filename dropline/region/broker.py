"""Mosquitto with the bus's generated configuration (loopback, logins, ACL), started and
waited for."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dropline.region.errors import RegionError
from gcs.bus.broker_config import BrokerFiles, write_broker_config
from sitl.ardupilot.health import port_listening

#: Where Debian's mosquitto package puts the broker.
MOSQUITTO = Path("/usr/sbin/mosquitto")
#: Seconds a broker has to start listening.
START_S = 10.0


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

    def stop(self) -> None:
        """Stop the broker and wait for it."""
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stderr is not None:
            self.process.stderr.close()



def start_mosquitto(folder: Path, hubs: Sequence[str], port: int) -> Broker:
    """Mosquitto with the bus's config for ``hubs`` written into ``folder`` (logins of an
    earlier start there are kept), listening on ``127.0.0.1:port``.

    Run as root, it is told to stay root (it would drop to the ``mosquitto`` user, which
    cannot read the owner-only files it is given).

    Raises
    ------
    RegionError
        No mosquitto installed, or it did not start (its output in the message).
    """
    found = MOSQUITTO if MOSQUITTO.is_file() else shutil.which("mosquitto")
    if found is None:
        raise RegionError("mosquitto is not installed: install Debian's mosquitto package "
                          "(apt-get install mosquitto)")
    folder.mkdir(parents=True, exist_ok=True)
    log_file = folder / "mosquitto.log"
    files = write_broker_config(folder, list(hubs), port=port,
                                run_as_user="root" if os.geteuid() == 0 else None,
                                log_file=log_file)
    process = subprocess.Popen([str(found), "-c", str(files.config)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    broker = Broker(files, process, log_file)
    deadline = time.monotonic() + START_S
    while not port_listening("127.0.0.1", port):
        if process.poll() is not None or time.monotonic() > deadline:
            err = process.stderr.read().decode(errors="replace") \
                if process.stderr is not None and process.poll() is not None else ""
            broker.stop()
            raise RegionError(f"mosquitto did not start on port {port}: {err.strip()} "
                              f"{broker.log().strip()[-1000:]}".strip())
        time.sleep(0.05)
    return broker
