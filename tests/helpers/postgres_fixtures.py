"""Fixtures of a real PostgreSQL server (loaded by ``tests/conftest.py``).

``postgres_server`` is started once per test process (each pytest-xdist worker has its own) the
first time a test asks for it, and stopped at the end; ``postgres_url`` is a new empty database
of it per test; ``database_url`` runs a test once on SQLite and once on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dropline.region.errors import RegionError
from tests.helpers.postgres import (
    PostgresServer,
    create_database,
    drop_database,
    start_postgres,
)

#: The backends ``database_url`` runs a test on.
BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server on loopback for this test process (fails when not installed)."""
    try:
        server = start_postgres()
    except RegionError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.stop(remove=True)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a new empty database of the test process's server (dropped afterwards)."""
    url = create_database(postgres_server)
    yield url
    drop_database(postgres_server, url)


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a SQLite file in the test's folder, then a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url
