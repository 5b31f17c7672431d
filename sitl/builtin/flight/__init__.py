"""How a simulated copter flies: flight tasks, the AUTO executor, physics, battery, payload,
failsafes."""
