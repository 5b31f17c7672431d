"""What a simulated copter has queued for the ground station.

Messages wait in :attr:`Outbox.messages` until the fleet sends them. STATUSTEXT longer than 50
bytes goes out in chunks sharing one MAVLink 2 ``id``; PARAM_VALUE for a parameter the vehicle
changed by itself (``MIS_TOTAL``, ``FENCE_TOTAL``...) waits until the message being handled has
been answered, as ArduPilot sends it from its parameter loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gcs.mavlink import dialect as mav

#: Longest STATUSTEXT payload (bytes); longer texts are sent in chunks.
TEXT_CHUNK_BYTES = 50


class Outbox:
    """The messages one vehicle sends, in order."""

    def __init__(self) -> None:
        #: Messages not yet handed to the link, oldest first.
        self.messages: list[Any] = []
        self._text_id = 0
        self._deferred_params: list[str] = []

    def send(self, msg: Any) -> None:
        """Queue one message."""
        self.messages.append(msg)

    def text(self, severity: int, text: str) -> None:
        """Queue a STATUSTEXT, in chunks (MAVLink 2 ``id``/``chunk_seq``) when long."""
        data = text.encode()
        if len(data) <= TEXT_CHUNK_BYTES:
            self.send(mav.MAVLink_statustext_message(severity, data, 0, 0))
            return
        self._text_id = self._text_id % 65535 + 1
        for seq, start in enumerate(range(0, len(data), TEXT_CHUNK_BYTES)):
            chunk = data[start:start + TEXT_CHUNK_BYTES]
            self.send(mav.MAVLink_statustext_message(severity, chunk, self._text_id, seq))

    def notify_param(self, name: str) -> None:
        """Send PARAM_VALUE for ``name`` at the next :meth:`flush_params`."""
        if name not in self._deferred_params:
            self._deferred_params.append(name)

    def param_sent(self, name: str) -> None:
        """PARAM_VALUE for ``name`` has just been sent: drop a deferred one."""
        if name in self._deferred_params:
            self._deferred_params.remove(name)

    def flush_params(self, send_param: Callable[[str], None]) -> None:
        """Send the deferred PARAM_VALUE messages with ``send_param``, in the order asked."""
        for name in self._deferred_params:
            send_param(name)
        self._deferred_params.clear()
