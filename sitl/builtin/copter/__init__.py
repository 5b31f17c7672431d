"""One simulated ArduCopter: the vehicle and its parts.

Arming and pre-arm reports, mode changes, navigation limits, stored lists, outgoing messages and
the fixed-step loop each live in their own module and never import the vehicle.
"""
