"""PyVRP's integer matrices: built block by block, compact where the values allow."""

from __future__ import annotations

import numpy as np
import pytest

from planner.routing import _pyvrp_model
from planner.routing._pyvrp_model import INT32_SAFE, _matrix


@pytest.mark.parametrize("scale", [1e3, 1e6])
def test_compact_matrix_has_the_same_values(scale: float, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    """int32 where every scaled entry fits, int64 otherwise; the values are the same either way
    and do not depend on how many rows are converted at once."""
    rng = np.random.default_rng(3)
    m = rng.random((40, 40)) * 2000.0
    m[3, 5] = np.inf
    wide = _matrix(m, scale)
    assert wide.dtype == np.int64
    assert wide[3, 5] > wide[np.isfinite(m)].max() * 100
    compact = _matrix(m, scale, compact=True)
    fits = np.ceil(float(np.nanmax(np.where(np.isfinite(m), m, np.nan))) * 100 * 40 * scale)
    assert compact.dtype == (np.int32 if fits <= INT32_SAFE else np.int64)
    assert np.array_equal(compact.astype(np.int64), wide)
    finite = np.where(np.isfinite(m), m, 0.0)
    assert _matrix(finite, scale, compact=True).dtype == np.int32
    monkeypatch.setattr(_pyvrp_model, "_ROW_CHUNK", 7)
    assert np.array_equal(_matrix(m, scale), wide)
    assert np.array_equal(wide[np.isfinite(m)], np.ceil(m[np.isfinite(m)] * scale - 1e-9))
