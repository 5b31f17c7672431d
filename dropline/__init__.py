"""The dropline command line and composition root."""
