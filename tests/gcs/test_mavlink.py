"""The typed message builders a link hands out match the codec behind them."""

from __future__ import annotations

import inspect

import pytest

from gcs import mavlink as mav

BUILDERS = sorted(name for name in vars(mav.Encoder) if name.endswith("_encode"))


@pytest.mark.parametrize("name", BUILDERS)
def test_encoder_methods_are_the_codecs(name: str) -> None:
    """Every builder of the Encoder protocol exists on the codec with the same fields in the
    same order."""
    codec = mav.codec(mav.GCS_SYSTEM_ID, mav.GCS_COMPONENT_ID)
    declared = list(inspect.signature(getattr(mav.Encoder, name)).parameters)[1:]
    real = list(inspect.signature(getattr(codec, name)).parameters)
    assert declared == real
