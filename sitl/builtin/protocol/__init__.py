"""The simulated copter's MAVLink side: message and command handlers, transfers, telemetry."""
