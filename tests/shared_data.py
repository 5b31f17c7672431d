"""Where the reference data lives: ``$DROPLINE_SHARED``, else ``shared/`` beside the repository."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DROPLINE_SHARED") or REPO.parent / "shared")


def needs(path: Path) -> pytest.MarkDecorator:
    """Skip, saying why, when the reference file or folder ``path`` is not there."""
    return pytest.mark.skipif(
        not path.exists(),
        reason=f"reference data not found at {path} (set DROPLINE_SHARED to the shared folder)")
