"""One self-contained HTML file a decision committee can read: a summary
in words (the decision, how uncertain it is, what further research could
be worth), what changed since the previous run (inputs and outputs), the
results with their units, the uncertainty, the value of information per
patient and for the population, the sensitivity analyses, the methods,
the inputs (only those the key may see), the caveats and the provenance.

The figures are drawn, when the file is opened, by the same plotly.js and
chart definitions (charts.js) as the service's page, fetched from the
service the report is made against and embedded in the file with the data:
it opens offline, each figure's toolbar saves it as PNG, and it prints to
PDF (A4; figures at a fixed width, never split across pages).
The tables and the text are plain HTML, readable without scripts.
"""

from __future__ import annotations

import json
import re
from html import escape
from typing import Any

ICER_COLUMNS = ("Strategy", "Cost", "Lower_95_Cost", "Upper_95_Cost", "Effect", "Lower_95_Effect",
                "Upper_95_Effect", "Inc_Cost", "Inc_Effect", "ICER", "Status")
# Each figure's element, under the heading it belongs to.
FIGURES = ("plane", "ceac", "loss", "evpi", "evppi", "ranking", "tornado", "optimal", "twsa")
SECTION_FIGURES = {"uncertainty": ("plane", "ceac", "loss"),
                   "research": ("evpi", "evppi", "ranking"),
                   "sensitivity": ("tornado", "optimal", "twsa")}
# The section headings, in order (tests/service/test_report.py checks each in the PDF).
SECTIONS = ("Summary for the committee", "What changed", "Results", "Uncertainty",
            "Value of further research", "Sensitivity", "Methods", "Inputs", "Caveats",
            "Provenance")
# The Sick-Sicker model's known quirks, reproduced on purpose from the R original
# (the service's model/markov.py); parameters named only when the key may see them.
QUIRKS = ("the costs and utilities of the S1 and S2 states are passed to the model swapped, "
          "as the original does",
          "cycle 0 is not counted and there is no half-cycle correction",
          "some sampled parameters are never used by the model{unused}: their EVPPI and "
          "one-way sensitivity are zero but for regression noise")
UNUSED = ("hr_S1", "hr_S2", "du_HS1", "ic_HS1", "ic_D")

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 800px; margin: 1em auto; padding: 0 1em;
       color: #222; line-height: 1.4; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: right; vertical-align: top; }
