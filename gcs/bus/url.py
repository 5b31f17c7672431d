"""The broker's address as given on the command line: ``mqtt://USER[:PASS]@HOST[:PORT]``."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from planner.errors import InputError

DEFAULT_PORT = 1883
#: Where the password comes from when the URL carries none.
PASSWORD_ENV = "DROPLINE_BROKER_PASSWORD"


@dataclass(frozen=True, slots=True, kw_only=True)
class BrokerUrl:
    """An MQTT broker and the login to it (the password is never shown)."""

    host: str
    port: int = DEFAULT_PORT
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.host:
            raise ValueError("Expected a broker host, got an empty one")
        if not 1 <= self.port <= 65535:
            raise ValueError(f"Expected a broker port 1..65535, got {self.port}")

    @property
    def address(self) -> str:
        """``host:port``."""
        return f"{self.host}:{self.port}"

    def __str__(self) -> str:
        who = f"{self.username}@" if self.username else ""
        return f"mqtt://{who}{self.address}"

    @classmethod
    def parse(cls, text: str, *, option: str = "--broker",
              env: dict[str, str] | None = None) -> BrokerUrl:
        """Read ``mqtt://USER[:PASS]@HOST[:PORT]``; without a password in it, the one of
        :data:`PASSWORD_ENV` (from ``env``, default the process environment).

        Raises
        ------
        InputError
            Naming ``option`` and what is wrong (scheme, host, port).

        Examples
        --------
        >>> u = BrokerUrl.parse("mqtt://console:s3cret@127.0.0.1:1884", env={})
        >>> u.address, u.username, u.password, str(u)
        ('127.0.0.1:1884', 'console', 's3cret', 'mqtt://console@127.0.0.1:1884')
        """
        environ = os.environ if env is None else env
        try:
            parts = urlsplit(text)
            port = parts.port
        except ValueError as exc:
            raise InputError(f"Expected mqtt://USER:PASS@HOST:PORT, got {text!r}: {exc}",
                             field=option) from None
        if parts.scheme != "mqtt":
            raise InputError(f"Expected an mqtt:// URL (mqtt://USER:PASS@HOST:PORT), got "
                             f"{text!r}", field=option)
        if not parts.hostname:
            raise InputError(f"Expected a broker host in {text!r}", field=option)
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise InputError(f"Expected no path, query or fragment after the broker's address "
                             f"in {text!r}", field=option)
        password = unquote(parts.password) if parts.password is not None else \
            environ.get(PASSWORD_ENV)
        try:
            return cls(host=parts.hostname, port=DEFAULT_PORT if port is None else port,
                       username=unquote(parts.username) if parts.username else None,
                       password=password or None)
        except ValueError as exc:
            raise InputError(f"{exc} in {text!r}", field=option) from None
