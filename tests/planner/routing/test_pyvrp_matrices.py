"""PyVRP's integer matrices, converted block by block."""

from __future__ import annotations

import numpy as np
import pytest

from planner.routing import _pyvrp_model
from planner.routing._pyvrp_model import _matrix


@pytest.mark.parametrize("scale", [1e3, 1e6])
def test_matrix_rounds_up_and_does_not_depend_on_the_block_size(
        scale: float, monkeypatch: pytest.MonkeyPatch) -> None:
    """Finite entries are scaled and rounded up, infinite ones set far above every finite
    route, and the matrix is the same however many rows are converted at once."""
    rng = np.random.default_rng(3)
    m = rng.random((40, 40)) * 2000.0
    m[3, 5] = np.inf
    whole = _matrix(m, scale)
    assert whole.dtype == np.int64
    finite = np.isfinite(m)
    assert np.array_equal(whole[finite], np.ceil(m[finite] * scale - 1e-9))
    assert whole[3, 5] >= m[finite].max() * 100 * 40 * scale
    monkeypatch.setattr(_pyvrp_model, "_ROW_CHUNK", 7)
    assert np.array_equal(_matrix(m, scale), whole)
