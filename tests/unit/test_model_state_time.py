"""The closed-form discounted state time against the cohort trace it
replaces, advanced cycle by cycle in extended precision: typical PSA
samples, arbitrary valid matrices, and eigenvalues that meet."""

from __future__ import annotations

import numpy as np
import pytest

from model.markov import DISCOUNT_RATE, N_CYCLES, discounted_state_time

TOLERANCE = 1e-13  # relative to the sample's largest state time


def traced(a, b, c, d, f, e):
    """Σ_t wᵗ·mₜ over the trace mₜ₊₁ = mₜ·P, in long double, from H."""
    a, b, c, d, f, e = np.broadcast_arrays(*(np.asarray(v, dtype=np.longdouble)
                                             for v in (a, b, c, d, f, e)))
    h, s1, s2 = np.ones_like(a), np.zeros_like(a), np.zeros_like(a)
    w = np.longdouble(1) / (1 + np.longdouble(DISCOUNT_RATE))
    time = np.zeros((3,) + a.shape, dtype=np.longdouble)
    for t in range(1, N_CYCLES + 1):
        h, s1, s2 = h * a + s1 * c, h * b + s1 * d, s1 * f + s2 * e
        time += w**t * np.stack([h, s1, s2])
    total = sum(w**t for t in range(1, N_CYCLES + 1))
    return np.concatenate([time, (total - time.sum(axis=0))[None]])


def assert_matches_trace(a, b, c, d, f, e):
    ours = discounted_state_time(a, b, c, d, f, e)
    exact = traced(a, b, c, d, f, e)
    error = np.abs(ours - exact).max(axis=0) / np.abs(exact).max(axis=0)
    assert error.max() < TOLERANCE, (error.max(), int(error.argmax()))


def matrices(p_HS1, p_S1H, p_S1S2, r_HD=0.002, hr_S1D=3.0, hr_S2D=10.0):
    p_HD, p_S1D, p_S2D = (1 - np.exp(-hr * r_HD) for hr in (1.0, hr_S1D, hr_S2D))
    return ((1 - p_HD) * (1 - p_HS1), (1 - p_HD) * p_HS1, (1 - p_S1D) * p_S1H,
            (1 - p_S1D) * (1 - p_S1H - p_S1S2), (1 - p_S1D) * p_S1S2, 1 - p_S2D)


def test_typical_psa_samples():
    rng = np.random.default_rng(0)
    n = 20_000
    assert_matches_trace(*matrices(rng.beta(30, 170, n), rng.beta(60, 60, n),
                                   rng.beta(84, 716, n)))


def test_arbitrary_valid_matrices():
    rng = np.random.default_rng(1)
    n = 20_000
    p_HS1, p_S1H = rng.uniform(size=(2, n))
    p_S1S2 = rng.uniform(size=n) * (1 - p_S1H)
    assert_matches_trace(*matrices(p_HS1, p_S1H, p_S1S2, rng.uniform(0, 0.5, n),
                                   rng.uniform(0, 5, n), rng.uniform(0, 20, n)))


@pytest.mark.parametrize("gap", [0.0, 1e-15, 1e-12, 1e-9, 1e-7, 3e-7, 1e-5, 1e-4, 1e-3, 1e-2])
def test_eigenvalues_that_meet(gap):
    # S2's survival e next to the H/S1 block's leading eigenvalue λ₁ (as in
    # the original's base case), then all three eigenvalues together
    # (c = 0: λ = a, d).
    a, b, c, d, f = (np.array(v) for v in ([0.85, 0.9, 0.5, 0.9], [0.15, 0.0, 0.3, 0.09],
                                          [0.5, 0.3, 0.2, 0.0], [0.39, 0.5, 0.4, 0.9],
                                          [0.1, 0.1, 0.3, 0.05]))
    lambda1 = (a + d + np.sqrt((a - d) ** 2 + 4 * b * c)) / 2
    for sign in (1, -1):
        assert_matches_trace(a, b, c, d, f, np.clip(lambda1 + sign * gap, 0, 1))
        assert_matches_trace(*(np.array([v]) for v in (0.9, 0.09, 0.0, 0.9 + gap, 0.05,
                                                        0.9 + sign * 2 * gap)))


def test_degenerate_matrices():
    # Nobody moves, everybody dies, nobody leaves H, the S1/S2 corner.
    for entries in ([1, 0, 0, 1, 0, 1], [0, 0, 0, 0, 0, 0], [1, 0, 1, 0, 0, 0],
                    [0, 1, 0, 0, 1, 1], [0, 1, 1, 0, 0, 0], [0.5, 0.5, 0.5, 0.5, 0, 0.5]):
        assert_matches_trace(*(np.array([float(v)]) for v in entries))


def test_shape_broadcasts_over_both_matrices():
    a, b, c, e = (np.full(5, v) for v in (0.85, 0.15, 0.5, 0.98))
    d, f = np.full((2, 5), 0.39), np.full((2, 5), 0.1)
    assert discounted_state_time(a, b, c, d, f, e).shape == (4, 2, 5)
    assert discounted_state_time(a, b, c, d, f, 0.98).shape == (4, 2, 5)


def test_chunks_are_invisible():
    # More samples than one chunk: the same results as one sample at a time,
    # and an invalid matrix is reported for the whole run (first sample,
    # count), not for the chunk it was found in.
    from model import evaluate_psa, markov
    from model.errors import InvalidTransitionMatrixError
    from model.sampling import Samples

    n = 2 * markov.CHUNK_SAMPLES + 10
    rng = np.random.default_rng(3)
    columns = {"p_HS1": rng.beta(30, 170, n), "c_H": rng.gamma(100, 20, n)}
    whole = evaluate_psa(Samples(columns, n)).values
    for row in (0, markov.CHUNK_SAMPLES - 1, markov.CHUNK_SAMPLES, n - 1):
        single = Samples({name: v[row:row + 1] for name, v in columns.items()}, 1)
        np.testing.assert_allclose(evaluate_psa(single).values[0], whole[row], rtol=1e-14)
    invalid = [markov.CHUNK_SAMPLES + 5, markov.CHUNK_SAMPLES + 7, n - 1]
    columns["p_HS1"][invalid] = 1.5
    with pytest.raises(InvalidTransitionMatrixError) as caught:
        evaluate_psa(Samples(columns, n))
    assert caught.value.sample == invalid[0] + 1
    assert caught.value.n_invalid == 3
    assert "3 sample(s) invalid in all" in str(caught.value)
