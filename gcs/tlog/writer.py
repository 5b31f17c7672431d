"""``.tlog`` writer: every MAVLink message with its arrival time, as MAVProxy and QGC write them.

Each record is the arrival time in microseconds since the Unix epoch (8 bytes, big-endian)
followed by the message exactly as it came over the link. pymavlink, MAVExplorer and
QGroundControl read the files back.

Logs hold where vehicles flew: files are created readable by their owner only (0600) and the
folders made for them 0700, whatever the process umask.
"""

from __future__ import annotations

import os
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

_STAMP = struct.Struct(">Q")
PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700


def private_dir(path: Path) -> None:
    """Create the folder ``path`` and its missing parents with mode 0700 (owner only).

    A folder that exists already keeps its mode.
    """
    missing = [p for p in (path, *path.parents) if not p.exists()]
    path.mkdir(parents=True, exist_ok=True)
    for folder in missing:
        folder.chmod(PRIVATE_DIR_MODE)


def private_file(path: Path) -> int:
    """Open ``path`` for appending, creating it with mode 0600 (an existing file is narrowed
    to 0600 too); returns the file descriptor."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, PRIVATE_FILE_MODE)
    os.fchmod(fd, PRIVATE_FILE_MODE)
    return fd


class TlogWriter:
    """Appends messages to one ``.tlog`` file; thread-safe; flushed every ``flush_s``.

    The file is opened for appending, so monitoring resumed after a restart continues the same
    flight's log; it is created with mode 0600 in a folder created 0700.
    """

    def __init__(self, path: str | Path, *, flush_s: float = 0.5,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        private_dir(self.path.parent)
        self._file = os.fdopen(private_file(self.path), "ab")
        self._lock = threading.Lock()
        self._flush_s = flush_s
        self._last_flush = 0.0
        self._clock = clock
        self.count = 0

    def write(self, msg: Any) -> None:
        """Append one received message (its original bytes) stamped with the present time."""
        data = msg.get_msgbuf()
        if not data:
            return
        now = self._clock()
        with self._lock:
            if self._file.closed:
                return
            self._file.write(_STAMP.pack(int(now * 1e6)) + bytes(data))
            self.count += 1
            if now - self._last_flush >= self._flush_s:
                self._file.flush()
                self._last_flush = now

    def close(self) -> None:
        """Flush and close."""
        with self._lock:
            if not self._file.closed:
                self._file.close()
