"""Where things are: the project root, the Python running the tests, and
the reference data (CI checks the project out with ../shared beside it)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = Path(os.environ.get("LIVING_HTA_REFERENCE", ROOT.parent / "shared" / "reference"))
PYTHON = sys.executable
