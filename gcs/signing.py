"""MAVLink 2 signing: keys per vehicle, SETUP_SIGNING, and links that sign what they send.

A key is 32 bytes: random per vehicle (kept in a :class:`KeyStore` file beside the flight log),
or derived from a passphrase as MAVProxy's ``signing setup PASSPHRASE`` derives it (SHA-256 of
the passphrase), so that MAVProxy or Mission Planner given the same passphrase can talk to the
vehicles too. :func:`enable_signing` hands the key to each vehicle of a link with SETUP_SIGNING,
makes the link sign everything it sends, and waits until every vehicle answers signed; from then
on the link refuses unsigned messages (except RADIO_STATUS, as ArduPilot does). A vehicle that
already holds the key takes the (signed) SETUP_SIGNING as well; one holding another key never
answers signed and is reported.

:class:`Resigner` signs messages that forwarded clients (:mod:`gcs.forward`) send unsigned, under
their own system and component ids and a link id of their own.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import secrets
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gcs import mavlink as mav
from gcs.errors import SigningError
from gcs.link import Link, Message
from planner.errors import InputError

log = logging.getLogger(__name__)
_D = mav.dialect

KEY_BYTES = 32
#: Seconds from the Unix epoch to 2015-01-01, the origin of MAVLink signing timestamps.
SIGNING_EPOCH_S = mav.SIGNING_EPOCH_S
#: Unsigned messages a signed link still takes (radio modems cannot sign their reports).
UNSIGNED_OK: frozenset[int] = frozenset({_D.MAVLINK_MSG_ID_RADIO_STATUS})


def key_from_passphrase(passphrase: str) -> bytes:
    """The 32-byte key of a passphrase: its SHA-256, as MAVProxy's ``signing setup`` makes it.

    Examples
    --------
    >>> key_from_passphrase("correct horse").hex()[:16]
    '4104d36f8da2c254'
    """
    if not passphrase:
        raise InputError("expected a non-empty passphrase", field="passphrase")
    return hashlib.sha256(passphrase.encode("utf-8")).digest()


def parse_key(text: str) -> bytes:
    """A key written as 64 hexadecimal digits, or else the key of a passphrase."""
    text = text.strip()
    if len(text) == 2 * KEY_BYTES:
        with contextlib.suppress(ValueError):
            return bytes.fromhex(text)
    return key_from_passphrase(text)


def signing_timestamp(now_s: float | None = None) -> int:
    """A signing timestamp: 10 microsecond units since 2015-01-01 (``now_s`` Unix seconds)."""
    return mav.signing_now(now_s)


def _allow_unsigned(_codec: Any, msg_id: int) -> bool:
    return msg_id in UNSIGNED_OK


def _allow_any(_codec: Any, _msg_id: int) -> bool:
    return True


class KeyStore:
    """Random keys per vehicle (system id), kept in a JSON file readable by its owner only.

    Parameters
    ----------
    path
        The file; created on the first key.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    @classmethod
    def beside(cls, database: str | Path) -> KeyStore:
        """The store kept next to a flight-log database (``fly.db`` -> ``fly-signing.json``)."""
        db = Path(database)
        return cls(db.with_name(f"{db.stem}-signing.json"))

    def keys(self) -> dict[int, bytes]:
        """Every stored key by system id."""
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text())
            return {int(k): bytes.fromhex(v["key"]) for k, v in data["keys"].items()}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(f"not a signing key store: {exc}", path=self.path) from exc

    def key_for(self, sysid: int) -> bytes:
        """The key of vehicle ``sysid``, made (random) and stored on first use."""
        with self._lock:
            keys = self.keys()
            if sysid not in keys:
                keys[sysid] = secrets.token_bytes(KEY_BYTES)
                self._write(keys)
            return keys[sysid]

    def set(self, sysid: int, key: bytes) -> None:
        """Store ``key`` for vehicle ``sysid``."""
        if len(key) != KEY_BYTES:
            raise SigningError(f"expected a {KEY_BYTES}-byte key, got {len(key)} bytes",
                               sysid=sysid)
        with self._lock:
            keys = self.keys()
            if keys.get(sysid) != key:
                keys[sysid] = key
                self._write(keys)

    def _write(self, keys: Mapping[int, bytes]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"keys": {str(s): {"key": k.hex()} for s, k in sorted(keys.items())}},
                          indent=2) + "\n"
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(text)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


