"""Fixtures of the unit tier."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from model.parameters import default_table_path


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A data folder holding the default parameter table, as the service reads it."""
    folder = tmp_path / "data"
    folder.mkdir()
    shutil.copy(default_table_path(), folder / "parameter_distributions.csv")
    return folder
