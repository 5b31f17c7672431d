"""Mosquitto's configuration for the bus: a loopback listener, no anonymous clients, a password
file (PBKDF2-SHA512 hashes in mosquitto's own ``$7$`` format) and an ACL giving each user only
its topics:

- ``worker-<hub>`` (the workers of one hub) publishes its hub's vehicle ``state``, ``alert``,
  ``drop`` and ``ack`` topics, its hub's worker presence and run ``progress``, and reads its
  hub's ``command`` topics and run ``request`` topics;
- ``console`` (every console) publishes ``command`` and run ``request`` topics and reads every
  other topic and the run requests (to clear those a stopped console left retained).

So a console cannot publish as a vehicle, and a worker cannot command another hub's vehicles.

Examples
--------
>>> print(acl_text(["north"]))  # doctest: +ELLIPSIS
# dropline bus ACL...
user worker-north
topic write dropline/v1/hub/north/vehicle/+/state
...
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import os
import secrets
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gcs.bus.topics import PREFIX, check_id, presence_topic, run_topic, vehicle_topic
from planner.errors import InputError

CONSOLE_USER = "console"
#: Kinds of vehicle topic a worker publishes.
WORKER_WRITES = ("state", "alert", "drop", "ack")
#: mosquitto 2.0's PBKDF2 iterations and salt length.
PBKDF2_ITERATIONS = 101
SALT_BYTES = 12


def worker_user(hub: str) -> str:
    """The broker user of ``hub``'s workers."""
    return f"worker-{hub}"


def password_line(username: str, password: str, salt: bytes | None = None) -> str:
    """One line of mosquitto's password file (``user:$7$101$salt$hash``, PBKDF2-SHA512)."""
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, PBKDF2_ITERATIONS)
    return (f"{username}:$7${PBKDF2_ITERATIONS}${base64.b64encode(salt).decode()}$"
            f"{base64.b64encode(digest).decode()}")


def acl_text(hubs: Sequence[str]) -> str:
    """mosquitto's ACL file for the workers of ``hubs`` and the consoles."""
    lines = ["# dropline bus ACL: each worker user its hub's topics, consoles commands only",
             ""]
    for hub in hubs:
        lines.append(f"user {worker_user(hub)}")
        lines += [f"topic write {vehicle_topic(hub, '+', k)}" for k in WORKER_WRITES]
        lines.append(f"topic readwrite {presence_topic(hub, '+')}")
        lines.append(f"topic read {vehicle_topic(hub, '+', 'command')}")
        lines.append(f"topic write {run_topic(hub, '+', 'progress')}")
        lines.append(f"topic read {run_topic(hub, '+', 'request')}")
        lines.append("")
    lines.append(f"user {CONSOLE_USER}")
    lines.append(f"topic write {vehicle_topic('+', '+', 'command')}")
    lines.append(f"topic readwrite {run_topic('+', '+', 'request')}")
    lines += [f"topic read {vehicle_topic('+', '+', k)}" for k in WORKER_WRITES]
    lines.append(f"topic read {run_topic('+', '+', 'progress')}")
    lines.append(f"topic read {presence_topic('+', '+')}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True, kw_only=True)
class BrokerFiles:
    """What :func:`write_broker_config` wrote: the config to start mosquitto with (``mosquitto
    -c``), the password and ACL files, the credentials (user -> password, also in
    ``credentials.toml`` and in ``<user>.password`` each, readable by their owner only), and
    the port."""

    config: Path
    password_file: Path
    acl_file: Path
    credentials_file: Path
    port: int
    credentials: Mapping[str, str] = field(repr=False)

    def url(self, username: str, *, with_password: bool = False) -> str:
        """The ``--broker`` URL of ``username`` (its password only if asked)."""
        secret = f":{self.credentials[username]}" if with_password else ""
        return f"mqtt://{username}{secret}@127.0.0.1:{self.port}"


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    path.chmod(0o600)


def _known_passwords(path: Path) -> dict[str, str]:
    """Passwords of an earlier run (kept so that regenerating for a new hub changes no login)."""
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"cannot read the earlier credentials: {exc}", path=path) from None
    users = data.get("users", {})
    return {str(k): str(v["password"]) for k, v in users.items()
            if isinstance(v, dict) and isinstance(v.get("password"), str)}


def write_broker_config(out_dir: Path, hubs: Sequence[str], *, port: int = 1883,
                        run_as_user: str | None = None,
                        passwords: Mapping[str, str] | None = None,
                        log_file: Path | None = None) -> BrokerFiles:
    """Write mosquitto's config, password file, ACL and the credentials into ``out_dir``.

    Parameters
    ----------
    hubs
        Hub ids (each gets a ``worker-<hub>`` user).
    port
        The loopback port mosquitto listens on.
    run_as_user
        The user mosquitto runs as when started as root (default: whoever runs this).
    passwords
        Passwords to use (user -> password); other users keep those of an earlier run in
        ``out_dir``, else get a new random one.
    log_file
        Where mosquitto logs (default: standard error).

    Raises
    ------
    InputError
        A hub id that is not one (named), no hub, or a port out of range.
    """
    if not hubs:
        raise InputError("Expected at least one hub id", field="--hubs")
    for hub in hubs:
        try:
            check_id(hub, "hub")
        except ValueError as exc:
            raise InputError(str(exc), field="--hubs") from None
    if not 1 <= port <= 65535:
        raise InputError(f"Expected a port 1..65535, got {port}", field="--port")
    out_dir = out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    credentials_file = out_dir / "credentials.toml"
    known = {**_known_passwords(credentials_file), **(passwords or {})}
    users = [CONSOLE_USER, *(worker_user(h) for h in dict.fromkeys(hubs))]
    creds = {u: known.get(u) or secrets.token_urlsafe(24) for u in users}
    password_file, acl_file = out_dir / "passwd", out_dir / "acl"
    _write_private(password_file, "".join(password_line(u, p) + "\n" for u, p in creds.items()))
    _write_private(acl_file, acl_text(list(dict.fromkeys(hubs))))
    _write_private(credentials_file, "# broker logins: give each process its own "
                   "(DROPLINE_BROKER_PASSWORD)\n" + "".join(
                       f'\n[users."{u}"]\npassword = "{p}"\n'
                       f'url = "mqtt://{u}@127.0.0.1:{port}"\n' for u, p in creds.items()))
    for user, secret in creds.items():
        _write_private(out_dir / f"{user}.password", secret + "\n")
    config = out_dir / "mosquitto.conf"
    log_line = f"log_dest file {log_file}" if log_file is not None else "log_dest stderr"
    _write_private(config, "\n".join([
        f"# mosquitto for the dropline bus ({PREFIX}/...)",
        "per_listener_settings false",
        "allow_anonymous false",
        f"listener {port} 127.0.0.1",
        f"password_file {password_file}",
        f"acl_file {acl_file}",
        "persistence false",
        f"user {run_as_user or getpass.getuser()}",
        log_line,
        "log_type error", "log_type warning", "log_type notice", "log_type information",
        "connection_messages true", ""]))
    return BrokerFiles(config=config, password_file=password_file, acl_file=acl_file,
                       credentials_file=credentials_file, port=port, credentials=creds)
