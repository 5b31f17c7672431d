"""The web console: plan, fly and watch a delivery fleet in the browser."""

from web.app import create_app as create_app
