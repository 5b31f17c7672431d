"""The console tables' Alembic migrations (version table ``console_version``), run by
:class:`web.db.Database` when it opens a database and by ``dropline db upgrade``."""
