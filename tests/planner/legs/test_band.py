"""Small pieces of the altitude profile search."""

from __future__ import annotations

import numpy as np
import pytest

from planner.legs._band import _CANDIDATES, TOL_M, _candidates


@pytest.mark.parametrize("scale", [1e-9, 1e-3, 1.0, 300.0])
def test_candidates_are_numpys_linspace(scale: float) -> None:
    """The candidate altitudes are bit for bit np.linspace, or the one altitude of a point."""
    rng = np.random.default_rng(7)
    for _ in range(2000):
        z_lo = float(rng.uniform(-50.0, 3000.0))
        z_hi = z_lo + float(rng.uniform(0.0, 1.0)) * scale
        want = (np.array([z_lo]) if z_hi - z_lo <= TOL_M
                else np.linspace(z_lo, z_hi, _CANDIDATES))
        assert _candidates(z_lo, z_hi).tobytes() == want.tobytes()
