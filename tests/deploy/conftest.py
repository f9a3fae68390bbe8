"""Fixtures of the deploy tier."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def images_built_before_any_deploy(api_image, front_image) -> None:
    """The API's and the front's images in Docker's cache before a test of
    this tier builds them (the image role, `make demo`, Molecule): built on
    one worker at a time (tests/support/locks.py).  Two builds of one
    commit that miss the cache at the same moment make two different images
    (layers carry their build time), and a worker's redeploy then finds
    `living-hta:<commit>` retagged by the other worker and pushes it again."""