def read_key_file(path: str | Path) -> bytes | KeyStore:
    """What a ``--sign-key-file`` holds: a :class:`KeyStore` (JSON), or one key for every
    vehicle (64 hex digits or a passphrase on its first line)."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise InputError(f"cannot read the key file: {exc.strerror}", path=p) from exc
    if text.lstrip().startswith("{"):
        store = KeyStore(p)
        store.keys()  # fails now if it is not a store
        return store
    line = next((ln for ln in text.splitlines() if ln.strip()), "")
    if not line.strip():
        raise InputError("the key file is empty", path=p)
    return parse_key(line)


def _setup_message(link: Link, sysid: int, key: bytes, timestamp: int) -> Message:
    return link.mav.setup_signing_encode(sysid, 0, key, timestamp)


def enable_signing(link: Link, sysids: Sequence[int], key: bytes, *,
                   timeout_s: float = 2.0, tries: int = 3) -> None:
    """Give every vehicle ``sysids`` on ``link`` the key; make the link sign with it.

    The link signs everything from now on. Each vehicle is sent SETUP_SIGNING (signed, so that
    one already holding the key takes it) until a message signed with the key comes from it;
    then the link refuses unsigned messages.

    Raises
    ------
    SigningError
        A vehicle sent nothing signed with the key after every try (it holds another key, or
        ignores SETUP_SIGNING); the link then still signs but accepts unsigned messages.
    """
    if len(key) != KEY_BYTES:
        raise SigningError(f"expected a {KEY_BYTES}-byte key, got {len(key)} bytes")
    if link.signing_key == key:
        link.allow_unsigned(_allow_any)  # keep the stream's link id and timestamp
    else:
        link.setup_signing(key, allow_unsigned=_allow_any)
    waiting = set(sysids)
    confirmed = threading.Event()
    lock = threading.Lock()

    def on_message(msg: Message) -> None:
        if getattr(msg, "_signed", False) and msg.get_srcSystem() in waiting:
            with lock:
                waiting.discard(msg.get_srcSystem())
                if not waiting:
                    confirmed.set()

    link.add_listener(on_message)
    try:
        for _ in range(tries):
            timestamp = link.signing_timestamp
            with lock:
                pending = sorted(waiting)
            for sysid in pending:
                link.send(_setup_message(link, sysid, key, timestamp))
            if not pending or confirmed.wait(timeout_s):
                break
    finally:
        link.remove_listener(on_message)
    if waiting:
        missing = min(waiting)
        raise SigningError(f"no message signed with the key within {tries * timeout_s:.1f} s "
                           "after SETUP_SIGNING: the vehicle may hold another key", sysid=missing)
    link.allow_unsigned(_allow_unsigned)
    log.info("%s: signing with vehicles %s", link.url, ", ".join(map(str, sysids)))


def clear_signing(link: Link, sysids: Sequence[int], *, timeout_s: float = 2.0,
                  tries: int = 3) -> None:
    """Tell the vehicles to stop signing (an all-zero key), then stop signing on ``link``.

    Raises
    ------
    SigningError
        A vehicle still signed after every try.
    """
    link.allow_unsigned(_allow_any)
    waiting = set(sysids)
    cleared = threading.Event()
    lock = threading.Lock()

    def on_message(msg: Message) -> None:
        if not getattr(msg, "_signed", False) and msg.get_srcSystem() in waiting:
            with lock:
                waiting.discard(msg.get_srcSystem())
                if not waiting:
                    cleared.set()

    link.add_listener(on_message)
    try:
        for _ in range(tries):
            with lock:
                pending = sorted(waiting)
            for sysid in pending:
                link.send(_setup_message(link, sysid, bytes(KEY_BYTES), 0))
            if not pending or cleared.wait(timeout_s):
                break
    finally:
        link.remove_listener(on_message)
    link.stop_signing()
    if waiting:
        raise SigningError(f"still signing {tries * timeout_s:.1f} s after SETUP_SIGNING "
                           "with an all-zero key", sysid=min(waiting))


def enable_fleet_signing(links_of: Mapping[int, Link], keys: bytes | KeyStore,
                         **kwargs: Any) -> dict[int, bytes]:
    """Sign with every vehicle of ``links_of`` (system id -> its link); one key per link.

    With a :class:`KeyStore` each link takes the stored key of its lowest system id (made if
    new) and the other vehicles of that link are stored with the same key; with one key, every
    link uses it. Returns the key of each vehicle. ``kwargs`` go to :func:`enable_signing`.
    """
    by_link: dict[int, tuple[Link, list[int]]] = {}
    for sysid, link in sorted(links_of.items()):
        by_link.setdefault(id(link), (link, []))[1].append(sysid)
    out: dict[int, bytes] = {}
    for link, sysids in by_link.values():
        key = keys if isinstance(keys, bytes) else keys.key_for(sysids[0])
        enable_signing(link, sysids, key, **kwargs)
        for sysid in sysids:
            out[sysid] = key
            if isinstance(keys, KeyStore):
                keys.set(sysid, key)
    return out


class Resigner:
    """Signs messages for a link under their own sender's ids and a link id of their own.

    Parameters
    ----------
    key
        The key.
    link_id
        MAVLink signing link id for these messages (distinct from the link's own).
    """

    def __init__(self, key: bytes, link_id: int) -> None:
        self.key = key
        self._codec = mav.codec(mav.GCS_SYSTEM_ID, mav.GCS_COMPONENT_ID)
        signing = self._codec.signing
        signing.secret_key = key
        signing.sign_outgoing = True
        signing.link_id = link_id
        signing.timestamp = signing_timestamp()
        self._lock = threading.Lock()

    def sign(self, msg: Message) -> bytes:
        """``msg`` packed again as MAVLink 2, signed, from its own system and component."""
        with self._lock:
            self._codec.srcSystem = msg.get_srcSystem()
            self._codec.srcComponent = msg.get_srcComponent()
            return bytes(msg.pack(self._codec))


class FleetSigner:
    """Keeps signing with every vehicle a :class:`~gcs.telemetry.TelemetryHub` hears (the
    console's fleet, whose vehicles come and go).

    A new vehicle is keyed on its link: with the link's key when the link already signs with
    another vehicle, else with its own key from the :class:`KeyStore` (made if new), or with the
    one key given. A vehicle that does not answer signed is tried again every ``retry_s``
    seconds. From the first key on, the link signs everything and refuses unsigned messages
    (a vehicle joining such a link later must already hold the link's key to be heard).

    Parameters
    ----------
    hub
        The telemetry of the vehicles (only vehicles it counts are keyed).
    keys
        One key for every vehicle, or a store of keys per vehicle.
    retry_s
        Seconds before keying a vehicle that did not answer signed again.
    poll_s
        How often the hub is looked at for new vehicles.
    """

    def __init__(self, hub: Any, keys: bytes | KeyStore, *, retry_s: float = 10.0,
                 poll_s: float = 0.5, **kwargs: Any) -> None:
        self.hub = hub
        self.keys = keys
        self.retry_s = retry_s
        self.poll_s = poll_s
        self.kwargs = kwargs
        self.signed: dict[int, bytes] = {}
        self.failed: dict[int, str] = {}
        self._tried_s: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="fleet-signing")

    def start(self) -> FleetSigner:
        """Start keying vehicles in a thread of its own."""
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop keying (the links keep signing)."""
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=5.0)

    def wait(self, sysids: Sequence[int], timeout_s: float) -> bool:
        """Wait until every vehicle ``sysids`` is signing; False on timeout."""
        end = time.monotonic() + timeout_s
        while not set(sysids) <= set(self.signed):
            if time.monotonic() > end:
                return False
            time.sleep(0.05)
        return True

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            for sysid in self.hub.vehicles:
                if self._stop.is_set():
                    return
                if sysid in self.signed or \
                        time.monotonic() - self._tried_s.get(sysid, -math.inf) < self.retry_s:
                    continue
                self._tried_s[sysid] = time.monotonic()
                try:
                    self._sign(sysid)
                except (SigningError, InputError, OSError) as exc:
                    self.failed[sysid] = str(exc)
                    log.warning("vehicle %d: signing not set up: %s", sysid, exc)

    def _sign(self, sysid: int) -> None:
        link = self.hub.link_of(sysid)
        if link is None:
            return
        key = link.signing_key
        if key is None:
            key = self.keys if isinstance(self.keys, bytes) else self.keys.key_for(sysid)
        enable_signing(link, [sysid], key, **self.kwargs)
        if isinstance(self.keys, KeyStore):
            self.keys.set(sysid, key)
        self.signed[sysid] = key
        self.failed.pop(sysid, None)
