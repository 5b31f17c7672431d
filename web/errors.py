"""Error classes of the console and their HTTP status codes, in one place.

Bad input 400, not logged in 401, wrong role 403, unknown id 404, a state that does not allow
the request 409 (and a vehicle refusing a command), infeasible 422, too many logins 429, a
vehicle not answering 504. JSON under ``/api/`` (``{"error": ..., "file", "line", "item",
"field"}`` for bad files), a short page elsewhere. Only a bug gives a 500.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from planner.errors import (
    CommandRejected,
    DroplineError,
    FleetError,
    InfeasibleError,
    InputError,
    LinkTimeout,
    VerificationError,
)

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
    """Too many failed logins."""

    status = 429


#: Status codes of dropline's own errors; the first matching class wins.
STATUS: tuple[tuple[type[Exception], int], ...] = (
    (InputError, 400),
    (CommandRejected, 409),
    (FleetError, 409),
    (LinkTimeout, 504),
    (InfeasibleError, 422),
    (VerificationError, 422),
    (DroplineError, 400),
)


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
    body: dict[str, Any] = {"error": exc.message if isinstance(exc, WebError) else str(exc)}
    if isinstance(exc, InputError):
        body.update(reason=exc.reason, file=exc.path, line=exc.line, item=exc.item,
                    field=exc.field)
    return body


def _answer(status: int, body: dict[str, Any]) -> Response | tuple[str, int]:
    wants_json = request.accept_mimetypes.best == "application/json"
    if request.path.startswith(("/api/", "/tiles/")) or request.is_json or wants_json:
        response = jsonify(body)
        response.status_code = status
        return response
    return render_template("error.html", status=status, message=body["error"]), status


def register(app: Flask) -> None:
    """Install the error handlers on ``app``."""

    @app.errorhandler(WebError)
    @app.errorhandler(DroplineError)
    def dropline_error(exc: Exception) -> Any:
        return _answer(status_of(exc), describe(exc))

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> Any:
        return _answer(400, {"error": f"CSRF check failed: {exc.description}"})

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        return _answer(exc.code or 500, {"error": exc.description or exc.name})

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Any:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return _answer(500, {"error": "internal error; see the server log"})
