"""The parameter table: loading, validation and the original's updates."""

from __future__ import annotations

import math

import pandas as pd
import pytest

import model
from model.errors import (
    DistributionParameterError,
    NotEditableError,
    ParameterTableError,
    UnknownDistributionError,
    UpdateFormatError,
)
from model.parameters import default_table_path

HEADER = "parameter,distribution,v1,v2,editable\n"


def write(tmp_path, body, name="table.csv"):
    path = tmp_path / name
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def test_shipped_table_is_the_original_byte_for_byte(reference):
    with open(default_table_path(), "rb") as ours:
        assert ours.read() == (reference / "parameter_distributions.csv").read_bytes()


def test_byte_order_mark_is_handled():
    table = model.read_table().to_frame()
    assert list(table.columns) == ["parameter", "distribution", "v1", "v2", "editable"]
    assert table["parameter"].iloc[0] == "p_HS1"
    assert len(table) == 20
    c_d = table.set_index("parameter").loc["c_D"]
    assert c_d["distribution"] == "fixed" and c_d["v1"] == 0 and math.isnan(c_d["v2"])
    assert table.set_index("parameter").loc["hr_S1S2_trtB", "editable"] == False  # noqa: E712


def test_update_replaces_three_fields_of_an_editable_row_only():
    table = model.read_table().to_frame()
    updated = model.ParameterTable.from_frame(table).update(
        [{"parameter": "p_HS1", "distribution": "normal", "v1": "0.2", "v2": 0.01}]
    ).to_frame()
    row = updated.set_index("parameter").loc["p_HS1"]
    assert (row["distribution"], row["v1"], row["v2"], row["editable"]) == ("normal", 0.2, 0.01, True)
    pd.testing.assert_frame_equal(updated.drop(index=0), table.drop(index=0))
    assert table.loc[0, "distribution"] == "beta"  # the input table is not modified


def test_updates_keep_15_significant_digits_as_r_does():
    updated = model.read_table().update(
        [{"parameter": "c_H", "distribution": "fixed", "v1": 0.12345678901234567, "v2": None}],
    ).to_frame()
    assert updated.set_index("parameter").loc["c_H", "v1"] == 0.123456789012346


def test_updates_accept_a_data_frame():
    updates = pd.DataFrame({"parameter": ["p_HS1"], "distribution": ["beta"], "v1": [25], "v2": [150]})
    # The DataFrame API (model.run) turns them into records.
    updated = model.read_table().update(updates.to_dict(orient="records")).to_frame()
    assert updated.set_index("parameter").loc["p_HS1", "v2"] == 150
    pd.testing.assert_frame_equal(model.run(updates=updates, seed=1, n_samples=5),
                                  model.run(updates=updates.to_dict(orient="records"), seed=1,
                                            n_samples=5))


@pytest.mark.parametrize(
    "update, error, message",
    [
        ({"parameter": "p_HS1", "distribution": "weibull", "v1": 1, "v2": 1},
         UnknownDistributionError, "unknown distribution 'weibull'"),
        ({"parameter": "p_HS1", "distribution": "beta", "v1": None, "v2": 1},
         DistributionParameterError, "needs v1"),
        ({"parameter": "p_HS1", "distribution": "beta", "v1": 2},
         DistributionParameterError, "needs v2"),
        ({"parameter": "p_HS1", "distribution": "beta", "v1": "two", "v2": 1},
         DistributionParameterError, "v1 must be a number, got 'two'"),
        ({"parameter": "p_HS1", "distribution": "beta", "v1": True, "v2": 1},
         DistributionParameterError, "v1 must be a number"),
        ({"parameter": "p_HS1", "distribution": "beta", "v1": 0, "v2": 1},
         DistributionParameterError, "beta shapes must be > 0"),
        ({"parameter": "p_HS1", "distribution": "beta", "v1": 2, "v2": -1},
         DistributionParameterError, "beta shapes must be > 0"),
        ({"parameter": "c_H", "distribution": "gamma", "v1": 2, "v2": 0},
         DistributionParameterError, "gamma shape and scale must be > 0"),
        ({"parameter": "c_H", "distribution": "normal", "v1": 2, "v2": -0.1},
         DistributionParameterError, "sd must be >= 0"),
        ({"parameter": "c_H", "distribution": "rlnorm", "v1": 2, "v2": -0.1},
         DistributionParameterError, "sdlog must be >= 0"),
        ({"parameter": "c_H", "distribution": "random uniform", "v1": 5, "v2": 1},
         DistributionParameterError, "min <= max"),
        ({"parameter": "c_H", "distribution": "fixed", "v1": "inf", "v2": None},
         DistributionParameterError, "must be finite"),
        ({"parameter": "c_H", "v1": 1, "v2": 1},
         UpdateFormatError, "lacks field"),
        ({"parameter": 3, "distribution": "beta", "v1": 1, "v2": 1},
         UpdateFormatError, "must be strings"),
    ],
)
def test_bad_updates_name_the_problem(update, error, message):
    with pytest.raises(error, match=message):
        model.read_table().update([update])


NOT_EDITABLE = [(name, family, v1, v2) for name, family, v1, v2, editable in model.read_table().rows() if not editable]


@pytest.mark.parametrize(("name", "family", "v1", "v2"), NOT_EDITABLE, ids=[row[0] for row in NOT_EDITABLE])
def test_a_parameter_not_editable_is_refused_even_in_its_own_distribution_family(name, family, v1, v2):
    """The data owner's F stands whatever the update says: the same family
    (even the same values) is refused like any other, naming the parameter,
    and the update's place in the list."""
    table = model.read_table()
    same_family = {"parameter": name, "distribution": family, "v1": v1 * 1.5, "v2": v2}
    for updates in ([same_family], [{**same_family, "v1": v1}], [{"parameter": "p_HS1", "distribution": "beta",
                                                                  "v1": 1, "v2": 1}, same_family]):
        with pytest.raises(NotEditableError, match=f"parameter '{name}' is not editable") as refused:
            table.update(updates)
        assert type(refused.value) is NotEditableError  # not "unknown parameter"
        assert refused.value.update == len(updates)
    assert table.to_frame().equals(model.read_table().to_frame())


