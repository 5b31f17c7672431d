"""Pure planning core: scenario model, geometry, terrain, energy, routing, missions, verifier."""
