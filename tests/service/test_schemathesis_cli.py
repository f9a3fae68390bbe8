"""The independent check of issue 15, item 9: schemathesis's own command line,
with every check and no configuration of ours, against the real service.

    schemathesis run http://127.0.0.1:PORT/openapi.json --checks all -H "key: <k>"

No schemathesis.toml (it runs in an empty folder), no expected statuses
widened, no custom checks: the document must say exactly what the service
accepts.  A schema-valid request may get a 2xx, or a 404 (a dataset name of
the right form that the data folder does not hold) or a 409 (a rule of the
data owner's table or settings, which the public document cannot state):
both are in schemathesis's default positive_data_acceptance statuses.

The number of cases per operation is fixed (EXAMPLES), and the run is seeded
so a failure can be replayed; test_fuzz_openapi.py varies the data.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.secret_audit import TEST_KEY
from tests.support.service import gunicorn_server

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
EXAMPLES = 100
SEED = 15  # issue 15


def run_schemathesis(url: str, folder: Path, *options: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEMATHESIS")}
    return subprocess.run(
        [str(SCHEMATHESIS), "run", url + "/openapi.json", "--checks", "all",
         "-H", f"key: {TEST_KEY}", "--max-examples", str(EXAMPLES), "--no-color", *options],
        cwd=folder, env=env, capture_output=True, text=True, timeout=1800,
    )


def test_schemathesis_with_every_check_passes(tmp_path):
    work = tmp_path / "run"  # an empty folder: no configuration file to pick up
    work.mkdir()
    with gunicorn_server(tmp_path, API_KEYS=TEST_KEY) as server:
        result = run_schemathesis(server.url, work, "--seed", str(SEED))
        errors, requests = server.stderr.read_text(), server.log_entries()
    output = result.stdout[-20000:] + result.stderr[-5000:]
    assert result.returncode == 0, output
    assert "Traceback" not in errors, errors[-3000:]
    # The key was really sent: the model and the analyses ran.
    answered = {(e["path"], e["status"]) for e in requests}
    assert {("/runDARTHmodel", 200), ("/analysis", 200), ("/parameters", 200)} <= answered
