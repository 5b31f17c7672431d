"""The notification settings of a console: ``dropline serve --notify notify.toml``.

.. code-block:: toml

    public_url = "https://hub.example.org"  # base of the tracking links (default: none)
    timezone = "Asia/Shanghai"              # clock of the times in messages (default UTC)
    eta_margin_min = 10                     # tell a moved ETA beyond this (default 10)
    max_attempts = 8                        # then the notification is a dead letter
    retry_s = 30                            # first retry delay, doubled each time (<= 1 h)
    interval_s = 2                          # how often parcels are looked at

    [webhook]
    url = "https://receiver.example.org/dropline"
    secret_file = "webhook.secret"          # HMAC key; relative to this file

    [email]
    host = "smtp.example.org"
    port = 587
    from = "Dropline <noreply@example.org>"
    starttls = true
    username = "dropline"                   # optional, with password_file
    password_file = "smtp.password"

At least one of ``[webhook]`` and ``[email]`` is required.
"""

from __future__ import annotations

import tomllib
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from planner.errors import InputError

#: Shortest webhook secret accepted (bytes of text).
MIN_SECRET_CHARS = 16
#: Longest retry delay, in seconds.
MAX_RETRY_S = 3600.0


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookConfig:
    """Where events are posted and the key they are signed with."""

    url: str
    secret: bytes
    timeout_s: float = 10.0


@dataclass(frozen=True, slots=True, kw_only=True)
class EmailConfig:
    """The SMTP server messages are handed to."""

    host: str
    port: int = 25
    sender: str
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    timeout_s: float = 10.0


@dataclass(frozen=True, slots=True, kw_only=True)
class NotifyConfig:
    """Every notification setting (see the module's documentation)."""

    webhook: WebhookConfig | None = None
    email: EmailConfig | None = None
    public_url: str | None = None
    timezone: str = "UTC"
    eta_margin_s: float = 600.0
    max_attempts: int = 8
    retry_s: float = 30.0
    interval_s: float = 2.0

    def __post_init__(self) -> None:
        if self.webhook is None and self.email is None:
            raise ValueError("Expected a [webhook] or an [email] table, got neither")

    @property
    def channels(self) -> tuple[str, ...]:
        """The names of the channels set up, webhook first."""
        return tuple(name for name, c in (("webhook", self.webhook), ("email", self.email))
                     if c is not None)


class _Reader:
    """Typed values of one TOML table, errors naming the file and the key."""

    def __init__(self, path: Path, table: Mapping[str, Any], prefix: str = "") -> None:
        self.path, self.table, self.prefix = path, table, prefix

    def error(self, key: str, reason: str) -> InputError:
        return InputError(reason, path=self.path, field=self.prefix + key)

    def text(self, key: str, default: str | None = None) -> str | None:
        value = self.table.get(key, default)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise self.error(key, f"Expected a non-empty string, got {value!r}")
        return value

    def number(self, key: str, default: float, low: float, high: float) -> float:
        value = self.table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not low <= value <= high:
            raise self.error(key, f"Expected a number in [{low:g}, {high:g}], got {value!r}")
        return float(value)

    def flag(self, key: str, default: bool) -> bool:
        value = self.table.get(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"Expected true or false, got {value!r}")
        return value

    def secret_file(self, key: str) -> str | None:
        name = self.text(key)
        if name is None:
            return None
        target = self.path.parent / name
        try:
            return target.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise self.error(key, f"cannot read {target}: "
                                  f"{getattr(exc, 'strerror', None) or exc}") from None

    def check_keys(self, known: set[str]) -> None:
        for key in self.table:
            if key not in known:
                raise self.error(key, f"unknown setting (known: {', '.join(sorted(known))})")


def _url(reader: _Reader, key: str, value: str) -> str:
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise reader.error(key, f"Expected an http:// or https:// address, got {value!r}")
    return value.rstrip("/")


def _webhook(path: Path, table: Any) -> WebhookConfig:
    if not isinstance(table, Mapping):
        raise InputError("Expected a table", path=path, field="webhook")
    r = _Reader(path, table, "webhook.")
    r.check_keys({"url", "secret_file", "timeout_s"})
    url = r.text("url")
    if url is None:
        raise r.error("url", "Expected the address events are posted to")
    secret = r.secret_file("secret_file")
    if secret is None or len(secret) < MIN_SECRET_CHARS:
        raise r.error("secret_file", f"Expected a file holding a secret of at least "
                                     f"{MIN_SECRET_CHARS} characters (events are signed)")
    return WebhookConfig(url=_url(r, "url", url), secret=secret.encode(),
                         timeout_s=r.number("timeout_s", 10.0, 0.1, 120.0))


def _email(path: Path, table: Any) -> EmailConfig:
    if not isinstance(table, Mapping):
        raise InputError("Expected a table", path=path, field="email")
    r = _Reader(path, table, "email.")
    r.check_keys({"host", "port", "from", "starttls", "username", "password_file",
                  "timeout_s"})
    host, sender = r.text("host"), r.text("from")
    if host is None:
        raise r.error("host", "Expected the SMTP server's host name")
    if sender is None or "@" not in sender:
        raise r.error("from", f"Expected the sender's address, got {sender!r}")
    username = r.text("username")
    password = r.secret_file("password_file")
    if (username is None) != (password is None):
        raise r.error("username", "Expected both username and password_file, or neither")
    return EmailConfig(host=host, port=int(r.number("port", 25, 1, 65535)), sender=sender,
                       starttls=r.flag("starttls", False), username=username,
                       password=password, timeout_s=r.number("timeout_s", 10.0, 0.1, 120.0))


def load_notify_config(path: str | Path) -> NotifyConfig:
    """Read and check a notification settings file.

    Parameters
    ----------
    path
        The TOML file (secret files are found relative to it).

    Returns
    -------
    NotifyConfig
        The settings, secrets read.

    Raises
    ------
    InputError
        Naming the file and the setting that is missing, unknown or wrong.
    """
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("notification settings not found", path=path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the notification settings: {exc}", path=path) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"malformed TOML: {exc}", path=path) from None
    r = _Reader(path, doc)
    r.check_keys({"public_url", "timezone", "eta_margin_min", "max_attempts", "retry_s",
                  "interval_s", "webhook", "email"})
    public_url = r.text("public_url")
    timezone = r.text("timezone", "UTC") or "UTC"
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise r.error("timezone", f"Expected a time zone name such as 'Asia/Shanghai', got "
                                  f"{timezone!r}") from None
    webhook = _webhook(path, doc["webhook"]) if "webhook" in doc else None
    email = _email(path, doc["email"]) if "email" in doc else None
    if webhook is None and email is None:
        raise InputError("Expected a [webhook] or an [email] table, got neither", path=path)
    return NotifyConfig(
        webhook=webhook, email=email, timezone=timezone,
        public_url=None if public_url is None else _url(r, "public_url", public_url),
        eta_margin_s=60.0 * r.number("eta_margin_min", 10, 1, 24 * 60),
        max_attempts=int(r.number("max_attempts", 8, 1, 100)),
        retry_s=r.number("retry_s", 30, 0.01, MAX_RETRY_S),
        interval_s=r.number("interval_s", 2, 0.1, 600))
