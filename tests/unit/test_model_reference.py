"""The NumPy model against what the R original computed for the same samples."""

from __future__ import annotations

import io
import json
import subprocess

import numpy as np
import pandas as pd
import pytest

import model
from model import errors, markov

from tests.support.paths import PYTHON, REFERENCE, ROOT

CASES = sorted(p for p in (REFERENCE / "cases").iterdir() if p.is_dir()) if REFERENCE.is_dir() else []
RESULT_CASES = [c for c in CASES if (c / "results.csv").exists()]
ERROR_CASES = [c for c in CASES if (c / "error.txt").exists()]

# error.txt holds R's message; each maps to the typed error we raise.
R_MESSAGES = {
    errors.R_NOT_EDITABLE: errors.NotEditableError,
    errors.R_INVALID_MATRIX: errors.InvalidTransitionMatrixError,
}


def test_reference_cases_are_present():
    assert len(RESULT_CASES) >= 3 and len(ERROR_CASES) >= 3, REFERENCE


@pytest.mark.parametrize("case", RESULT_CASES, ids=lambda p: p.name)
def test_command_line_evaluate_matches_r(case):
    done = subprocess.run(
        [PYTHON, "-m", "model", "evaluate", str(case / "samples.csv")],
        capture_output=True, text=True, cwd=ROOT, check=True,
    )
    ours = pd.read_csv(io.StringIO(done.stdout))
    theirs = pd.read_csv(case / "results.csv")
    assert list(ours.columns) == list(theirs.columns) == list(model.RESULT_COLUMNS)
    assert ours.shape == theirs.shape == (1000, 6)
    np.testing.assert_allclose(ours.to_numpy(), theirs.to_numpy(), rtol=1e-9, atol=0)


@pytest.mark.parametrize("case", RESULT_CASES, ids=lambda p: p.name)
def test_updates_give_the_r_input_table(case):
    updates = json.loads((case / "updates.json").read_text())["updates"]
    ours = model.read_table().update(updates).to_frame()
    theirs = pd.read_csv(case / "inputs.csv", encoding="utf-8-sig")
    assert list(ours["parameter"]) == list(theirs["parameter"])
    assert list(ours["distribution"]) == list(theirs["distribution"])
    np.testing.assert_array_equal(ours["v1"].to_numpy(), theirs["v1"].to_numpy(dtype=float))
    np.testing.assert_array_equal(ours["v2"].to_numpy(), theirs["v2"].to_numpy(dtype=float))


@pytest.mark.parametrize("case", RESULT_CASES, ids=lambda p: p.name)
def test_samples_columns_are_the_table_rows(case):
    samples = pd.read_csv(case / "samples.csv")
    assert list(samples.columns) == list(model.read_table().parameter)


@pytest.mark.parametrize("case", ERROR_CASES, ids=lambda p: p.name)
def test_error_cases_raise_the_typed_error(case):
    message = (case / "error.txt").read_text().strip()
    expected = next(cls for text, cls in R_MESSAGES.items() if text in message)
    updates = json.loads((case / "updates.json").read_text())["updates"]
    with pytest.raises(expected) as caught:
        model.run(updates=updates, seed=1)
    assert message in str(caught.value)  # R's words are kept in ours


