"""The original's R client (httr, as in the tutorial) against the real server."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.support.paths import ROOT
from tests.support.secret_audit import TEST_KEY
from tests.support.service import gunicorn_server

KEY = TEST_KEY  # made up per session: see tests/support/secret_audit.py


def test_original_httr_client_gets_a_1000_by_6_data_frame(tmp_path):
    rscript = shutil.which("Rscript")
    if rscript is None:
        pytest.fail("Rscript not found: run `make system` (scripts/setup-system.sh)")
    with gunicorn_server(tmp_path, API_KEYS=KEY) as server:
        env = {**os.environ, "LIVING_HTA_URL": server.url, "LIVING_HTA_KEY": KEY}
        done = subprocess.run([rscript, str(ROOT / "tests" / "r" / "httr_client.R")],
                              env=env, capture_output=True, text=True, timeout=120)
        entries = server.log_entries()
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(": ", 1) for line in done.stdout.strip().splitlines())
    assert "data.frame" in lines["class"] and "tbl_df" in lines["class"]  # parsed by readr
    assert lines["dim"].split() == ["1000", "6"]
    assert lines["columns"].split() == ["C_No_Treatment", "C_Treatment_A", "C_Treatment_B",
                                        "E_No_Treatment", "E_Treatment_A", "E_Treatment_B"]
    assert lines["numeric"].strip() == "TRUE" and lines["complete"].strip() == "TRUE"
    run = [e for e in entries if e["path"] == "/runDARTHmodel"]
    assert len(run) == 1 and run[0]["status"] == 200 and "httr" in run[0]["user_agent"]
