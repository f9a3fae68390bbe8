"""The service (/analysis included), `python -m model run` and the analysis
commands work without pandas, which is why the image leaves it out (see the
Dockerfile); the DataFrame API and the NumPy API give the same numbers."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd

import model
from service.contract import DEFAULT_UPDATES
from tests.support.paths import ROOT

# Runs first in each child: any `import pandas` now fails, as in the image.
NO_PANDAS = "import sys; sys.modules['pandas'] = None\n"

SERVE = NO_PANDAS + """
import json
from service.settings import Settings
from tests.support.client import app_client

client = app_client(Settings(api_keys=("k-1",)), key="k-1")
update = {"parameter": "p_HS1", "distribution": "beta", "v1": 25, "v2": 150}
csv = client.simulate_post("/runDARTHmodel", json={"param_updates": [update], "seed": 7})
as_json = client.simulate_post("/runDARTHmodel", json={"seed": 7},
                               headers={"Accept": "application/json"})
bad = client.simulate_post("/runDARTHmodel", json={"param_updates": [
    {"parameter": "hr_S1S2_trtB", "distribution": "fixed", "v1": 1}]})
analysis = client.simulate_post("/analysis", json={"seed": 7, "evppi": [["p_HS1", "p_S1H"]],
                                                   "evppi_method": "gam"})
assert analysis.status_code == 200, analysis.text
assert "pandas" not in {m.split(".")[0] for m in sys.modules if sys.modules[m] is not None}
print(json.dumps({"csv": [csv.status_code, csv.text], "json": [as_json.status_code, as_json.text],
                  "bad": [bad.status_code, bad.json]}))
"""


def child(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)


def test_service_runs_the_model_without_pandas():
    done = child(SERVE)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    update = {"parameter": "p_HS1", "distribution": "beta", "v1": 25, "v2": 150}
    assert out["csv"] == [200, model.format_csv(model.run(None, [update], seed=7))]
    status, text = out["json"]
    assert status == 200
    # No param_updates: the original's default updates.
    pd.testing.assert_frame_equal(pd.DataFrame(json.loads(text)),
                                  model.run(None, DEFAULT_UPDATES, seed=7))
    status, body = out["bad"]
    assert status == 409 and body["kind"] == "NotEditableError"


def test_model_command_runs_without_pandas_and_evaluate_says_what_it_needs(tmp_path):
    run = child(NO_PANDAS + "from model.cli import main; sys.exit(main(['run', '--seed', '3']))")
    assert run.returncode == 0, run.stderr
    assert run.stdout == model.format_csv(model.run(seed=3))
    samples = tmp_path / "samples.csv"
    samples.write_text("p_HS1\n0.1\n")
    evaluate = child(NO_PANDAS + "from model.cli import main; "
                     f"sys.exit(main(['evaluate', {str(samples)!r}]))")
    assert evaluate.returncode == 2
    assert evaluate.stderr == "error: evaluate reads samples with pandas: pip install pandas\n"
    results = tmp_path / "results.csv"
    results.write_text(run.stdout)
    icers = child(NO_PANDAS + f"from model.cli import main; sys.exit(main(['icers', {str(results)!r}]))")
    assert icers.returncode == 0 and icers.stdout.startswith("Strategy,Cost,Effect,"), icers.stderr


def test_numpy_api_gives_the_dataframe_api_numbers():
    updates = [{"parameter": "u_S1", "distribution": "beta", "v1": 130, "v2": 45}]
    frame = model.run(None, updates, seed=11, n_samples=50)
    arrays = model.run_psa(model.read_table(), updates, seed=11, n_samples=50)
    assert isinstance(arrays, model.PSAResults) and arrays.columns == model.RESULT_COLUMNS
    assert np.array_equal(arrays.values, frame.to_numpy())
    pd.testing.assert_frame_equal(arrays.to_frame(), frame)
    samples = model.draw(model.read_table().update(updates), 50, seed=11)
    assert np.array_equal(model.evaluate_psa(samples).values, frame.to_numpy())
    assert model.format_csv(arrays) == model.format_csv(frame)
