"""Fixtures of the deploy tier."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def images_cached(images_built_before_any_deploy) -> None:
    """Every test of this tier: tests/support/image.py's images_built_before_any_deploy."""
