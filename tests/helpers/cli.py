"""Running the ``dropline`` command line in-process, as a test sees it."""

from __future__ import annotations

import pytest

from dropline.cli import main


def run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``main(argv)`` with argparse's exits turned into codes, and the captured output."""
    try:
        code = main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err
