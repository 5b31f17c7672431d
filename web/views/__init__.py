"""The console's blueprints: auth, plans, fleet, deliveries, flights, api and tiles."""