@pytest.mark.parametrize("case", ERROR_CASES, ids=lambda p: p.name)
def test_error_cases_on_the_command_line(case):
    done = subprocess.run(
        [PYTHON, "-m", "model", "run", "--seed", "1", "--updates", str(case / "updates.json")],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr


def test_unknown_parameter_is_its_own_type():
    with pytest.raises(errors.UnknownParameterError, match="p_XYZ"):
        model.run(updates=[{"parameter": "p_XYZ", "distribution": "beta", "v1": 1, "v2": 1}])


def test_not_editable_is_not_unknown():
    update = {"parameter": "hr_S1S2_trtB", "distribution": "rlnorm", "v1": -0.5, "v2": 0.1}
    with pytest.raises(errors.NotEditableError) as caught:
        model.run(updates=[update])
    assert not isinstance(caught.value, errors.UnknownParameterError)
    assert caught.value.parameter == "hr_S1S2_trtB"


def test_invalid_matrix_names_sample_and_values():
    samples = pd.DataFrame({"p_S1H": [0.5, 0.5, 0.95], "p_S1S2": [0.1, 0.1, 0.1]})
    with pytest.raises(errors.InvalidTransitionMatrixError) as caught:
        model.evaluate(samples)
    error = caught.value
    assert (error.sample, error.strategy, error.transition) == (3, "No_Treatment", "S1->S1")
    assert error.values["p_S1H"] == 0.95 and error.values["p_S1S2"] == 0.1
    assert error.probability < 0
    assert "sample 3" in str(error) and "p_S1H=0.95" in str(error)


def test_invalid_matrix_only_under_treatment_b():
    # Valid without treatment; hr > 1 pushes B's progression past the limit.
    samples = pd.DataFrame({"p_S1H": [0.5], "p_S1S2": [0.4], "hr_S1S2_trtB": [2.0]})
    with pytest.raises(errors.InvalidTransitionMatrixError) as caught:
        model.evaluate(samples)
    assert caught.value.strategy == "Treatment_B"
    assert caught.value.values["hr_S1S2_trtB"] == 2.0


def test_nan_probability_is_invalid():
    with pytest.raises(errors.InvalidTransitionMatrixError):
        model.evaluate(pd.DataFrame({"p_S1S2": [1.5]}))  # log of a negative


def test_base_case_with_the_swap():
    # README check: No_Treatment's base-case cost is 112005.36 with the
    # original's swapped S1/S2 values (148620.93 without).
    result = model.evaluate(pd.DataFrame(index=[0]))
    assert result.loc[0, "C_No_Treatment"] == pytest.approx(112005.36191397, rel=1e-12)
    swapped_back = pd.DataFrame({"c_S1": [15000.0], "c_S2": [4000.0]})
    assert model.evaluate(swapped_back).loc[0, "C_No_Treatment"] == pytest.approx(
        148620.92883833, rel=1e-12
    )


def test_only_base_case_names_reach_the_model():
    samples = pd.read_csv(RESULT_CASES[0] / "samples.csv")
    ignored = samples.assign(hr_S1=99.0, hr_S2=99.0, du_HS1=5.0, ic_HS1=1e9, ic_D=1e9, extra="x")
    pd.testing.assert_frame_equal(model.evaluate(samples), model.evaluate(ignored))


def test_missing_columns_take_the_base_case():
    full = pd.DataFrame({name: [value] for name, value in markov.BASE_CASE.items()})
    pd.testing.assert_frame_equal(model.evaluate(full), model.evaluate(pd.DataFrame(index=[0])))


def test_results_are_per_sample_and_independent():
    samples = pd.read_csv(RESULT_CASES[0] / "samples.csv")
    whole = model.evaluate(samples)
    part = model.evaluate(samples.iloc[[10, 3]].reset_index(drop=True))
    np.testing.assert_allclose(part.to_numpy(), whole.iloc[[10, 3]].to_numpy(), rtol=1e-13)


@pytest.mark.parametrize(
    "samples, message",
    [
        (pd.DataFrame({"p_HS1": []}), "no rows"),
        (pd.DataFrame({"p_HS1": ["abc"]}), "p_HS1 must be a finite number"),
        (pd.DataFrame({"c_H": [1.0, np.nan]}), "sample 2: c_H"),
        (pd.DataFrame({"c_H": [np.inf]}), "c_H must be a finite number"),
        (pd.DataFrame({"n_cycles": [10]}), "cannot vary per sample"),
    ],
)
def test_bad_samples_are_refused(samples, message):
    with pytest.raises(errors.SamplesError, match=message):
        model.evaluate(samples)


def test_format_csv_round_trips_exactly():
    results = model.run(seed=3)
    text = model.format_csv(results)
    assert text.splitlines()[0] == ",".join(model.RESULT_COLUMNS)
    back = pd.read_csv(io.StringIO(text))
    np.testing.assert_array_equal(back.to_numpy(), results.to_numpy())
