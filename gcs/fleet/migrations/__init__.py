"""The flight log's Alembic migrations (version table ``flight_log_version``), run by
:class:`gcs.fleet.logs.FlightLog` when it opens a database and by ``dropline db upgrade``."""
