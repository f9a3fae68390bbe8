"""One self-contained HTML file a reviewer can read: the decision at the
WTP (and what changed since the previous run), the ICER table, the CE
plane, CEAC, EVPI and EVPPI, and the run's provenance.

The figures are drawn, when the file is opened, by the same plotly.js and
chart definitions (charts.js) as the service's page, fetched from the
service the report is made against and embedded in the file with the data:
it opens offline, and each figure's toolbar saves it as PNG.
The tables are plain HTML, readable without scripts.
"""

from __future__ import annotations

import json
import re
from html import escape
from typing import Any

ICER_COLUMNS = ("Strategy", "Cost", "Effect", "Inc_Cost", "Inc_Effect", "ICER", "Status")
FIGURES = ("plane", "ceac", "evpi", "evppi")

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 1em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; vertical-align: top; }
th:first-child, td:first-child { text-align: left; }
.status { padding: 0.6em 1em; border: 1px solid; }
.status.unchanged, .status.first-run { background: #eef7ee; border-color: #9c9; }
.status.changed { background: #fff8e5; border-color: #e5c160; }
.status.decision-changed { background: #fdecec; border-color: #e08080; }
.figure { width: 100%; height: 460px; }
code { font-size: 0.9em; }
#provenance td { text-align: left; }
"""


def cell_number(column: str, value: Any) -> str:
    """As the page shows it: effects to 3 decimals, money to whole units."""
    if value is None:
        return ""
    if isinstance(value, str):
        return escape(value)
    return f"{value:,.3f}" if "Effect" in column else f"{value:,.0f}"


def icer_table(analysis: dict) -> str:
    head = "".join(f"<th>{escape(c.replace('_', ' '))}</th>" for c in ICER_COLUMNS)
    rows = []
    for row in analysis["icers"]:
        cells = "".join(
            f'<td data-column="{c}"'
            + (f' data-value="{row[c]!r}"' if isinstance(row[c], float) else "")
            + f">{cell_number(c, row[c])}</td>" for c in ICER_COLUMNS)
        rows.append(f"<tr>{cells}</tr>")
    return (f'<table id="icers"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}'
            "</tbody></table><p>ND: not dominated; D: dominated; ED: extendedly dominated.</p>")


def key_value_table(items: dict[str, Any], table_id: str) -> str:
    rows = "".join(
        f"<tr><th>{escape(str(k))}</th><td><code>{escape(_text(v))}</code></td></tr>"
        for k, v in items.items())
    return f'<table id="{table_id}">{rows}</table>'


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


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
    return (f'<div class="status {status.replace(" ", "-")}" id="status"><strong>{text}</strong>'
            + (f"<ul>{items}</ul>" if items else "") + "</div>")


def decision_section(decision: dict) -> str:
    rows = "".join(
        f"<tr><td>{escape(s)}</td><td>{p:.3f}</td></tr>"
        for s, p in decision["probability_cost_effective"].items())
    return (f'<p id="decision">Optimal at {decision["wtp"]:,.0f} per QALY (highest expected '
            f'net benefit): <strong>{escape(decision["optimal"])}</strong>.</p>'
            f"<table><thead><tr><th>Strategy</th><th>Probability cost-effective</th></tr>"
            f"</thead><tbody>{rows}</tbody></table>")


def _script(source: str) -> str:
    # Inside <script>, only "</script" (in any case) ends the element; in JS
    # text "<\/" is "</".
    return "<script>" + re.sub(r"</(script)", r"<\\/\1", source, flags=re.IGNORECASE) + "</script>"


def render(analysis: dict, samples: list[dict], summary: dict, scripts: list[str]) -> str:
    """The report's HTML; `scripts` (plotly.js, then the charts) are embedded
    as they are, before the code that draws the figures."""
    decision = summary["decision"]
    provenance = summary["provenance"]
    # JSON in a script element: "</" written as "<\/" cannot end it early.
    data = json.dumps({"analysis": analysis, "samples": samples, "wtp": decision["wtp"]},
                      allow_nan=False).replace("</", "<\\/")
    draw = ("var d = JSON.parse(document.getElementById('data').textContent);"
            "LivingHtaCharts.drawAll(Plotly, {plane: 'plane', ceac: 'ceac', evpi: 'evpi', "
            "evppi: 'evppi'}, d.analysis, d.samples, d.wtp);")
    figures = "".join(f'<div id="{name}" class="figure"></div>' for name in FIGURES)
    return f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="UTF-8"><title>living-hta report {escape(provenance['generated_at'])}</title>
<style>{STYLE}</style></head>
<body>
<h1>living-hta report</h1>
<p>Generated {escape(provenance['generated_at'])} from <code>{escape(provenance['endpoint'])}</code>,
dataset <code>{escape(str(provenance['dataset']))}</code>, seed {escape(str(provenance['seed']))}.</p>
{status_section(summary)}
<h2>Decision</h2>
{decision_section(decision)}
<h2>Incremental cost-effectiveness ratios</h2>
{icer_table(analysis)}
<h2>Figures</h2>
{figures}
<h2>Provenance</h2>
{key_value_table(provenance, "provenance")}
<script type="application/json" id="data">{data}</script>
{"".join(_script(script) for script in scripts)}
{_script(draw)}
</body>
</html>
"""
