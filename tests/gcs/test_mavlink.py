"""The typed message builders a link hands out match the codec behind them."""

from __future__ import annotations

import inspect
import logging

import pytest

from gcs import mavlink as mav
from tests.helpers.ports import free_tcp_port

BUILDERS = sorted(name for name in vars(mav.Encoder) if name.endswith("_encode"))


@pytest.mark.parametrize("name", BUILDERS)
def test_encoder_methods_are_the_codecs(name: str) -> None:
    """Every builder of the Encoder protocol exists on the codec with the same fields in the
    same order."""
    codec = mav.codec(mav.GCS_SYSTEM_ID, mav.GCS_COMPONENT_ID)
    declared = list(inspect.signature(getattr(mav.Encoder, name)).parameters)[1:]
    real = list(inspect.signature(getattr(codec, name)).parameters)
    assert declared == real


def test_a_tcp_link_retrying_prints_nothing(capfd: pytest.CaptureFixture[str],
                                            caplog: pytest.LogCaptureFixture) -> None:
    """pymavlink's retry lines ("... sleeping") while a TCP peer is away go to the log, never
    to the program's standard output."""
    port = free_tcp_port()
    with caplog.at_level(logging.INFO, logger="gcs.mavlink"), \
            pytest.raises(ConnectionRefusedError):
        mav.mavutil.mavlink_connection(f"tcp:127.0.0.1:{port}", retries=2, reconnect_delay=0.01)
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert any("sleeping" in r.getMessage() for r in caplog.records), caplog.records
