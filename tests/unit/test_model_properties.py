"""Property tests: whatever table, updates or samples a client sends, the
model answers with results or a ModelError — never another exception."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import model
from model.distributions import DISTRIBUTIONS
from model.markov import BASE_CASE

NAMES = st.sampled_from(list(BASE_CASE) + ["hr_S1", "du_HS1", "x", "", " p_HS1 "])
DISTS = st.sampled_from(list(DISTRIBUTIONS) + ["Beta", "weibull", "", "fixed "])
NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-2, max_value=2),
    st.integers(-10, 1000),
    st.sampled_from(["", "NA", "abc", "1e5", None, True]),
)
RECORD = st.fixed_dictionaries(
    {"parameter": st.one_of(NAMES, st.integers()), "distribution": DISTS, "v1": NUMBERS},
    optional={"v2": NUMBERS},
)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def result_or_model_error(fn):
    try:
        result = fn()
    except model.ModelError as error:
        assert str(error)  # a message a user can read
        return None
    assert list(result.columns) == list(model.RESULT_COLUMNS)
    assert np.isfinite(result.to_numpy()).all()
    return result


@FAST
@given(st.lists(RECORD, max_size=4))
def test_random_updates(updates):
    result_or_model_error(lambda: model.run(updates=updates, n_samples=20, seed=0))


@FAST
@given(
    st.lists(
        st.tuples(NAMES, DISTS, NUMBERS, NUMBERS, st.sampled_from(["T", "F", "TRUE", "x"])),
        min_size=1, max_size=8,
    )
)
def test_random_tables(rows):
    raw = pd.DataFrame(
        [[str(c) if c is not None else "" for c in row] for row in rows],
        columns=["parameter", "distribution", "v1", "v2", "editable"],
    )
    result_or_model_error(
        lambda: model.evaluate(
            model.draw(model.ParameterTable.from_frame(raw), n_samples=5, seed=1).to_frame())
    )


@FAST
@given(
    st.dictionaries(
        NAMES,
        st.lists(st.one_of(st.floats(), st.floats(-1, 2), st.text(max_size=3)), min_size=3, max_size=3),
        max_size=6,
    )
)
def test_random_samples(columns):
    samples = pd.DataFrame(columns) if columns else pd.DataFrame(index=range(3))
    result = result_or_model_error(lambda: model.evaluate(samples))
    if result is not None:
        assert len(result) == 3


def test_probabilities_at_the_edges_are_valid():
    samples = pd.DataFrame({"p_HS1": [0.0, 1.0], "p_S1H": [0.0, 0.5], "p_S1S2": [0.0, 0.5]})
    result = model.evaluate(samples)
    assert np.isfinite(result.to_numpy()).all()
    assert not math.isclose(result.loc[0, "C_No_Treatment"], result.loc[1, "C_No_Treatment"])
