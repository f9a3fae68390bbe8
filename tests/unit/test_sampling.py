"""PSA sampling: reproducible, and each distribution parametrised as R's."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import model

N = 200_000  # draws per moment check: Monte-Carlo error ~0.2 % of the sd


def table(rows):
    return model.ParameterTable.from_frame(pd.DataFrame(
        [dict(parameter=p, distribution=d, v1=v1, v2=v2, editable=True) for p, d, v1, v2 in rows]
    ))


def sample(inputs, n_samples=model.DEFAULT_SAMPLES, seed=None):
    return model.draw(inputs, n_samples, seed).to_frame()


def test_same_seed_same_samples():
    inputs = model.read_table()
    a = sample(inputs, seed=42)
    b = sample(inputs, seed=42)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(model.run(seed=42), model.run(seed=42))


def test_different_seeds_and_no_seed_differ():
    inputs = model.read_table()
    assert not sample(inputs, seed=1).equals(sample(inputs, seed=2))
    assert not sample(inputs).equals(sample(inputs))


def test_one_column_per_row_in_row_order():
    inputs = model.read_table()
    samples = sample(inputs, n_samples=7, seed=0)
    assert list(samples.columns) == list(inputs.parameter)
    assert samples.shape == (7, 20)
    assert (samples["c_D"] == 0).all() and (samples["u_D"] == 0).all()


def mean_var_check(draws, mean, var):
    """Sample mean and variance within 6 standard errors of the textbook values."""
    n = len(draws)
    assert abs(draws.mean() - mean) < 6 * math.sqrt(var / n), (draws.mean(), mean)
    # se of the sample variance ≈ var * sqrt(2/n) for near-normal tails; the
    # lognormal/gamma tails are heavier, so allow a wider band via the 4th moment.
    centred = draws - draws.mean()
    se_var = math.sqrt(max(np.mean(centred**4) - var**2, 0.0) / n)
    assert abs(draws.var() - var) < 6 * se_var, (draws.var(), var)


def draw(distribution, v1, v2):
    return sample(table([("x", distribution, v1, v2)]), n_samples=N, seed=2024)["x"].to_numpy()


def test_beta_shape1_shape2():
    a, b = 30.0, 170.0
    mean_var_check(draw("beta", a, b), a / (a + b), a * b / ((a + b) ** 2 * (a + b + 1)))


def test_gamma_is_shape_and_scale_not_rate():
    k, theta = 177.8, 22.5  # c_S1's: mean 4000.5
    draws = draw("gamma", k, theta)
    mean_var_check(draws, k * theta, k * theta**2)
    assert abs(draws.mean() - k / theta) > 1000  # a rate parametrisation would give ~7.9


def test_normal_mean_sd():
    mean_var_check(draw("normal", 5.0, 2.0), 5.0, 4.0)  # sd 2, so variance 4


def test_rlnorm_meanlog_sdlog():
    mu, sigma = 1.098612, 0.1
    mean_var_check(
        draw("rlnorm", mu, sigma),
        math.exp(mu + sigma**2 / 2),
        (math.exp(sigma**2) - 1) * math.exp(2 * mu + sigma**2),
    )


def test_random_uniform_min_max():
    lo, hi = 2.0, 8.0
    draws = draw("random uniform", lo, hi)
    mean_var_check(draws, (lo + hi) / 2, (hi - lo) ** 2 / 12)
    assert draws.min() >= lo and draws.max() < hi


def test_fixed_repeats_v1_and_ignores_v2():
    draws = draw("fixed", 0.25, float("nan"))
    assert (draws == 0.25).all()


def test_updated_distribution_is_sampled():
    update = [{"parameter": "c_H", "distribution": "fixed", "v1": 1234.5, "v2": None}]
    inputs = model.read_table().update(update)
    assert (sample(inputs, n_samples=10, seed=1)["c_H"] == 1234.5).all()


@pytest.mark.parametrize("n", [0, -3])
def test_sample_count_must_be_positive(n):
    with pytest.raises(ValueError):
        sample(model.read_table(), n_samples=n)


def test_the_seed_used_is_kept_and_repeats_the_run():
    first = model.run_psa(n_samples=20)
    assert isinstance(first.seed, int) and 0 <= first.seed < 2**63
    assert np.array_equal(model.run_psa(seed=first.seed, n_samples=20).values, first.values)
    assert model.run_psa(seed=5, n_samples=3).seed == 5
    assert model.run_psa(seed=np.random.default_rng(5), n_samples=3).seed is None


def test_results_keep_the_samples_behind_each_row():
    results = model.run_psa(seed=4, n_samples=30)
    assert results.samples.names == model.read_table().parameter
    assert all(values.shape == (30,) for values in results.samples.columns.values())
    assert np.array_equal(model.evaluate_psa(results.samples).values, results.values)
    assert np.array_equal(np.hstack([results.costs, results.effects]), results.values)


@pytest.mark.parametrize("distribution", ["normal", "rlnorm"])
def test_a_negative_zero_sd_is_a_zero_sd(distribution):
    # -0.0 passes "sd >= 0", and NumPy refused its sign bit (issue 15, item 1).
    draws = draw(distribution, 0.5, -0.0)[:10]
    assert (draws == draws[0]).all()
    assert draws[0] == (0.5 if distribution == "normal" else math.exp(0.5))
