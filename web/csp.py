"""The console's security headers: a strict Content-Security-Policy and its companions.

Every page and API response carries them. The policy allows scripts, styles, fetches and event
streams from the console itself only: no inline script or event handler attribute, no inline
style attribute (the pages set styles through the CSSOM, which the policy allows), no plugins,
no ``<base>``, no framing, forms posting back to the console only. Images may also be ``data:``
URLs (Leaflet's blank tile) and, when an online base layer is configured (``TILE_URL``), come
from that layer's server.
"""

from __future__ import annotations

import functools
import logging
import re
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

#: Headers sent with every response besides the Content-Security-Policy.
HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}

_HOST = re.compile(r"^(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$")


def tile_source(tile_url: str | None) -> str | None:
    """The CSP source of an online tile layer's URL template, or None.

    Leaflet's ``{s}`` subdomain becomes a ``*.`` wildcard; a URL on the console itself (no
    scheme) needs no source. A template the policy cannot name safely gives None (logged).

    Examples
    --------
    >>> tile_source("https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png")
    'https://*.tile.openstreetmap.org'
    >>> tile_source("http://tiles.local:8080/{z}/{x}/{y}.png")
    'http://tiles.local:8080'
    >>> tile_source("/mytiles/{z}/{x}/{y}.png") is None
    True
    """
    if not tile_url:
        return None
    parts = urlsplit(tile_url)
    if not parts.scheme and not parts.netloc:
        return None
    host = re.sub(r"^\{[a-z]+\}\.", "*.", parts.netloc.rsplit("@", 1)[-1])
    name, _, port = host.partition(":") if not host.startswith("[") else (host, "", "")
    if parts.scheme not in ("http", "https") or not _HOST.match(name) or \
            (port and not port.isdigit()):
        log.warning("TILE_URL %r names no http(s) host the Content-Security-Policy can allow; "
                    "the online map layer will not load", tile_url)
        return None
    return f"{parts.scheme}://{host}"


@functools.lru_cache(maxsize=8)
def policy(tile_url: str | None) -> str:
    """The Content-Security-Policy header value for a console with this ``TILE_URL``.

    Examples
    --------
    >>> "script-src 'self';" in policy(None)
    True
    """
    images = ["'self'", "data:"]
    source = tile_source(tile_url)
    if source is not None:
        images.append(source)
    directives = {
        "default-src": ["'none'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": images,
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())
