"""The results writers: every double reads back identical, in CSV and JSON,
whole or streamed in blocks; non-finite values are refused, not written."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

import model
from model.results import iter_csv, number_blocks
from service.resources.run_model import iter_json_records

EXTREMES = [0.0, -0.0, 1.0, -1.5, 0.1, 1 / 3, 2**-1074, 2.2250738585072014e-308,
            1.7976931348623157e308, -1e-300, 1e16, 1e17, 123456789012345678.0, 112005.36191397]


def frame(values):
    return pd.DataFrame(np.asarray(values, dtype=float).reshape(-1, 6),
                        columns=list(model.RESULT_COLUMNS))


def test_every_kind_of_double_round_trips():
    rng = np.random.default_rng(0)
    values = np.concatenate([
        np.resize(EXTREMES, 18 * 6),
        rng.standard_normal(6000) * 10.0 ** rng.integers(-300, 300, 6000),
        rng.uniform(0, 1e6, 6000),
    ])
    results = frame(values)
    back = pd.read_csv(io.StringIO(model.format_csv(results)))
    np.testing.assert_array_equal(back.to_numpy(), results.to_numpy())
    records = json.loads(b"".join(iter_json_records(results.to_numpy())))
    np.testing.assert_array_equal([[r[c] for c in model.RESULT_COLUMNS] for r in records],
                                  results.to_numpy())


def test_blocks_join_to_the_whole():
    results = model.run_psa(seed=2, n_samples=1000)
    assert b"".join(iter_csv(results, rows=7)).decode() == model.format_csv(results)
    assert [n for n, _ in number_blocks(results.values, rows=400)] == [400, 400, 200]
    whole = json.loads(b"".join(iter_json_records(results.values)))
    assert len(whole) == 1000 and list(whole[0]) == list(model.RESULT_COLUMNS)


def test_no_rows_is_the_header_alone():
    assert model.format_csv(frame([])) == ",".join(model.RESULT_COLUMNS) + "\n"
    assert b"".join(iter_json_records(np.empty((0, 6)))) == b"[]"


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_are_refused(bad):
    values = np.ones((3, 6))
    values[1, 4] = bad
    with pytest.raises(ValueError, match="row 2"):
        model.format_csv(frame(values))
