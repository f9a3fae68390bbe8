"""Fixtures of the end-to-end tier."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.paths import ROOT


@pytest.fixture(scope="session", autouse=True)
def images_cached(images_built_before_any_deploy) -> None:
    """Every test of this tier: tests/support/image.py's images_built_before_any_deploy."""


@pytest.fixture(scope="session")
def fresh_clone(tmp_path_factory) -> Path:
    """A clone of the repository as a new user makes it (git clone, nothing
    else): the README demo's tests run their commands in it, one module
    after the other (tests/support/demo.py).  The first `make` in it sets
    it up (.venv), as on a new machine; the others find it set up."""
    clone = tmp_path_factory.mktemp("fresh") / "living-hta"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    return clone
