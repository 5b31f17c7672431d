"""gzip for the console's pages, scripts, style sheets and JSON when the browser accepts it.

On a 50 kbit/s mobile link every kilobyte of a page costs 0.16 s: text shrinks three to four
times. A complete ``200`` answer of a text type between :data:`MIN_BYTES` and
:data:`MAX_BYTES` is compressed once per version of a static file (kept by its ETag, which
gets a ``-gzip`` suffix) or per answer otherwise; streams (Server-Sent Events, which compress
themselves chunk by chunk), ranges, conditional answers and anything already encoded pass as
they are.
"""

from __future__ import annotations

import gzip
import threading
from collections import OrderedDict

from flask import Flask, Request, Response, request

from web.events import pick_coding

#: Types worth compressing.
TYPES = frozenset({"text/html", "text/css", "text/javascript", "application/javascript",
                   "application/json", "image/svg+xml", "text/plain"})
#: Smaller answers gain too little; larger ones are files to download.
MIN_BYTES, MAX_BYTES = 1024, 4 * 1024 * 1024
#: Static file versions kept compressed.
KEEP = 64

_kept: OrderedDict[str, bytes] = OrderedDict()
_lock = threading.Lock()


def compress(req: Request, response: Response) -> Response:
    """``response`` gzip-compressed when ``req`` accepts gzip and it is worth it."""
    length = response.content_length
    if (response.status_code != 200 or response.mimetype not in TYPES
            or "Content-Encoding" in response.headers or length is None
            or not MIN_BYTES <= length <= MAX_BYTES
            or pick_coding(req.headers.get("Accept-Encoding", "")) != "gzip"):
        return response
    etag, weak = response.get_etag()
    key = None if etag is None else f"{req.path}:{etag}"
    with _lock:
        body = None if key is None else _kept.get(key)
    if body is None:
        response.direct_passthrough = False
        body = gzip.compress(response.get_data(), 6, mtime=0)
        if key is not None:
            with _lock:
                _kept[key] = body
                while len(_kept) > KEEP:
                    _kept.popitem(last=False)
    else:
        close = getattr(response.response, "close", None)
        if close is not None:   # the file is not read: close it with the answer
            response.call_on_close(close)
    response.direct_passthrough = False
    response.headers["Content-Encoding"] = "gzip"
    response.headers.pop("Accept-Ranges", None)
    response.vary.add("Accept-Encoding")
    if etag is not None:
        response.set_etag(etag + "-gzip", weak=bool(weak))
        if req.if_none_match.contains_weak(etag + "-gzip"):
            response.status_code = 304
            response.set_data(b"")
            return response
    response.set_data(body)
    return response


def init_app(app: Flask) -> None:
    """Compress the app's answers (see the module's description)."""
    app.after_request(lambda response: compress(request, response))
