"""The flight log's revisions, oldest first by their ``down_revision``."""
