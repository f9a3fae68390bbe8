"""The committee report's own numbers and words (living_hta_client/report.py,
changes.py), without a service: the NMB table equal to dampack's figures on
the reference cases, the narrative and sections, the inputs that changed,
and never a parameter the key may not see."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from living_hta_client import changes, report
from living_hta_client.cli import main
from model.analysis import PSA, Population, analyse
from model.metadata import read_metadata
from model.parameters import default_table_path
from tests.support.paths import REFERENCE

CASES = ("default", "seed_client", "api_default")
WTP = 100000.0


def rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def case(name):
    results = [{k: float(v) for k, v in r.items()} for r in rows(
        REFERENCE / "cases" / name / "results.csv")]
    return results, REFERENCE / "analysis" / name


@pytest.mark.parametrize("name", CASES)
def test_nmb_table_equals_dampack(name):
    samples, reference = case(name)
    analysis = {"method": {"strategies": ["No_Treatment", "Treatment_A", "Treatment_B"]}}
    table = {r["Strategy"]: r for r in report.sample_statistics(analysis, samples, WTP)}
    summary = {r["Strategy"]: r for r in rows(reference / "summary.csv")}
    ceac = {r["Strategy"]: float(r["Proportion"]) for r in rows(reference / "ceac.csv")
            if float(r["WTP"]) == WTP}
    loss = {r["Strategy"]: float(r["Expected_Loss"]) for r in rows(reference / "exp_loss.csv")
            if float(r["WTP"]) == WTP}
    n = len(samples)
    for strategy, row in table.items():
        mean = WTP * float(summary[strategy]["meanEffect"]) - float(summary[strategy]["meanCost"])
        assert row["NMB"] == pytest.approx(mean, rel=1e-9)
        # Tolerances: shared/reference/analysis/README.md (R breaks near-ties at random).
        assert row["Probability_CE"] == pytest.approx(ceac[strategy], abs=0.002)
        assert row["Expected_Loss"] == pytest.approx(loss[strategy], rel=1e-4, abs=1)
        assert row["MCSE_Cost"] == pytest.approx(float(summary[strategy]["sdCost"]) / n ** 0.5,
                                                 rel=1e-9)
        assert row["MCSE_Effect"] == pytest.approx(
            float(summary[strategy]["sdEffect"]) / n ** 0.5, rel=1e-9)


def analysed(population=None):
    samples, _ = case("default")
    strategies = ["No_Treatment", "Treatment_A", "Treatment_B"]
    costs = [[r["C_" + s] for s in strategies] for r in samples]
    effects = [[r["E_" + s] for s in strategies] for r in samples]
    psa = PSA(np.array(costs), np.array(effects), strategies)
    answer = analyse(psa, [80000, WTP, 120000], units=read_metadata(default_table_path()),
                     population=None if population is None else Population(*population))
    answer["method"].update(seed=1, dataset="parameter_distributions.csv")
    return answer, samples


INPUTS = [{"parameter": "p_HS1", "distribution": "beta", "v1": 25.0, "v2": 150.0,
           "updated": True},
          {"parameter": "ic_D", "distribution": "gamma", "v1": 1.0, "v2": 5.0, "updated": False}]


def rendered(population=(10000, 10, 0.035), previous_inputs=None):
    analysis, samples = analysed(population)
    ranking = [{"parameter": "p_HS1", "WTP": WTP, "EVPPI": 120.5},
               {"parameter": "ic_D", "WTP": WTP, "EVPPI": 0.0}]
    decision = changes.decision_of(analysis, WTP)
    summary = {"decision": decision, "inputs": INPUTS, "comparison": None,
               "value_of_information": changes.value_of_information(analysis, WTP, ranking),
               "provenance": {"generated_at": "2026-12-06T00:00:00+00:00",
                              "endpoint": "https://x/analysis", "dataset": "d.csv", "seed": 1}}
    if previous_inputs is not None:
        summary["comparison"] = {**changes.compare(decision, decision, changes.Thresholds()),
                                 "input_changes": changes.compare_inputs(previous_inputs, INPUTS)}
    return report.render(analysis, samples, summary, ["/* plotly */", "/* charts */"], ranking)


def test_every_section_in_order_with_the_narrative_in_units():
    html = rendered()
    positions = [html.index(f"<h2>{heading}</h2>") for heading in report.SECTIONS]
    assert positions == sorted(positions)
    # The default case: Treatment_A at £100,000 per QALY, ICER about £99,000 (README).
    assert ("At a willingness to pay of £100,000 per QALY, <strong>Treatment_A</strong> has the "
            "highest expected net monetary benefit") in html
    assert "an ICER of £99," in html and "per QALY, below the threshold" in html
    assert "Treatment_B is dominated or extendedly dominated" in html
    assert "10,000 people a year for 10 years, later years discounted at 3.5 %" in html
    assert "research is most worth on p_HS1 (£120)" in html
    assert "health care payer" in html  # the dataset's perspective, in the methods
    for figure in report.FIGURES:
        assert f'<div id="{figure}" class="figure"></div>' in html


def test_without_a_population_the_report_says_so():
    html = rendered(population=None)
    assert "No population was given" in html
    assert "<th>Population (£)</th>" not in html


def test_the_inputs_that_changed_are_listed():
    before = [{**INPUTS[0], "v1": 30.0, "v2": 170.0}, {"parameter": "p_S1H",
                                                      "distribution": "beta", "v1": 1.0,
                                                      "v2": 2.0, "updated": False}]
    found = changes.compare_inputs(before, INPUTS)
    assert [c["message"] for c in found] == [
        "p_HS1: beta(30, 170) → beta(25, 150)", "ic_D: absent → gamma(1, 5)",
        "p_S1H: beta(1, 2) → absent"]
    assert changes.compare_inputs(INPUTS, INPUTS) == []
    assert changes.compare_inputs(None, INPUTS) == []  # a previous summary of format 1
    html = rendered(previous_inputs=before)
    assert "<li>p_HS1: beta(30, 170) → beta(25, 150)</li>" in html


def test_quirks_name_only_the_parameters_the_key_may_see():
    html = rendered()
    assert "(ic_D among those shown)" in html
    for hidden in ("ic_HS1", "hr_S1,", "du_HS1"):
        assert hidden not in html


@pytest.mark.parametrize("arguments, message", [
    (["--horizon", "5"], "--horizon and --discount need --population"),
    (["--discount", "0.035"], "--horizon and --discount need --population"),
    (["--twsa", "p_HS1"], "--twsa 'p_HS1': give two different parameters, A,B"),
    (["--twsa", "p_HS1,p_HS1"], "give two different parameters"),
])
def test_report_usage_errors_before_anything_is_asked(tmp_path, monkeypatch, capsys,
                                                      arguments, message):
    monkeypatch.setenv("LIVING_HTA_KEY", "some-key")
    # An address nothing listens on: the usage error comes first, nothing is sent.
    assert main(["report", "--url", "http://127.0.0.1:9", "--out", str(tmp_path / "o"),
                 *arguments]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
