"""The ways a notification leaves the console: a signed webhook and e-mail over SMTP.

Webhook: ``POST`` of the event's JSON with ``X-Dropline-Event`` (the event id: a receiver
that keeps the ids it has seen never acts twice on one event), ``X-Dropline-Timestamp`` (Unix
seconds) and ``X-Dropline-Signature: sha256=<hex>``, the HMAC-SHA256 under the shared secret of
``<timestamp>.<body>`` (:func:`signature`). Any 2xx answer is a delivery; 408, 429, 5xx and
network errors are tried again; any other answer is final (a dead letter at once).

E-mail: a plain-text message to the recipient's address, its ``Message-ID`` made from the
event id, so a mail system sees a repeat as the same message.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import urllib.error
import urllib.request
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, Protocol

from planner.errors import DroplineError
from web.notify.config import EmailConfig, WebhookConfig

#: Webhook answers tried again (besides 5xx).
RETRIED_STATUS = frozenset({408, 425, 429})


class NotifyError(DroplineError):
    """A notification could not be handed over; ``final`` when trying again cannot help."""

    def __init__(self, message: str, *, final: bool = False) -> None:
        super().__init__(message)
        self.final = final


class Channel(Protocol):
    """A way of handing over one notification."""

    name: str

    def recipient(self, payload: dict[str, Any]) -> str | None:
        """Whom this channel tells about the event, or None when it has no address."""

    def send(self, payload: dict[str, Any]) -> None:
        """Hand the event over, raising :class:`NotifyError` if it was not taken."""


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """The ``X-Dropline-Signature`` of a webhook body.

    Examples
    --------
    >>> signature(b"0123456789abcdef", "1700000000", b"{}")[:15]
    'sha256=e4f8e2ec'
    """
    mac = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class Webhook:
    """Posts each event, signed, to one address."""

    name = "webhook"

    def __init__(self, config: WebhookConfig, clock: Any) -> None:
        self.config = config
        self.clock = clock
        self._opener = urllib.request.build_opener(_NoRedirect)

    def recipient(self, payload: dict[str, Any]) -> str | None:
        found = payload["recipient"].get("phone") or payload["recipient"].get("email")
        return None if found is None else str(found)

    def send(self, payload: dict[str, Any]) -> None:
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        timestamp = str(int(self.clock()))
        request = urllib.request.Request(self.config.url, data=body, method="POST", headers={
            "Content-Type": "application/json", "User-Agent": "dropline-notify/1",
            "X-Dropline-Event": str(payload["id"]), "X-Dropline-Timestamp": timestamp,
            "X-Dropline-Signature": signature(self.config.secret, timestamp, body)})
        try:
            with self._opener.open(request, timeout=self.config.timeout_s) as answer:
                answer.read(4096)
        except urllib.error.HTTPError as exc:
            exc.close()
            final = exc.code < 500 and exc.code not in RETRIED_STATUS
            raise NotifyError(f"the receiver answered HTTP {exc.code}", final=final) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise NotifyError(f"cannot reach the receiver: {reason}") from None


class Email:
    """Sends each event to the recipient's e-mail address through one SMTP server."""

    name = "email"

    def __init__(self, config: EmailConfig, clock: Any) -> None:
        self.config = config
        self.clock = clock

    def recipient(self, payload: dict[str, Any]) -> str | None:
        found = payload["recipient"].get("email")
        return None if found is None else str(found)

    def message(self, payload: dict[str, Any]) -> EmailMessage:
        """The e-mail of one event."""
        msg = EmailMessage()
        msg["From"] = self.config.sender
        msg["To"] = str(payload["recipient"]["email"])
        msg["Subject"] = str(payload["subject"])
        msg["Date"] = formatdate(self.clock(), localtime=False)
        digest = hashlib.sha256(str(payload["id"]).encode()).hexdigest()[:40]
        msg["Message-ID"] = f"<{digest}@dropline.notify>"
        msg.set_content(str(payload["text"]))
        return msg

    def send(self, payload: dict[str, Any]) -> None:
        c = self.config
        try:
            with smtplib.SMTP(c.host, c.port, timeout=c.timeout_s) as smtp:
                if c.starttls:
                    smtp.starttls()
                if c.username is not None and c.password is not None:
                    smtp.login(c.username, c.password)
                smtp.send_message(self.message(payload))
        except smtplib.SMTPRecipientsRefused as exc:
            raise NotifyError(f"the mail server refused the address: {exc.recipients}",
                              final=True) from None
        except smtplib.SMTPResponseException as exc:
            final = 500 <= exc.smtp_code < 600
            raise NotifyError(f"the mail server answered {exc.smtp_code}", final=final) \
                from None
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            raise NotifyError(f"cannot hand the e-mail over: {exc}") from None
