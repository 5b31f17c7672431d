"""The console tables' revisions, oldest first by their ``down_revision``."""
