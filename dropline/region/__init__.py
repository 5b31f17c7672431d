"""The regional setup on one machine: PostgreSQL, Mosquitto, ground-control workers and
consoles started together from Debian's packages (``dropline region``).

:mod:`dropline.region.postgres` runs a PostgreSQL cluster of its own, :mod:`dropline.region.broker`
Mosquitto with the bus's logins and ACL, :mod:`dropline.region.launch` the workers, consoles and
an optional simulated fleet as child processes, stopped together.
"""
