"""Schemathesis against the running console: generated requests to every operation of the
OpenAPI document, logged in as admin with the CSRF token, never get a 500."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from tests.web.helpers import PASSWORD, make_app, serve, services

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The console on a real HTTP server and a requests session logged in as admin."""
    app = make_app(Path(tmp_path_factory.mktemp("fuzz")), SSE_MAX_S=0.5)  # events end soon
    for server in serve(app):
        session = requests.Session()
        token = session.get(f"{server.url}/api/csrf").json()["csrf_token"]
        session.headers["X-CSRFToken"] = token
        r = session.post(f"{server.url}/api/login",
                         json={"username": "admin", "password": PASSWORD})
        assert r.status_code == 200
        session.headers["X-CSRFToken"] = session.get(f"{server.url}/api/csrf").json()[
            "csrf_token"]
        yield {"url": server.url, "session": session, "app": app}
        session.close()
    services(app).close()


@pytest.fixture(scope="module")
def api_schema(live: dict[str, Any]) -> Any:
    """The console's own OpenAPI document, read from the server."""
    return schemathesis.openapi.from_url(f"{live['url']}/api/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: Any, live: dict[str, Any]) -> None:
    """No generated request makes the server answer 5xx."""
    case.call_and_validate(base_url=live["url"], session=live["session"],
                           checks=[not_a_server_error])