@pytest.mark.parametrize("updates", [{"parameter": "p_HS1"}, "p_HS1", [1, 2]])
def test_updates_must_be_a_list_of_records(updates):
    with pytest.raises(UpdateFormatError):
        model.read_table().update(updates)


def test_no_updates_is_the_table_itself():
    table = model.read_table()
    assert table.update([]) is table
    assert table.update(None) is table


@pytest.mark.parametrize(
    "body, message",
    [
        ("p_HS1,beta,1,1,T\np_HS1,beta,1,1,T\n", "listed twice"),
        ("p_HS1,beta,1,1,yes\n", "editable must be T or F"),
        ("p_HS1,bogus,1,1,T\n", "unknown distribution"),
        (",beta,1,1,T\n", "no parameter name"),
        ("", "no rows"),
    ],
)
def test_bad_tables_are_refused(tmp_path, body, message):
    with pytest.raises(model.ModelError, match=message):
        model.read_table(write(tmp_path, body)).to_frame()


def test_table_missing_a_column(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("parameter,distribution,v1\np_HS1,beta,1\n")
    with pytest.raises(ParameterTableError, match="lacks column"):
        model.read_table(path).to_frame()


def test_table_accepts_true_false_words(tmp_path):
    table = model.read_table(write(tmp_path, "p_HS1,beta,1,1,TRUE\nc_H,fixed,3,,FALSE\n")).to_frame()
    assert list(table["editable"]) == [True, False]


# --- reading the CSV without pandas ------------------------------------------------------

def read_with_pandas(path):
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig",
                      skipinitialspace=True)
    return model.ParameterTable.from_frame(raw).to_frame()


def test_csv_reader_agrees_with_pandas_on_every_reference_table(reference):
    tables = [reference / "parameter_distributions.csv",
              *sorted(reference.glob("cases/*/inputs.csv"))]
    assert len(tables) > 1
    for path in tables:
        pd.testing.assert_frame_equal(model.read_table(path).to_frame(), read_with_pandas(path))


def test_read_table_is_load_parameters_without_pandas():
    table = model.read_table()
    assert isinstance(table, model.ParameterTable) and len(table) == 20
    pd.testing.assert_frame_equal(table.to_frame(), model.read_table().to_frame())
    assert model.ParameterTable.from_frame(table.to_frame()) == table
    assert table.editable_parameters == list(
        model.read_table().to_frame().query("editable")["parameter"])


def test_csv_reader_takes_open_files_text_or_binary():
    path = default_table_path()
    with open(path, "rb") as binary, open(path, encoding="utf-8") as text:  # BOM kept
        assert model.read_table(binary) == model.read_table(text) == model.read_table(path)


def test_csv_reader_skips_blank_lines_and_reads_quotes(tmp_path):
    body = '\n"p_HS1", beta ,"1",2,T\n\n  \n"c_H","fixed","3,5e3",,F\n'
    with pytest.raises(DistributionParameterError, match="'3,5e3'"):
        model.read_table(write(tmp_path, body))
    table = model.read_table(write(tmp_path, body.replace("3,5e3", "3.5e3")))
    assert table.parameter == ("p_HS1", "c_H")
    assert table.distribution == ("beta", "fixed")
    assert table.v1 == (1.0, 3500.0) and math.isnan(table.v2[1])


def test_short_rows_are_padded_and_long_rows_refused(tmp_path):
    # A missing v2 of a fixed value is fine; a missing editable flag is named.
    with pytest.raises(ParameterTableError, match="'c_H': editable must be T or F, got ''"):
        model.read_table(write(tmp_path, "c_H,fixed,3\n"))
    with pytest.raises(ParameterTableError, match="row 3 .* has 6 fields, the header has 5"):
        model.read_table(write(tmp_path, "c_H,fixed,3,,F\nc_S1,fixed,3,,F,extra\n"))


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "no header line"),
        ("\n\n", "no header line"),
        ("parameter,distribution,v1,v1,v2,editable\n", "v1 more than once"),
        (b"parameter,distribution,v1,v2,editable\np_\xff,beta,1,1,T\n", "cannot read"),
    ],
)
def test_unreadable_tables_name_the_problem(tmp_path, text, message):
    path = tmp_path / "t.csv"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ParameterTableError, match=message):
        model.read_table(path)


def test_updates_of_a_parameter_table_give_a_parameter_table():
    table = model.read_table()
    updated = table.update([UPDATE := {"parameter": "p_HS1", "distribution": "beta",
                                       "v1": 25, "v2": 150}])
    assert isinstance(updated, model.ParameterTable)
    assert (updated.v1[0], updated.v2[0]) == (25.0, 150.0) and table.v1[0] != 25.0
    pd.testing.assert_frame_equal(
        updated.to_frame(),
        model.ParameterTable.from_frame(model.read_table().to_frame()).update([UPDATE]).to_frame())


def test_a_data_frame_with_a_column_twice_is_refused():
    raw = pd.DataFrame([["p_HS1", "beta", "1", "2", "3", "T"]],
                       columns=["parameter", "distribution", "v1", " v1", "v2", "editable"])
    with pytest.raises(ParameterTableError, match="v1 more than once"):
        model.ParameterTable.from_frame(raw)
