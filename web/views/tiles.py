"""Hillshade map tiles rendered from the scenario terrain."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from web.services import services
from web.views._access import login_required

bp = Blueprint("tiles", __name__)


@bp.route("/tiles/<int:z>/<int:x>/<int:y>.png")
@login_required
def tile(z: int, x: int, y: int) -> Any:
    """One 256 px PNG tile (transparent where there is no terrain)."""
    response = Response(services().tiles.tile(z, x, y), mimetype="image/png")
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response
