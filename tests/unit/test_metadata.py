"""Dataset metadata (model/metadata.py): the units a dataset's figures are
in, read from its NAME.meta.json or the documented defaults, and returned
by POST /analysis in method.units."""

from __future__ import annotations

import json
import shutil

import pytest

from model.parameters import default_table_path
from model.metadata import DEFAULTS, Metadata, MetadataError, read_metadata, sidecar_path
from service.settings import Settings
from tests.support.client import app_client
from tests.unit.test_analysis_service import KEY, answer_schema

TABLE = default_table_path()


def test_a_table_without_a_sidecar_gets_the_documented_defaults(tmp_path):
    table = tmp_path / "t.csv"
    shutil.copy(TABLE, table)
    record = read_metadata(table).to_record()
    assert record == {
        "currency": "GBP", "currency_symbol": "£", "price_year": None, "effect": "QALY",
        "perspective": None, "per": "patient", "cycles": 75, "cycle_length": "year",
        "discount_costs": 0.03, "discount_effects": 0.03, "population": None,
        "source": "defaults"}


def test_the_sidecar_is_read(tmp_path):
    table = tmp_path / "t.csv"
    shutil.copy(TABLE, table)
    assert sidecar_path(table) == str(tmp_path / "t.meta.json")
    (tmp_path / "t.meta.json").write_text(json.dumps(
        {"currency": "EUR", "currency_symbol": "€", "price_year": 2024,
         "population": {"size": 5000, "horizon": 5, "discount": 0.035}}), encoding="utf-8")
    metadata = read_metadata(table)
    assert (metadata.currency, metadata.currency_symbol, metadata.price_year) == ("EUR", "€", 2024)
    assert metadata.source == "dataset" and metadata.effect == "QALY"
    assert metadata.default_population().horizon == 5
    assert metadata.to_record()["population"] == {"size": 5000.0, "horizon": 5, "discount": 0.035}


@pytest.mark.parametrize("content, message", [
    ('{"currency": "pounds"}', "ISO 4217"),
    ('{"price_year": "2024"}', "price_year"),
    ('{"colour": "red"}', "unknown key"),
    ('{"population": {"size": -1}}', "population"),
    ('{"population": {"size": 10, "horizon": 0.5}}', "horizon"),
    ('{"currency_symbol": ""}', "currency_symbol"),
    ("[1]", "JSON object"),
    ("{not json", "not JSON"),
    ('{"population": {"size": NaN}}', "NaN"),
])
def test_a_bad_sidecar_says_what_is_wrong(tmp_path, content, message):
    table = tmp_path / "t.csv"
    shutil.copy(TABLE, table)
    (tmp_path / "t.meta.json").write_text(content, encoding="utf-8")
    with pytest.raises(MetadataError, match=message):
        read_metadata(table)


def test_a_sidecar_linked_from_outside_the_folder_is_not_read(tmp_path):
    folder, outside = tmp_path / "data", tmp_path / "outside.json"
    folder.mkdir()
    shutil.copy(TABLE, folder / "t.csv")
    outside.write_text('{"currency": "USD", "currency_symbol": "$"}', encoding="utf-8")
    (folder / "t.meta.json").symlink_to(outside)
    assert read_metadata(folder / "t.csv", root=str(folder)) == DEFAULTS
    assert read_metadata(folder / "t.csv").currency == "USD"  # no root: the caller's own file


def test_the_built_in_dataset_states_its_units():
    metadata = read_metadata(TABLE)
    assert metadata.source == "dataset" and metadata.currency == "GBP"
    assert metadata.perspective


def analysis(client, **body):
    answer = client.simulate_post("/analysis", json={"seed": 1, "wtp": [100000], **body})
    assert answer.status_code == 200, answer.text
    answer_schema().validate(answer.json)
    return answer.json


def test_analysis_returns_the_dataset_units_and_its_population_default(tmp_path):
    shutil.copy(TABLE, tmp_path / "parameter_distributions.csv")
    shutil.copy(TABLE, tmp_path / "other.csv")
    (tmp_path / "other.meta.json").write_text(json.dumps(
        {"currency": "EUR", "currency_symbol": "€", "price_year": 2025,
         "population": {"size": 1000}}), encoding="utf-8")
    client = app_client(Settings(api_keys=(KEY,), data_dir=tmp_path), key=KEY)
    plain = analysis(client)
    assert plain["method"]["units"]["source"] == "defaults"
    assert "Population_EVPI" not in plain["evpi"][0]
    other = analysis(client, path_to_psa_inputs="other.csv")
    units = other["method"]["units"]
    assert (units["currency"], units["currency_symbol"], units["price_year"]) == ("EUR", "€", 2025)
    # The dataset's population default applies when the request gives none ...
    assert other["method"]["population"]["effective_population"] == 1000
    assert other["evpi"][0]["Population_EVPI"] == pytest.approx(other["evpi"][0]["EVPI"] * 1000)
    # ... and the request's own wins.
    asked = analysis(client, path_to_psa_inputs="other.csv", population=10)
    assert asked["method"]["population"]["effective_population"] == 10
    # A data owner who edits the units only is heard on the next request.
    (tmp_path / "other.meta.json").write_text('{"currency": "USD", "currency_symbol": "$"}',
                                              encoding="utf-8")
    assert analysis(client, path_to_psa_inputs="other.csv")["method"]["units"]["currency"] == "USD"
    # A bad sidecar is the data owner's problem: 409, as a bad table.
    (tmp_path / "other.meta.json").write_text('{"currency": 1}', encoding="utf-8")
    bad = client.simulate_post("/analysis", json={"path_to_psa_inputs": "other.csv"})
    assert bad.status_code == 409 and "contact the data owner" in bad.json["error"]


def test_metadata_record_is_immutable_and_equal_by_value():
    assert Metadata() == DEFAULTS
    with pytest.raises(AttributeError):
        DEFAULTS.currency = "USD"
