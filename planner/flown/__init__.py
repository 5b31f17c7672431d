"""Plan versus flown: how closely a flight kept to its mission."""

from planner.flown.figures import FlownFigures as FlownFigures
from planner.flown.figures import FlownSample as FlownSample
from planner.flown.figures import ReleaseEvent as ReleaseEvent
from planner.flown.figures import compare_flight as compare_flight
