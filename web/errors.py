"""Error classes of the console and their HTTP status codes, in one place.

Bad input 400, not logged in 401, wrong role 403, unknown id 404, a state that does not allow
the request 409 (and a vehicle refusing a command), infeasible 422, too many logins 429, a
vehicle not answering 504. Input that only a parser's limits refuse (nesting past the recursion
limit, an integer past 64 bits) is 400 too. JSON under ``/api/`` (``{"error": ..., "file",
"line", "item", "field"}`` for bad files), a short page elsewhere. Only a bug gives a 500.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from flask import Flask, Response, jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from gcs.errors import CommandRejected, FleetError, LinkTimeout
from planner.errors import DroplineError, InfeasibleError, InputError, VerificationError

log = logging.getLogger(__name__)


class WebError(Exception):
    """An error a view answers with ``status``."""

    status = 400

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class Unauthorized(WebError):
    """No user is logged in."""

    status = 401


class Forbidden(WebError):
    """The user's role does not allow this."""

    status = 403


class NotFound(WebError):
    """No such plan, flight, user or parcel."""

    status = 404


class Conflict(WebError):
    """The request does not fit the present state (a plan still running, no fleet run)."""

    status = 409


class TooManyRequests(WebError):
    """Too many failed logins or open event streams; retry after ``retry_after_s``."""

    status = 429

    def __init__(self, message: str, *, retry_after_s: float = 60.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


#: Status codes of dropline's own errors; the first matching class wins.
STATUS: tuple[tuple[type[Exception], int], ...] = (
    (InputError, 400),
    (CommandRejected, 409),
    (FleetError, 409),
    (LinkTimeout, 504),
    (InfeasibleError, 422),
    (VerificationError, 422),
    (DroplineError, 400),
    # Input the parsers refuse late: nesting past the recursion limit, integers past 64 bits.
    (RecursionError, 400),
    (OverflowError, 400),
)
#: What a client is told about the errors above that are not dropline's own.
_BAD_INPUT = "input too deeply nested or a number out of range"


def status_of(exc: Exception) -> int:
    """The HTTP status an exception maps to (500 for anything unexpected)."""
    if isinstance(exc, WebError):
        return exc.status
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def describe(exc: Exception) -> dict[str, Any]:
    """The JSON body of an error: its message, and for bad files where the problem is."""
    if isinstance(exc, WebError):
        message = exc.message
    elif isinstance(exc, DroplineError):
        message = str(exc)
    else:
        message = _BAD_INPUT if status_of(exc) < 500 else "internal error; see the server log"
    body: dict[str, Any] = {"error": message}
    if isinstance(exc, InputError):
        body.update(reason=exc.reason, file=exc.path, line=exc.line, item=exc.item,
                    field=exc.field)
    return body


def _answer(status: int, body: dict[str, Any],
            headers: dict[str, str] | None = None) -> Response:
    wants_json = request.accept_mimetypes.best == "application/json"
    if request.path.startswith(("/api/", "/tiles/")) or request.is_json or wants_json:
        response = jsonify(body)
    else:
        response = make_response(render_template("error.html", status=status,
                                                 message=body["error"]))
    response.status_code = status
    response.headers.update(headers or {})
    return response


def retry_after(exc: TooManyRequests) -> dict[str, str]:
    """The ``Retry-After`` header (whole seconds, at least 1) of a 429 answer."""
    return {"Retry-After": str(max(1, math.ceil(exc.retry_after_s)))}


def _headers(exc: Exception) -> dict[str, str]:
    if isinstance(exc, TooManyRequests):
        return retry_after(exc)
    return {}


class IdConverter(IntegerConverter):
    """``<int:...>`` URL segments that fit a 64-bit database integer: anything longer or
    larger does not match the route (404) instead of overflowing in the database."""

    regex = r"\d{1,19}"

    def __init__(self, map: Any, fixed_digits: int = 0, min: int | None = None,
                 max: int | None = 2**63 - 1, signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def register(app: Flask) -> None:
    """Install the error handlers on ``app`` (and the bounded ``int`` URL converter; call this
    before registering blueprints)."""
    app.url_map.converters["int"] = IdConverter

    @app.errorhandler(WebError)
    @app.errorhandler(DroplineError)
    def dropline_error(exc: Exception) -> Any:
        return _answer(status_of(exc), describe(exc), _headers(exc))

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> Any:
        return _answer(400, {"error": f"CSRF check failed: {exc.description}"})

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        return _answer(exc.code or 500, {"error": exc.description or exc.name})

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Any:
        status = status_of(exc)
        if status >= 500:
            log.exception("unexpected error on %s %s", request.method, request.path)
        return _answer(status, describe(exc))
