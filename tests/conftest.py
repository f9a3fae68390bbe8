"""Shared test fixtures: where the reference data lives, and the project root."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# Fixtures of servers the tests start: `moto_endpoint` (the AWS emulator);
# the session's test key and the audit of where keys went (runs last).
pytest_plugins = ["tests.support.moto", "tests.support.secret_audit",
                  # a Docker registry on 127.0.0.1; the API's image, built once
                  "tests.support.registry", "tests.support.image"]

ROOT = Path(__file__).resolve().parent.parent
# CI checks the project out with ../shared beside it.
REFERENCE = Path(os.environ.get("LIVING_HTA_REFERENCE", ROOT.parent / "shared" / "reference"))
PYTHON = sys.executable


@pytest.fixture(scope="session")
def reference() -> Path:
    if not REFERENCE.is_dir():
        pytest.fail(f"reference data not found at {REFERENCE} (set LIVING_HTA_REFERENCE)")
    return REFERENCE