th:first-child, td:first-child { text-align: left; }
.status { padding: 0.6em 1em; border: 1px solid; }
.status.unchanged, .status.first-run { background: #eef7ee; border-color: #9c9; }
.status.changed { background: #fff8e5; border-color: #e5c160; }
.status.decision-changed { background: #fdecec; border-color: #e08080; }
.figure { width: 760px; height: 430px; break-inside: avoid; page-break-inside: avoid; }
.note { color: #555; font-size: 0.9em; }
code { font-size: 0.9em; }
#provenance td { text-align: left; }
h2 { break-after: avoid; page-break-after: avoid; margin-top: 1.4em; }
@page { size: A4; margin: 12mm; }
@media print { body { max-width: none; margin: 0; } .status { break-inside: avoid; }
               .modebar-container { display: none; } }
"""


class Units:
    """Labels from the analysis's method.units (the dataset's metadata)."""

    def __init__(self, units: dict | None):
        units = units or {}
        self.record = units
        self.symbol = units.get("currency_symbol", "")
        self.currency = units.get("currency", "")
        self.effect = units.get("effect", "QALY")
        self.per = units.get("per", "patient")

    def money(self, value: float | None) -> str:
        if value is None:
            return "not available"
        return ("−" if value < 0 else "") + f"{self.symbol}{abs(value):,.0f}"

    def per_effect(self, value: float | None) -> str:
        return f"{self.money(value)} per {self.effect}"


def cell_number(column: str, value: Any) -> str:
    """As the page shows it: effects to 3 decimals, money to whole units."""
    if value is None:
        return ""
    if isinstance(value, str):
        return escape(value)
    if column == "MCSE_Effect":  # a small standard error: more digits
        return f"{value:,.4f}"
    return (f"{value:,.3f}" if "Effect" in column or column.startswith("Probability")
            else f"{value:,.0f}")


def data_table(rows: list[dict], columns: tuple[str, ...], headings: dict[str, str],
               table_id: str) -> str:
    head = "".join(f"<th>{escape(headings.get(c, c.replace('_', ' ')))}</th>" for c in columns)
    lines = []
    for row in rows:
        cells = "".join(
            f'<td data-column="{c}"'
            + (f' data-value="{row[c]!r}"' if isinstance(row.get(c), float) else "")
            + f">{cell_number(c, row.get(c))}</td>" for c in columns)
        lines.append(f"<tr>{cells}</tr>")
    return (f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{"".join(lines)}'
            "</tbody></table>")


def headings(units: Units) -> dict[str, str]:
    money, effects = f" ({units.symbol})", f" ({units.effect}s)"
    return {"Cost": "Cost" + money, "Lower_95_Cost": "2.5 %", "Upper_95_Cost": "97.5 %",
            "Effect": "Effect" + effects, "Lower_95_Effect": "2.5 %", "Upper_95_Effect": "97.5 %",
            "Inc_Cost": "Inc. cost" + money, "Inc_Effect": "Inc. effect" + effects,
            "ICER": f"ICER ({units.symbol} per {units.effect})",
            "NMB": "Expected NMB" + money, "Lower_95_NMB": "2.5 %", "Upper_95_NMB": "97.5 %",
            "Probability_CE": "Probability cost-effective", "Expected_Loss": "Expected loss" + money,
            "MCSE_Cost": "MCSE of mean cost" + money, "MCSE_Effect": "MCSE of mean effect" + effects,
            "MCSE_NMB": "MCSE of expected NMB" + money}


def icer_table(analysis: dict, units: Units) -> str:
    return (data_table(analysis["icers"], ICER_COLUMNS, headings(units), "icers")
            + "<p class=\"note\">Cost and effect: means over the PSA's samples with their 2.5 % and "
              "97.5 % quantiles. Increments and ICERs against the previous non-dominated "
              "strategy. ND: not dominated; D: dominated; ED: extendedly dominated.</p>")


def key_value_table(items: dict[str, Any], table_id: str) -> str:
    rows = "".join(
        f"<tr><th>{escape(str(k))}</th><td><code>{escape(_text(v))}</code></td></tr>"
        for k, v in items.items())
    return f'<table id="{table_id}">{rows}</table>'


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _quantile(values: list[float], p: float) -> float:
    """R's default quantile (type 7), as the analyses use."""
    ordered = sorted(values)
    h = (len(ordered) - 1) * p
    low = int(h)
    if low + 1 >= len(ordered):
        return ordered[low]
    return ordered[low] + (h - low) * (ordered[low + 1] - ordered[low])


def _sd(values: list[float]) -> float:
    mean = sum(values) / len(values)
    return (sum((v - mean) ** 2 for v in values) / max(len(values) - 1, 1)) ** 0.5


def sample_statistics(analysis: dict, samples: list[dict], wtp: float) -> list[dict]:
    """Per strategy at `wtp`: expected NMB with its 95 % interval, the
    probability of the highest NMB (the first strategy wins an exact tie),
    the expected loss, and the Monte Carlo standard errors of the means."""
    names = analysis["method"]["strategies"]
    nmb = {s: [wtp * r["E_" + s] - r["C_" + s] for r in samples] for s in names}
    wins = dict.fromkeys(names, 0)
    loss = dict.fromkeys(names, 0.0)
    for j in range(len(samples)):
        best = max(names, key=lambda s: (nmb[s][j], -names.index(s)))
        wins[best] += 1
        for s in names:
            loss[s] += nmb[best][j] - nmb[s][j]
    n = len(samples)
    return [{"Strategy": s, "NMB": sum(nmb[s]) / n, "Lower_95_NMB": _quantile(nmb[s], 0.025),
             "Upper_95_NMB": _quantile(nmb[s], 0.975), "Probability_CE": wins[s] / n,
             "Expected_Loss": loss[s] / n,
             "MCSE_Cost": _sd([r["C_" + s] for r in samples]) / n ** 0.5,
             "MCSE_Effect": _sd([r["E_" + s] for r in samples]) / n ** 0.5,
             "MCSE_NMB": _sd(nmb[s]) / n ** 0.5} for s in names]


def status_section(summary: dict) -> str:
    comparison = summary.get("comparison")
    if comparison is None:
        return ('<p class="status first-run">First run: no previous run to compare with.</p>')
    status = comparison["status"]
    items = "".join(f"<li>{escape(c['message'])}</li>" for c in comparison["changes"])
    since = escape(str(comparison.get("previous_generated_at") or "the previous run"))
    text = {"unchanged": f"Nothing moved beyond the thresholds since {since}.",
            "changed": f"Changed since {since}; the decision did not.",
            "decision changed": f"The decision changed since {since}."}[status]
    inputs = comparison.get("input_changes", [])
    said = ("<p>Inputs changed since then:</p><ul id=\"input-changes\">" + "".join(
        f"<li>{escape(c['message'])}</li>" for c in inputs) + "</ul>") if inputs else (
        "<p>No input changed since then.</p>")
    return (f'<div class="status {status.replace(" ", "-")}" id="status"><strong>{text}</strong>'
            + (f"<p>Outputs that moved:</p><ul>{items}</ul>" if items else "") + said + "</div>")


def decision_section(decision: dict, units: Units) -> str:
    rows = "".join(
        f"<tr><td>{escape(s)}</td><td>{p:.3f}</td></tr>"
        for s, p in decision["probability_cost_effective"].items())
    return (f'<p id="decision">Optimal at {units.per_effect(decision["wtp"])} (highest expected '
            f'net benefit): <strong>{escape(decision["optimal"])}</strong>.</p>'
            f"<table><thead><tr><th>Strategy</th><th>Probability cost-effective</th></tr>"
            f"</thead><tbody>{rows}</tbody></table>")


def population_words(population: dict | None) -> str:
    if not population:
        return ""
    return (f"{population['population']:,.0f} people a year for {population['horizon']} "
            f"year{'s' if population['horizon'] != 1 else ''}, later years discounted at "
            f"{population['discount'] * 100:g} % (an effective population of "
            f"{population['effective_population']:,.0f})")


def narrative(analysis: dict, summary: dict, statistics: list[dict], units: Units) -> str:
    """The decision, its uncertainty and the value of research, in words."""
    decision, voi = summary["decision"], summary["value_of_information"]
    wtp, optimal = decision["wtp"], decision["optimal"]
    row = next(r for r in analysis["icers"] if r["Strategy"] == optimal)
    stats = {r["Strategy"]: r for r in statistics}
    nd = [r for r in analysis["icers"] if r["Status"] == "ND"]
    words = [f"At a willingness to pay of {units.per_effect(wtp)}, <strong>{escape(optimal)}"
             f"</strong> has the highest expected net monetary benefit "
             f"({units.money(stats[optimal]['NMB'])} per {units.per})."]
    if row["ICER"] is not None:
        previous = nd[nd.index(row) - 1]["Strategy"]
        words.append(f"Against {escape(previous)} it costs {units.money(row['Inc_Cost'])} more "
                     f"for {row['Inc_Effect']:,.3f} more {units.effect}s per {units.per}: an "
                     f"ICER of {units.per_effect(row['ICER'])}, below the threshold.")
    else:
        better = [r for r in nd if r["ICER"] is not None]
        if better:
            words.append(f"The next strategy on the frontier, {escape(better[0]['Strategy'])}, "
                         f"would cost {units.per_effect(better[0]['ICER'])} gained, above the "
                         "threshold.")
    dominated = [r["Strategy"] for r in analysis["icers"] if r["Status"] != "ND"]
    if dominated:
        words.append(f"{', '.join(escape(d) for d in dominated)} "
                     f"{'is' if len(dominated) == 1 else 'are'} dominated or extendedly dominated "
                     "and should not be chosen at any threshold.")
    p = decision["probability_cost_effective"][optimal]
    uncertainty = [f"The decision is {'uncertain' if p < 0.9 else 'fairly certain'}: "
                   f"{escape(optimal)} has the highest net benefit in {p:.1%} of the "
                   f"{analysis['method']['n_samples']:,} samples of the probabilistic "
                   "sensitivity analysis."]
    evpi = voi["evpi"]
    uncertainty.append(f"Choosing it now and being wrong is expected to cost "
                       f"{units.money(evpi['per_person'])} per {units.per} (the expected value "
                       "of perfect information, EVPI).")
    research = []
    if voi["population"]:
        research.append(f"For the population the decision affects — "
                        f"{population_words(voi['population'])} — resolving all the uncertainty "
                        f"would be worth at most {units.money(evpi['population'])}: research "
                        "costing more than that is not worth doing.")
    else:
        research.append("No population was given, so the value of research is per "
                        f"{units.per} only: multiply by the people the decision affects.")
    ranked = [r for r in voi["ranking"] if r["per_person"] > 0]
    if ranked:
        top = ", ".join(f"{escape(r['parameter'])} ({units.money(r['per_person'])})"
                        for r in ranked[:3])
        research.append(f"Of the parameters taken one at a time, research is most worth on {top} "
                        f"per {units.per} (EVPPI, {escape(str(voi['method']))} method).")
    for group in voi["evppi"]:
        research.append(f"Perfect information on {' and '.join(map(escape, group['parameters']))} "
                        f"together would be worth {units.money(group['per_person'])} per "
                        f"{units.per}" + (f" ({units.money(group['population'])} for the "
                                           "population)" if group["population"] is not None
                                           else "") + ".")
    return (f'<div id="narrative"><h3>The decision</h3><p>{" ".join(words)}</p>'
            f'<h3>The uncertainty</h3><p>{" ".join(uncertainty)}</p>'
            f'<h3>What further research is worth</h3><p>{" ".join(research)}</p></div>')


def voi_table(voi: dict, units: Units) -> str:
    population = voi["population"] is not None
    rows = [("EVPI (all parameters)", voi["evpi"])] + [
        ("EVPPI " + " + ".join(g["parameters"]), g) for g in voi["evppi"]]
    head = (f"<th>At {escape(units.per_effect(voi['wtp']))}</th>"
            f"<th>Per {escape(units.per)} ({escape(units.symbol)})</th>"
            + (f"<th>Population ({escape(units.symbol)})</th>" if population else ""))
    body = "".join(
        f"<tr><td>{escape(name)}</td><td>{cell_number('EVPI', v['per_person'])}</td>"
        + (f"<td>{cell_number('EVPI', v['population'])}</td>" if population else "") + "</tr>"
        for name, v in rows)
    ranking = "".join(f"<tr><td>{escape(r['parameter'])}</td>"
                      f"<td>{cell_number('EVPPI', r['per_person'])}</td></tr>"
                      for r in voi["ranking"])
    return (f'<table id="voi"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
            + (f"<p>Population: {escape(population_words(voi['population']))}.</p>"
               if population else "")
            + (f'<table id="ranking-table"><thead><tr><th>Parameter (alone)</th><th>EVPPI per '
               f'{escape(units.per)} ({escape(units.symbol)})</th></tr></thead>'
               f"<tbody>{ranking}</tbody></table>" if ranking else ""))


def methods_section(analysis: dict, summary: dict, units: Units) -> str:
    method, record = analysis["method"], units.record
    sensitivity = method.get("sensitivity") or {}
    price = f", {record['price_year']} prices" if record.get("price_year") else ""
    items = [
        ("Model", "the Sick-Sicker cohort state-transition (Markov) model: states Healthy, "
                  "Sick, Sicker and Dead; the whole cohort starts Healthy"),
        ("Strategies", ", ".join(method["strategies"])),
        ("Cycles and horizon", f"{record.get('cycles', '?')} cycles of one "
                               f"{record.get('cycle_length', 'year')} (a lifetime horizon)"),
        ("Discounting", f"costs {record.get('discount_costs', 0) * 100:g} %, effects "
                        f"{record.get('discount_effects', 0) * 100:g} % a year"),
        ("Units", f"costs in {units.currency} ({units.symbol}){price}, effects in "
                  f"{units.effect}s, per {units.per}; units from the "
                  f"{'dataset' if record.get('source') == 'dataset' else 'documented defaults'}"),
        ("Perspective", record.get("perspective") or "not stated by the dataset"),
        ("Probabilistic sensitivity analysis", f"{method['n_samples']:,} samples, seed "
                                               f"{method.get('seed')}, dataset "
                                               f"{method.get('dataset')}"),
        ("Decision rule", "the strategy with the highest expected net monetary benefit "
                          f"(NMB = {units.effect}s × willingness to pay − cost) at "
                          f"{units.per_effect(summary['decision']['wtp'])}; ICERs with "
                          "dominance and extended dominance as dampack computes them"),
        ("Value of information", f"EVPI; EVPPI by regression on the PSA "
                                 f"({summary['value_of_information']['method']}"
                                 + (f", order {method['poly_order']}" if "poly_order" in method
                                    else "") + "), capped at the EVPI"),
        ("Sensitivity", (f"from the PSA, nothing re-run: {sensitivity.get('metamodel', '')}; "
                         f"{sensitivity.get('points', '')} values per parameter, "
                         f"{sensitivity.get('grid', '')}") if sensitivity else "not run"),
    ]
    return "<table id=\"methods\">" + "".join(
        f"<tr><th>{escape(k)}</th><td style=\"text-align:left\">{escape(str(v))}</td></tr>"
        for k, v in items) + "</table>"


def inputs_section(inputs: list[dict]) -> str:
    rows = "".join(
        f"<tr><td>{escape(r['parameter'])}</td><td>{escape(r['distribution'])}</td>"
        f"<td>{_number(r['v1'])}</td><td>{_number(r.get('v2'))}</td>"
        f"<td>{'this run' if r['updated'] else 'dataset'}</td></tr>" for r in inputs)
    return ('<p>The parameters the client may see and edit, as this run used them (the data '
            "owner's other parameters are not shown).</p>"
            '<table id="inputs"><thead><tr><th>Parameter</th><th>Distribution</th><th>v1</th>'
            f"<th>v2</th><th>From</th></tr></thead><tbody>{rows}</tbody></table>")


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def caveats_section(statistics: list[dict], inputs: list[dict], units: Units) -> str:
    visible = {r["parameter"] for r in inputs}
    unused = [name for name in UNUSED if name in visible]
    quirks = [q.format(unused=f" ({', '.join(unused)} among those shown)" if unused else "")
              for q in QUIRKS]
    mcse = data_table(statistics, ("Strategy", "MCSE_Cost", "MCSE_Effect", "MCSE_NMB"),
                      headings(units), "mcse")
    return ("<ul>"
            "<li>The figures are Monte Carlo estimates: the standard errors of the means below "
            "say how far another seed could move them.</li>"
            "<li>EVPPI by regression carries noise and a small upward bias; values near zero "
            "mean no value. R breaks near-ties at random, so CEAC shares can differ from "
            "dampack's by 0.001–0.002.</li>"
            + "".join(f"<li>The original model's known quirk, reproduced on purpose: "
                      f"{escape(q)}.</li>" for q in quirks)
            + "</ul>" + mcse)


def _script(source: str) -> str:
    # Inside <script>, only "</script" (in any case) ends the element; in JS
    # text "<\/" is "</".
    return "<script>" + re.sub(r"</(script)", r"<\\/\1", source, flags=re.IGNORECASE) + "</script>"


def _figures(names: tuple[str, ...]) -> str:
    return "".join(f'<div id="{name}" class="figure"></div>' for name in names)


def render(analysis: dict, samples: list[dict], summary: dict, scripts: list[str],
           ranking: list[dict] | None = None) -> str:
    """The report's HTML; `scripts` (plotly.js, then the charts) are embedded
    as they are, before the code that draws the figures."""
    decision = summary["decision"]
    provenance = summary["provenance"]
    units = Units(analysis["method"].get("units"))
    statistics = sample_statistics(analysis, samples, decision["wtp"])
    voi = summary.get("value_of_information") or {
        "wtp": decision["wtp"], "method": analysis["method"].get("evppi_method"),
        "population": None, "evpi": {"per_person": None, "population": None},
        "evppi": [], "ranking": []}
    summary = {**summary, "value_of_information": voi}
    # JSON in a script element: "</" written as "<\/" cannot end it early.
    data = json.dumps({"analysis": analysis, "samples": samples, "wtp": decision["wtp"],
                       "ranking": ranking or []}, allow_nan=False).replace("</", "<\\/")
    ids = ", ".join(f"{name}: '{name}'" for name in FIGURES)
    draw = ("var d = JSON.parse(document.getElementById('data').textContent);"
            f"LivingHtaCharts.drawAll(Plotly, {{{ids}}}, d.analysis, d.samples, d.wtp, "
            "{ranking: d.ranking});")
    nmb_columns = ("Strategy", "NMB", "Lower_95_NMB", "Upper_95_NMB", "Probability_CE",
                   "Expected_Loss")
    return f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="UTF-8"><title>living-hta report {escape(provenance['generated_at'])}</title>
<style>{STYLE}</style></head>
<body>
<h1>living-hta report</h1>
<p>Generated {escape(provenance['generated_at'])} from <code>{escape(provenance['endpoint'])}</code>,
dataset <code>{escape(str(provenance['dataset']))}</code>, seed {escape(str(provenance['seed']))}.
All figures per {escape(units.per)}, in {escape(units.currency)} ({escape(units.symbol)}) and
{escape(units.effect)}s, discounted, unless marked as the population's.</p>
<h2>Summary for the committee</h2>
{narrative(analysis, summary, statistics, units)}
<h2>What changed</h2>
{status_section(summary)}
<h2>Results</h2>
{decision_section(decision, units)}
<h3>Incremental cost-effectiveness ratios</h3>
{icer_table(analysis, units)}
<h3>Net monetary benefit at {escape(units.per_effect(decision['wtp']))}</h3>
{data_table(statistics, nmb_columns, headings(units), "nmb")}
<h2>Uncertainty</h2>
<p>The cost-effectiveness plane shows every sample's incremental costs and effects against the
reference strategy, with 95 % ellipses; the acceptability curve, how likely each strategy is the
best at each willingness to pay; the expected loss, what choosing each costs on average when it
is not the best (the frontier's is the EVPI).</p>
{_figures(SECTION_FIGURES["uncertainty"])}
<h2>Value of further research</h2>
{voi_table(voi, units)}
{_figures(SECTION_FIGURES["research"])}
<h2>Sensitivity</h2>
<p>One- and two-way sensitivity from the PSA at {escape(units.per_effect(decision['wtp']))}:
the tornado (expected net benefit as each parameter moves from its 2.5 % to its 97.5 % quantile),
the optimal strategy over each parameter's range, and over a pair's.</p>
{_figures(SECTION_FIGURES["sensitivity"])}
<h2>Methods</h2>
{methods_section(analysis, summary, units)}
<h2>Inputs</h2>
{inputs_section(summary.get("inputs") or [])}
<h2>Caveats</h2>
{caveats_section(statistics, summary.get("inputs") or [], units)}
<h2>Provenance</h2>
{key_value_table(provenance, "provenance")}
<script type="application/json" id="data">{data}</script>
{"".join(_script(script) for script in scripts)}
{_script(draw)}
</body>
</html>
"""
