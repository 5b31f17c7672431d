"""Simulated and real ArduPilot SITL vehicles, and replay."""
