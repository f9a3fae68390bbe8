"""The cost estimate against what requests really take, and the analyses'
chunking over WTP against computing in one piece.

Each shape runs in a fresh process (tests/support/cost.py), its peak RSS
measured by the kernel (VmHWM); the service's own estimate (from its request
log) must not be under it by more than 10 %, nor over it by more than half
(an estimate that refuses what fits is no budget).  The full grid, with
100,000 samples: bench/bench_cost.py, bench/RESULTS.md ("Cost").
"""

from __future__ import annotations

import numpy as np
import pytest

import model
from model.analysis import PSA, acceptability, evpi_values, evppi_values, expected_loss_values
from model.analysis import psa as psa_module
from tests.support.cost import measure

SHAPES = [
    ("/runDARTHmodel", {"n_samples": 30000}),
    ("/analysis", {"n_samples": 30000, "wtp": "0:1000000:5000"}),
    ("/analysis", {"n_samples": 30000, "wtp": "0:1000000:5000",
                   "evppi": [["p_HS1", "p_S1H", "c_S1", "u_S1"]], "poly_order": 4}),
    ("/analysis", {"n_samples": 30000, "evppi": [["p_HS1", "p_S1H", "c_S1"]],
                   "evppi_method": "gam", "evppi_wtp": "50000,100000"}),
    ("/analysis", {"n_samples": 30000, "sensitivity": {
        "wtp": 100000, "outcomes": ["nmb", "eff", "cost"], "twsa": ["p_HS1", "c_S1"]}}),
]


@pytest.mark.parametrize(("endpoint", "body"), SHAPES,
                         ids=[f"{e[1:]}-{'-'.join(b)}" for e, b in SHAPES])
def test_the_estimate_is_never_well_under_the_measured_peak(endpoint, body):
    measured = measure(endpoint, body)
    assert measured["status"] == 200, measured
    peak_mib = measured["peak_bytes"] / 2**20
    assert measured["estimate_mib"] >= 0.9 * peak_mib, measured
    assert measured["estimate_mib"] <= 1.5 * peak_mib, measured


def test_the_issue_example_now_peaks_within_one_default_worker():
    """issue 26: 100,000 samples, 201 WTP values and one EVPPI peaked at
    1.13 GB (the task has 900 MiB for two workers); chunked, it fits one
    worker's 360 MiB, and the estimate covers it."""
    measured = measure("/analysis", {"n_samples": 100000, "seed": 1, "wtp": "0:1000000:5000",
                                     "evppi": ["p_HS1"]})
    assert measured["status"] == 200
    assert measured["peak_bytes"] < 360 * 2**20
    assert measured["estimate_mib"] >= 0.9 * measured["peak_bytes"] / 2**20


@pytest.fixture(scope="module")
def psa() -> PSA:
    results = model.run_psa(n_samples=2000, seed=11)
    names = list(results.samples.columns)
    parameters = np.column_stack([results.samples.columns[name] for name in names])
    values = results.values
    return PSA(values[:, :3], values[:, 3:], model.STRATEGIES, parameters, names)


@pytest.mark.parametrize("rows", [1, 3, 7])
def test_chunking_over_wtp_gives_the_same_bits_as_one_piece(psa, monkeypatch, rows):
    wtp = np.arange(0, 1000001, 25000.0)  # 41 values: one chunk by default at 2000 samples
    analyses = {
        "acceptability": lambda: acceptability(psa, wtp),
        "expected_loss": lambda: expected_loss_values(psa, wtp),
        "evpi": lambda: evpi_values(psa, wtp),
        "evppi_poly": lambda: evppi_values(psa, wtp, ["p_HS1", "c_S1", "u_S1"], "poly", 3),
        "evppi_gam": lambda: evppi_values(psa, wtp, ["p_HS1", "p_S1H"], "gam"),
    }
    assert len(psa_module.wtp_chunks(len(wtp), psa.n_samples)) == 1
    whole = {name: run() for name, run in analyses.items()}
    monkeypatch.setattr(psa_module, "CHUNK_BYTES", rows * 8 * psa.n_samples)
    assert len(psa_module.wtp_chunks(len(wtp), psa.n_samples)) == -(-len(wtp) // rows)
    for name, run in analyses.items():
        assert np.array_equal(run(), whole[name]), name
