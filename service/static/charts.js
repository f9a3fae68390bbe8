/* The figures of an analysis, as plotly.js figures ({data, layout}): one
 * definition shared by the analyst's page (page.js) and the report
 * (living_hta_client/report.py embeds this file), so both draw the same.
 * Input: the JSON of POST /analysis and, for the plane, the JSON records of
 * POST /runDARTHmodel for the same arguments and seed. */
(function (root) {
  "use strict";
  var COLOURS = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02"];
  var FONT = {family: "system-ui, sans-serif", size: 13};

  function layout(title, xTitle, yTitle, extra) {
    var base = {
      title: {text: title}, font: FONT, margin: {l: 80, r: 20, t: 50, b: 60},
      xaxis: {title: {text: xTitle}, zeroline: false},
      yaxis: {title: {text: yTitle}, zeroline: false},
      legend: {orientation: "h", y: -0.2}, hovermode: "closest"
    };
    return Object.assign(base, extra || {});
  }

  function strategies(analysis) { return analysis.method.strategies; }

  /* Which strategy has the highest expected net monetary benefit at wtp
   * (the CEAC frontier's definition), from the summary means. */
  function optimalAt(analysis, wtp) {
    var best = null, bestNmb = -Infinity;
    analysis.summary.forEach(function (row) {
      var nmb = wtp * row.meanEffect - row.meanCost;
      if (nmb > bestNmb) { bestNmb = nmb; best = row.Strategy; }
    });
    return best;
  }

  function plane(analysis, samples, wtp) {
    var names = strategies(analysis), data = [];
    names.forEach(function (name, i) {
      data.push({
        type: "scatter", mode: "markers", name: name + " (samples)",
        x: samples.map(function (r) { return r["E_" + name]; }),
        y: samples.map(function (r) { return r["C_" + name]; }),
        marker: {color: COLOURS[i % COLOURS.length], size: 4, opacity: 0.25}
      });
    });
    var xs = [];
    analysis.summary.forEach(function (row, i) {
      xs.push(row.meanEffect);
      data.push({
        type: "scatter", mode: "markers", name: row.Strategy + " (mean)",
        x: [row.meanEffect], y: [row.meanCost],
        marker: {color: COLOURS[i % COLOURS.length], size: 14, symbol: "diamond",
                 line: {color: "#000", width: 1}}
      });
    });
    // The WTP line through the reference strategy (the ICER table's first,
    // the cheapest non-dominated one): above it, not cost-effective.
    var ref = analysis.icers[0];
    var effects = samples.length ? [].concat.apply([], names.map(function (n) {
      return samples.map(function (r) { return r["E_" + n]; });
    })) : xs;
    var lo = Math.min.apply(null, effects), hi = Math.max.apply(null, effects);
    data.push({
      type: "scatter", mode: "lines", name: "WTP " + wtp.toLocaleString("en") + " per QALY",
      x: [lo, hi], y: [ref.Cost + wtp * (lo - ref.Effect), ref.Cost + wtp * (hi - ref.Effect)],
      line: {color: "#333", dash: "dash", width: 1.5}
    });
    return {data: data, layout: layout("Cost-effectiveness plane", "Effect (QALYs)", "Cost")};
  }

  function byStrategy(rows, name) {
    return rows.filter(function (r) { return r.Strategy === name; });
  }

  function ceac(analysis) {
    var data = strategies(analysis).map(function (name, i) {
      var rows = byStrategy(analysis.ceac, name);
      return {
        type: "scatter", mode: "lines", name: name,
        x: rows.map(function (r) { return r.WTP; }),
        y: rows.map(function (r) { return r.Proportion; }),
        line: {color: COLOURS[i % COLOURS.length], width: 2}
      };
    });
    var frontier = analysis.ceac.filter(function (r) { return r.On_Frontier; });
    data.push({
      type: "scatter", mode: "markers", name: "Frontier (highest expected net benefit)",
      x: frontier.map(function (r) { return r.WTP; }),
      y: frontier.map(function (r) { return r.Proportion; }),
      text: frontier.map(function (r) { return r.Strategy; }),
      marker: {color: "#000", size: 6, symbol: "circle-open"}
    });
    return {data: data, layout: layout("Cost-effectiveness acceptability curve",
      "Willingness to pay per QALY", "Probability cost-effective",
      {yaxis: {title: {text: "Probability cost-effective"}, range: [0, 1.02]}})};
  }

  function evpi(analysis) {
    return {data: [{
      type: "scatter", mode: "lines", name: "EVPI",
      x: analysis.evpi.map(function (r) { return r.WTP; }),
      y: analysis.evpi.map(function (r) { return r.EVPI; }),
      line: {color: "#444", width: 2}
    }], layout: layout("Expected value of perfect information (per person)",
      "Willingness to pay per QALY", "EVPI")};
  }

  function evppi(analysis) {
    var data = (analysis.evppi || []).map(function (group, i) {
      return {
        type: "scatter", mode: "lines+markers", name: group.parameters.join(" + "),
        x: group.values.map(function (r) { return r.WTP; }),
        y: group.values.map(function (r) { return r.EVPPI; }),
        line: {color: COLOURS[i % COLOURS.length], width: 2}, marker: {size: 4}
      };
    });
    data.push({
      type: "scatter", mode: "lines", name: "EVPI",
      x: analysis.evpi.map(function (r) { return r.WTP; }),
      y: analysis.evpi.map(function (r) { return r.EVPI; }),
      line: {color: "#999", dash: "dot"}
    });
    return {data: data, layout: layout("Expected value of partial perfect information",
      "Willingness to pay per QALY", "EVPPI")};
  }

  var CONFIG = {displaylogo: false, responsive: true};

  /* Draws every figure into the elements whose ids are given. */
  function drawAll(Plotly, ids, analysis, samples, wtp) {
    var figures = {plane: plane(analysis, samples, wtp), ceac: ceac(analysis),
                   evpi: evpi(analysis), evppi: evppi(analysis)};
    return Promise.all(Object.keys(figures).map(function (name) {
      var fig = figures[name];
      return Plotly.react(ids[name], fig.data, fig.layout, CONFIG);
    }));
  }

  root.LivingHtaCharts = {plane: plane, ceac: ceac, evpi: evpi, evppi: evppi,
                          optimalAt: optimalAt, drawAll: drawAll};
})(this);
