"""``.tlog`` writer: every MAVLink message with its arrival time, as MAVProxy and QGC write them.

Each record is the arrival time in microseconds since the Unix epoch (8 bytes, big-endian)
followed by the message exactly as it came over the link. pymavlink, MAVExplorer and
QGroundControl read the files back.
"""

from __future__ import annotations

import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

_STAMP = struct.Struct(">Q")


class TlogWriter:
    """Appends messages to one ``.tlog`` file; thread-safe; flushed every ``flush_s``.

    The file is opened for appending, so monitoring resumed after a restart continues the same
    flight's log.
    """

    def __init__(self, path: str | Path, *, flush_s: float = 0.5,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("ab")
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
