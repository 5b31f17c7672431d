"""The work behind each ``dropline`` command group, one module per group."""
