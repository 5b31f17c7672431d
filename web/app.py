"""The console's Flask app factory.

``create_app(config)`` takes a mapping of settings (defaults in :data:`DEFAULTS`): ``DATA_DIR``
(the database, plans, flight logs and tile cache), ``DATABASE_URL`` (else the environment's
``DATABASE_URL``, else SQLite in the data folder), ``CONNECT`` (vehicle connection strings),
``TIME_SCALE`` (a simulator's speedup), ``MISSIONS_DIR`` and ``SAMPLE_SCENARIO`` (scenarios to
choose from, and whose terrain the map shows), ``TILE_URL`` (an optional online base layer),
``SESSION_COOKIE_SECURE`` (behind HTTPS), ``SIMULATOR`` (a
:class:`web.simulator.SimulatorControl` of simulated vehicles, for fault injection),
``BROKER`` (``mqtt://USER[:PASS]@HOST:PORT``: vehicles through the workers on this MQTT broker
instead of ``CONNECT`` links, :mod:`web.fleet_broker`), ``CONSOLE_ID`` (the console's id on the
broker; default a random one) and ``BROKER_COMMAND_TIMEOUT_S`` (how long a command waits for
its worker's ack).
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, Response, redirect, send_from_directory, url_for

from planner.errors import InputError
from web import compress, csp, errors, i18n
from web.accounts import PERMISSIONS
from web.services import init_app
from web.views import api, auth, deliveries, fleet, flights, plans, simulator, tiles
from web.views._access import csrf, current_user

log = logging.getLogger(__name__)
WEB_DIR = Path(__file__).resolve().parent
REPO_MISSIONS = WEB_DIR.parent / "missions"
#: Where Leaflet's files (leaflet.js, leaflet.css, images/) are looked for, in order: the copy
#: building the package puts into it (setup.py), then the npm install of a source checkout.
LEAFLET_DIRS = (WEB_DIR / "static" / "vendor" / "leaflet",
                WEB_DIR / "node_modules" / "leaflet" / "dist")
#: Served instead of Leaflet when it is missing: a banner saying so, and a stand-in ``L``.
LEAFLET_MISSING = {"leaflet.js": "leaflet-missing.js", "leaflet.css": "leaflet-missing.css"}
LEAFLET_FIX = ("install npm and reinstall dropline (pip install .), or run ./dev demo "
               "(npm install in web/) in a source checkout")

DEFAULTS: dict[str, Any] = {
    "DATA_DIR": "dropline-data",
    "DATABASE_URL": None,
    "MISSIONS_DIR": str(REPO_MISSIONS),
    "SAMPLE_SCENARIO": "district",
    "CONNECT": [],
    "TIME_SCALE": 1.0,
    "RESET_BATTERY": None,
    "FLEET_WAIT_S": 10.0,
    "TILE_URL": None,
    "TILE_DEM": None,
    "PASSWORD_HASH_METHOD": "scrypt",
    "LOGIN_FAILURES": 5,
    "LOGIN_WINDOW_S": 60.0,
    "SSE_MAX_S": 300.0,
    "SESSION_COOKIE_SECURE": False,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "WTF_CSRF_TIME_LIMIT": None,
    "WTF_CSRF_HEADERS": ["X-CSRFToken"],
    "MAX_CONTENT_LENGTH": 64 * 1024 * 1024,
    "SIMULATOR": None,
    "BROKER": None,
    "CONSOLE_ID": None,
    "BROKER_COMMAND_TIMEOUT_S": 10.0,
}


def _secret_key(data_dir: Path) -> str:
    """The session signing key kept in the data folder (made on first start, mode 0600).

    Raises
    ------
    InputError
        The file exists but is empty, too short, unreadable or not text (it is left as it is).
    """
    path = data_dir / "secret_key"
    if path.exists() or path.is_symlink():
        try:
            key = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read the session signing key: {exc}", path=path) from exc
        if len(key) < 32:
            raise InputError(f"Expected a session signing key of at least 32 characters, got "
                             f"{len(key)}; delete the file to have a new one made (every "
                             "login ends)", path=path)
        return key
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """The console app with its services started (vehicle links opened).

    Parameters
    ----------
    config
        Settings overriding :data:`DEFAULTS` (and ``SECRET_KEY``, ``TESTING``...).
    """
    app = Flask(__name__, static_folder="static", template_folder="templates")
    app.config.update(DEFAULTS)
    app.config.update(config or {})
    data_dir = Path(app.config["DATA_DIR"]).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    app.config["DATA_DIR"] = str(data_dir)
    if not app.config["DATABASE_URL"]:
        app.config["DATABASE_URL"] = os.environ.get("DATABASE_URL") or \
            f"sqlite:///{data_dir / 'console.db'}"
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _secret_key(data_dir)
    csrf.init_app(app)
    errors.register(app)
    init_app(app)
    i18n.init_app(app, user_language=lambda: getattr(current_user(), "language", None))
    _register_blueprints(app)
    compress.init_app(app)

    @app.route("/")
    def index() -> Any:
        user = current_user()
        return redirect(url_for("plans.page") if user is None else auth.landing_page(user))

    @app.route("/favicon.ico")
    def favicon() -> Response:
        return Response(status=204)

    leaflet_dir = leaflet_dist()
    if leaflet_dir is None:
        log.warning("the console's map library (Leaflet) is missing: looked in %s; maps will "
                    "not show. To fix: %s", ", ".join(map(str, LEAFLET_DIRS)), LEAFLET_FIX)

    @app.route("/static/vendor/leaflet/<path:name>")
    def leaflet(name: str) -> Any:
        if leaflet_dir is None and name in LEAFLET_MISSING:
            response = send_from_directory(WEB_DIR / "static", LEAFLET_MISSING[name])
            response.headers["Cache-Control"] = "no-store"
            return response
        return send_from_directory(leaflet_dir or LEAFLET_DIRS[0], name)

    @app.context_processor
    def template_globals() -> dict[str, Any]:
        user = current_user()
        may = [] if user is None else [p for p in PERMISSIONS if user.may(p)]
        return {"user": user, "may": may, "tile_url": app.config["TILE_URL"]}

    @app.after_request
    def headers(response: Response) -> Response:
        """The strict Content-Security-Policy and its companions on every response."""
        response.headers["Content-Security-Policy"] = csp.policy(app.config["TILE_URL"])
        for name, value in csp.HEADERS.items():
            response.headers[name] = value
        return response

    return app


def leaflet_dist() -> Path | None:
    """The first of :data:`LEAFLET_DIRS` that holds leaflet.js and leaflet.css, else None."""
    for folder in LEAFLET_DIRS:
        if (folder / "leaflet.js").is_file() and (folder / "leaflet.css").is_file():
            return folder
    return None


def _register_blueprints(app: Flask) -> None:
    for module in (auth, plans, fleet, deliveries, flights, api, tiles, simulator):
        app.register_blueprint(module.bp)
