"""Alembic's entry point of the console's migrations (see :func:`gcs.sqldb.run_env`)."""

from alembic import context

from gcs.sqldb import run_env

run_env(context)
