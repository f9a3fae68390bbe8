"""`python -m model`: results on stdout, one-line errors with exit status 2."""

from __future__ import annotations

import io
import json
import subprocess

import pandas as pd
import pytest

from tests.support.paths import PYTHON, ROOT


def cli(*args, stdin=None):
    return subprocess.run(
        [PYTHON, "-m", "model", *map(str, args)],
        capture_output=True, text=True, cwd=ROOT, input=stdin,
    )


def assert_one_line_error(done, text):
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr
    assert text in done.stderr


def test_run_is_reproducible_with_a_seed():
    first, second = cli("run", "--seed", 5), cli("run", "--seed", 5)
    assert first.returncode == 0 and first.stdout == second.stdout
    results = pd.read_csv(io.StringIO(first.stdout))
    assert results.shape == (1000, 6)


def test_run_sample_count_and_updates(tmp_path):
    updates = tmp_path / "u.json"
    updates.write_text(json.dumps([{"parameter": "c_H", "distribution": "fixed", "v1": 0, "v2": None}]))
    done = cli("run", "--seed", 1, "--samples", 10, "--updates", updates)
    assert done.returncode == 0, done.stderr
    assert pd.read_csv(io.StringIO(done.stdout)).shape == (10, 6)


def test_run_with_another_inputs_table(tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("parameter,distribution,v1,v2,editable\nc_H,fixed,0,,T\n")
    done = cli("run", "--inputs", table, "--samples", 3, "--seed", 1)
    assert done.returncode == 0, done.stderr
    assert len(set(done.stdout.splitlines()[1:])) == 1  # nothing else varies


def test_summary():
    done = cli("run", "--seed", 1, "--summary")
    assert done.returncode == 0
    assert "Treatment_A" in done.stdout and "ICER" in done.stdout


def test_evaluate_from_stdin(reference):
    samples = (reference / "cases" / "default" / "samples.csv").read_text()
    done = cli("evaluate", "-", stdin=samples)
    assert done.returncode == 0 and len(done.stdout.splitlines()) == 1001


@pytest.mark.parametrize(
    "args, text",
    [
        (("evaluate", "/nonexistent.csv"), "no such file"),
        (("run", "--updates", "/nonexistent.json"), "no such file"),
        (("run", "--inputs", "/nonexistent.csv"), "cannot open"),
        (("run", "--samples", 0), "--samples must be at least 1"),
    ],
)
def test_missing_files_and_bad_numbers(args, text):
    assert_one_line_error(cli(*args), text)


def test_bad_json_updates(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("[{not json")
    assert_one_line_error(cli("run", "--updates", bad), "not valid JSON")


def test_bad_samples_table(tmp_path):
    samples = tmp_path / "s.csv"
    samples.write_text("p_HS1,c_H\n0.1,abc\n")
    assert_one_line_error(cli("evaluate", samples), "c_H must be a finite number")


def test_usage_errors_exit_2():
    done = cli("frobnicate")
    assert done.returncode == 2 and "Traceback" not in done.stderr


def test_a_large_run_streams_the_same_csv():
    # More rows than one streamed block: the pieces join to the one text.
    import model
    from model.results import STREAM_ROWS

    n = 2 * STREAM_ROWS + 3
    done = cli("run", "--seed", 8, "--samples", n)
    assert done.returncode == 0, done.stderr
    assert done.stdout == model.format_csv(model.run_psa(seed=8, n_samples=n))
    assert len(done.stdout.splitlines()) == n + 1


def test_output_cut_short_is_not_an_error():
    done = subprocess.run(f"{PYTHON} -m model run --samples 50000 | head -2",
                          shell=True, capture_output=True, text=True, cwd=ROOT)
    assert len(done.stdout.splitlines()) == 2
    assert "Traceback" not in done.stderr and done.stderr == ""


def test_a_negative_zero_sd_in_updates_runs(tmp_path):
    updates = tmp_path / "u.json"
    updates.write_text('[{"parameter": "c_H", "distribution": "normal", "v1": 2000, "v2": -0.0}]')
    done = cli("run", "--seed", 1, "--samples", 5, "--updates", updates)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
