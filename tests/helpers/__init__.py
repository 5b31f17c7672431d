"""Helpers shared by every test area: ports, waiting, reference data, synthetic inputs."""
