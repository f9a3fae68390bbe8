/* The figures of an analysis, as plotly.js figures ({data, layout}): one
 * definition shared by the analyst's page (page.js) and the report
 * (living_hta_client/report.py embeds this file), so both draw the same.
 * Input: the JSON of POST /analysis and, for the planes and the NMB table,
 * the JSON records of POST /runDARTHmodel for the same arguments and seed.
 * What is shown follows dampack's plot methods (plot.psa, plot.ceac,
 * plot.exp_loss, plot.evpi, plot.evppi, plot.owsa, plot.owsa_tornado,
 * plot.owsa_opt_strat, plot.twsa); the units come from the answer's
 * method.units (the dataset's metadata). */
(function (root) {
  "use strict";
  var COLOURS = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02"];
  var FONT = {family: "system-ui, sans-serif", size: 13};
  // χ²₂(0.95): the 95 % ellipse of a bivariate normal is Mahalanobis distance √this.
  var CHI2_2DF_95 = 5.991464547107979;
  var ELLIPSE_POINTS = 100;

  function colour(i) { return COLOURS[i % COLOURS.length]; }

  function layout(title, xTitle, yTitle, extra) {
    var base = {
      title: {text: title}, font: FONT, margin: {l: 90, r: 30, t: 50, b: 60},
      xaxis: {title: {text: xTitle}, zeroline: false},
      yaxis: {title: {text: yTitle}, zeroline: false},
      legend: {orientation: "h", y: -0.2}, hovermode: "closest"
    };
    return Object.assign(base, extra || {});
  }

  /* The labels every figure and table uses, from method.units. */
  function units(analysis) {
    var u = (analysis.method && analysis.method.units) || {};
    var symbol = u.currency_symbol || "", effect = u.effect || "QALY";
    var money = symbol + (u.price_year ? ", " + u.price_year + " prices" : "");
    var per = u.per || "patient";
    function amount(value, digits) {
      if (value === null || value === undefined) { return ""; }
      var text = Math.abs(value).toLocaleString("en", {minimumFractionDigits: digits || 0,
                                                       maximumFractionDigits: digits || 0});
      return (value < 0 ? "−" : "") + symbol + text;
    }
    return {
      symbol: symbol, currency: u.currency || "", effect: effect, effects: effect + "s",
      per: per, amount: amount,
      perEffect: symbol + " per " + effect,
      cost: "Cost (" + money + " per " + per + ")",
      incCost: "Incremental cost (" + money + " per " + per + ")",
      effectAxis: "Effect (" + effect + "s per " + per + ")",
      incEffect: "Incremental effect (" + effect + "s per " + per + ")",
      wtp: "Willingness to pay (" + symbol + " per " + effect + ")",
      nmb: "Expected net monetary benefit (" + money + " per " + per + ")",
      perPerson: money + " per " + per,
      population: money + ", population",
      context: "per " + per + ", costs and " + effect + "s discounted at " +
        pct(u.discount_costs) + (u.discount_effects !== u.discount_costs
          ? " and " + pct(u.discount_effects) : "") + " a year"
    };
  }

  function pct(rate) {
    return rate === undefined || rate === null ? "?" :
      (rate * 100).toLocaleString("en", {maximumFractionDigits: 2}) + " %";
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

  function column(samples, name) { return samples.map(function (r) { return r[name]; }); }

  function mean(xs) { var s = 0; xs.forEach(function (x) { s += x; }); return s / xs.length; }

  /* R's default quantile (type 7), numpy's default too. */
  function quantile(xs, p) {
    var sorted = xs.slice().sort(function (a, b) { return a - b; });
    var h = (sorted.length - 1) * p, lo = Math.floor(h);
    return lo + 1 < sorted.length ? sorted[lo] + (h - lo) * (sorted[lo + 1] - sorted[lo])
                                  : sorted[lo];
  }

  /* The 95 % ellipse of points (x, y) (bivariate normal: Mahalanobis
   * distance √χ²₂(0.95) from their mean, sample covariance), closed. */
  function ellipse(x, y) {
    var mx = mean(x), my = mean(y), n = x.length, sxx = 0, syy = 0, sxy = 0;
    for (var i = 0; i < n; i++) {
      var dx = x[i] - mx, dy = y[i] - my;
      sxx += dx * dx; syy += dy * dy; sxy += dx * dy;
    }
    sxx /= n - 1; syy /= n - 1; sxy /= n - 1;
    // Cholesky factor of the covariance: [[a, 0], [b, c]].
    var a = Math.sqrt(sxx), b = a > 0 ? sxy / a : 0, c = Math.sqrt(Math.max(syy - b * b, 0));
    var r = Math.sqrt(CHI2_2DF_95), ex = [], ey = [];
    for (var k = 0; k <= ELLIPSE_POINTS; k++) {
      var t = 2 * Math.PI * k / ELLIPSE_POINTS, u = r * Math.cos(t), v = r * Math.sin(t);
      ex.push(mx + a * u); ey.push(my + b * u + c * v);
    }
    return {x: ex, y: ey};
  }

  function range(values, pad) {
    var lo = Math.min.apply(null, values), hi = Math.max.apply(null, values);
    var margin = (hi - lo || Math.abs(hi) || 1) * (pad === undefined ? 0.05 : pad);
    return [lo - margin, hi + margin];
  }

  /* The cost-effectiveness plane.  Incremental (the default): each other
   * strategy's samples, 95 % ellipse and mean (the ICER point) as
   * differences from `comparator` (default: the ICER table's reference,
   * the cheapest non-dominated strategy), and the WTP line through the
   * origin (below it: cost-effective against the comparator).  Absolute:
   * every strategy's samples and mean, and the WTP line through the
   * reference.  The axes fit the data, never the line. */
  function plane(analysis, samples, wtp, options) {
    options = options || {};
    var U = units(analysis), names = strategies(analysis), data = [], xs = [], ys = [];
    var comparator = options.comparator || analysis.icers[0].Strategy;
    var incremental = !options.absolute;
    var base = {E: column(samples, "E_" + comparator), C: column(samples, "C_" + comparator)};
    names.forEach(function (name, i) {
      if (incremental && name === comparator) { return; }
      var x = column(samples, "E_" + name), y = column(samples, "C_" + name);
      if (incremental) {
        x = x.map(function (v, j) { return v - base.E[j]; });
        y = y.map(function (v, j) { return v - base.C[j]; });
      }
      xs = xs.concat(x); ys = ys.concat(y);
      data.push({type: "scatter", mode: "markers", name: name + " (samples)",
                 x: x, y: y, marker: {color: colour(i), size: 4, opacity: 0.25}});
      var e = ellipse(x, y);
      xs = xs.concat(e.x); ys = ys.concat(e.y);
      data.push({type: "scatter", mode: "lines", name: name + " (95 % ellipse)",
                 x: e.x, y: e.y, line: {color: colour(i), width: 2}, hoverinfo: "skip"});
      var mx = mean(x), my = mean(y);
      data.push({type: "scatter", mode: "markers", name: name + (incremental ? " (ICER point)"
                                                                           : " (mean)"),
                 x: [mx], y: [my],
                 text: [incremental && mx !== 0 ? "ICER " + U.amount(my / mx) + " per " +
                        U.effect : name],
                 marker: {color: colour(i), size: 14, symbol: "diamond",
                          line: {color: "#000", width: 1}}});
    });
    var xr = range(xs), yr = range(ys);
    var x0 = incremental ? 0 : null, y0 = 0;
    if (!incremental) {
      var ref = analysis.icers[0];
      x0 = ref.Effect; y0 = ref.Cost;
    } else {  // the origin (the comparator itself) in view
      xr = [Math.min(xr[0], 0), Math.max(xr[1], 0)]; yr = [Math.min(yr[0], 0), Math.max(yr[1], 0)];
      data.push({type: "scatter", mode: "markers", name: comparator + " (comparator)",
                 x: [0], y: [0], marker: {color: "#000", size: 10, symbol: "x"}});
    }
    data.push({
      type: "scatter", mode: "lines", name: "WTP " + U.amount(wtp) + " per " + U.effect,
      x: [xr[0], xr[1]], y: [y0 + wtp * (xr[0] - x0), y0 + wtp * (xr[1] - x0)],
      line: {color: "#333", dash: "dash", width: 1.5}, hoverinfo: "skip"
    });
    var title = incremental ? "Incremental cost-effectiveness plane (against " + comparator + ")"
                            : "Cost-effectiveness plane";
    return {data: data, layout: layout(title, incremental ? U.incEffect : U.effectAxis,
      incremental ? U.incCost : U.cost, {
        xaxis: {title: {text: incremental ? U.incEffect : U.effectAxis}, range: xr,
                zeroline: incremental},
        yaxis: {title: {text: incremental ? U.incCost : U.cost}, range: yr, zeroline: incremental}
      })};
  }

  function byStrategy(rows, name) {
    return rows.filter(function (r) { return r.Strategy === name; });
  }

  function curves(analysis, rows, value) {
    return strategies(analysis).map(function (name, i) {
      var mine = byStrategy(rows, name);
      return {type: "scatter", mode: "lines", name: name,
              x: mine.map(function (r) { return r.WTP; }),
              y: mine.map(function (r) { return r[value]; }),
              line: {color: colour(i), width: 2}};
    });
  }

  function frontier(rows, value) {
    var on = rows.filter(function (r) { return r.On_Frontier; });
    return {type: "scatter", mode: "markers", name: "Frontier",
            x: on.map(function (r) { return r.WTP; }), y: on.map(function (r) { return r[value]; }),
            text: on.map(function (r) { return r.Strategy; }),
            marker: {color: "#000", size: 6, symbol: "circle-open"}};
  }

  function ceac(analysis) {
    var U = units(analysis), data = curves(analysis, analysis.ceac, "Proportion");
    data.push(Object.assign(frontier(analysis.ceac, "Proportion"),
                            {name: "Frontier (highest expected net benefit)"}));
    return {data: data, layout: layout("Cost-effectiveness acceptability curve", U.wtp,
      "Probability cost-effective",
      {yaxis: {title: {text: "Probability cost-effective"}, range: [0, 1.02]}})};
  }

  /* dampack's plot.exp_loss: each strategy's expected loss, and the
   * frontier (the lowest, the EVPI). */
  function expectedLoss(analysis) {
    var U = units(analysis), data = curves(analysis, analysis.expected_loss, "Expected_Loss");
    data.push(Object.assign(frontier(analysis.expected_loss, "Expected_Loss"),
                            {name: "Frontier (lowest expected loss = EVPI)"}));
    var top = Math.max.apply(null, analysis.evpi.map(function (r) { return r.EVPI; }));
    return {data: data, layout: layout("Expected loss", U.wtp,
      "Expected loss (" + U.perPerson + ")",
      // The frontier near zero stays readable: the axis to a few EVPIs, not the dominated
      // strategies' losses (those go off the top; zoom out to see them).
      {yaxis: {title: {text: "Expected loss (" + U.perPerson + ")"},
               range: [0, Math.max(top * 4, 1)]}})};
  }

  function population(analysis) {
    return analysis.method.population ? analysis.method.population.effective_population : null;
  }

  /* A right axis in population figures, aligned with the left one. */
  function withPopulation(analysis, figure, top, U) {
    var scale = population(analysis);
    var left = [0, Math.max(top, 1) * 1.05];
    figure.layout.yaxis.range = left;
    if (scale) {
      figure.layout.yaxis2 = {title: {text: "Population (" + U.population + ")"},
                              overlaying: "y", side: "right", showgrid: false,
                              range: [0, left[1] * scale]};
      figure.layout.margin.r = 100;
      // An invisible trace on the right axis, so plotly draws it.
      figure.data.push({type: "scatter", mode: "lines", x: [], y: [], yaxis: "y2",
                        showlegend: false, hoverinfo: "skip"});
    }
    return figure;
  }

  function evpi(analysis) {
    var U = units(analysis), values = analysis.evpi.map(function (r) { return r.EVPI; });
    var fig = {data: [{
      type: "scatter", mode: "lines", name: "EVPI",
      x: analysis.evpi.map(function (r) { return r.WTP; }), y: values,
      line: {color: "#444", width: 2}
    }], layout: layout("Expected value of perfect information", U.wtp,
      "EVPI (" + U.perPerson + ")")};
    return withPopulation(analysis, fig, Math.max.apply(null, values), U);
  }

  function evppiMethod(analysis) {
    var m = analysis.method;
    return m.evppi_method === "poly" ? "poly, order " + m.poly_order : m.evppi_method;
  }

  function evppi(analysis) {
    var U = units(analysis), top = 0;
    var data = (analysis.evppi || []).map(function (group, i) {
      var y = group.values.map(function (r) { return r.EVPPI; });
      top = Math.max.apply(null, [top].concat(y));
      return {type: "scatter", mode: "lines+markers", name: group.parameters.join(" + "),
              x: group.values.map(function (r) { return r.WTP; }), y: y,
              line: {color: colour(i), width: 2}, marker: {size: 4}};
    });
    var evpis = analysis.evpi.map(function (r) { return r.EVPI; });
    data.push({type: "scatter", mode: "lines", name: "EVPI",
               x: analysis.evpi.map(function (r) { return r.WTP; }), y: evpis,
               line: {color: "#999", dash: "dot"}});
    var fig = {data: data, layout: layout("Expected value of partial perfect information (" +
      evppiMethod(analysis) + ")", U.wtp, "EVPPI (" + U.perPerson + ")")};
    return withPopulation(analysis, fig, Math.max.apply(null, [top].concat(evpis)), U);
  }

  /* BCEA's info.rank: each parameter's EVPPI alone at one WTP, largest on
   * top.  `ranking`: [{parameter, EVPPI}], `wtp` where. */
  function ranking(analysis, rows, wtp) {
    var U = units(analysis);
    var sorted = rows.slice().sort(function (a, b) { return a.EVPPI - b.EVPPI; });
    return {data: [{type: "bar", orientation: "h", name: "EVPPI",
                    x: sorted.map(function (r) { return r.EVPPI; }),
                    y: sorted.map(function (r) { return r.parameter; }),
                    marker: {color: "#7570b3"}}],
            layout: layout("EVPPI of each parameter alone at " + U.amount(wtp) + " per " +
                           U.effect + " (" + evppiMethod(analysis) + ")",
                           "EVPPI (" + U.perPerson + ")", "",
                           {yaxis: {automargin: true, type: "category"}, showlegend: false})};
  }

  var OUTCOME_LABELS = {nmb: "nmb", eff: "effectAxis", cost: "cost"};

  function outcomeTitle(U, outcome) {
    return outcome === "nmb" ? U.nmb : outcome === "eff"
      ? "Expected effect (" + U.effects + " per " + U.per + ")"
      : "Expected " + U[OUTCOME_LABELS[outcome]].charAt(0).toLowerCase() +
        U[OUTCOME_LABELS[outcome]].slice(1);
  }

  /* dampack's plot.owsa_tornado: for each parameter, a bar from the
   * expected NMB at the mean (avg) to the NMB at its 2.5 % and at its
   * 97.5 % quantile; the widest on top. */
  function tornado(analysis) {
    var U = units(analysis), sens = analysis.sensitivity;
    var rows = sens.tornado.slice().sort(function (a, b) { return a.abs_diff - b.abs_diff; });
    var avg = rows.length ? rows[0].avg : 0;
    function bar(which, name, fill) {
      return {type: "bar", orientation: "h", name: name, base: avg,
              x: rows.map(function (r) { return r["outcome_val." + which] - avg; }),
              y: rows.map(function (r) { return r.parameter; }),
              customdata: rows.map(function (r) { return r["param_val." + which]; }),
              hovertemplate: "%{y} = %{customdata:.4g}: %{x:,.0f} from the middle<extra></extra>",
              marker: {color: fill}};
    }
    return {data: [bar("low", "Parameter at its 2.5 % quantile", "#1b9e77"),
                   bar("high", "Parameter at its 97.5 % quantile", "#d95f02")],
            layout: layout("One-way sensitivity: tornado at " + U.amount(analysis.method.sensitivity.wtp) + " per " +
                           U.effect, U.nmb, "",
                           {barmode: "overlay", yaxis: {automargin: true, type: "category"},
                            shapes: [{type: "line", x0: avg, x1: avg, y0: 0, y1: 1,
                                      yref: "paper", line: {color: "#333", width: 1}}]})};
  }

  function parameterRanges(analysis) {
    var ranges = {};
    (analysis.sensitivity.owsa.nmb || []).forEach(function (r) {
      var known = ranges[r.parameter] || [Infinity, -Infinity];
      ranges[r.parameter] = [Math.min(known[0], r.param_val), Math.max(known[1], r.param_val)];
    });
    return ranges;
  }

  /* dampack's plot.owsa: the metamodel's expected outcome of each strategy
   * as one parameter varies, one panel per parameter. */
  function owsa(analysis, outcome) {
    outcome = outcome || "nmb";
    var U = units(analysis), rows = analysis.sensitivity.owsa[outcome], names = [];
    rows.forEach(function (r) { if (names.indexOf(r.parameter) < 0) { names.push(r.parameter); } });
    var columns = Math.min(4, names.length) || 1, lines = Math.ceil(names.length / columns);
    var data = [], extra = {grid: {rows: lines, columns: columns, pattern: "independent",
                                   ygap: 0.55, xgap: 0.25},
                            annotations: [], showlegend: true};
    names.forEach(function (name, p) {
      var axis = p === 0 ? "" : String(p + 1);
      strategies(analysis).forEach(function (strategy, i) {
        var mine = rows.filter(function (r) { return r.parameter === name && r.strategy === strategy; });
        data.push({type: "scatter", mode: "lines", name: strategy, legendgroup: strategy,
                   showlegend: p === 0, xaxis: "x" + axis, yaxis: "y" + axis,
                   x: mine.map(function (r) { return r.param_val; }),
                   y: mine.map(function (r) { return r.outcome_val; }),
                   line: {color: colour(i), width: 2}});
      });
      extra["xaxis" + axis] = {title: {text: name, standoff: 2}, tickfont: {size: 10}};
      extra["yaxis" + axis] = {tickfont: {size: 10}};
    });
    var fig = {data: data, layout: layout("One-way sensitivity: " + outcomeTitle(U, outcome) +
      " at " + U.amount(analysis.method.sensitivity.wtp) + " per " + U.effect, "", "", extra)};
    fig.layout.height = 140 + 170 * lines;
    fig.layout.legend = {orientation: "h", y: 1.0, yanchor: "bottom", x: 1, xanchor: "right"};
    return fig;
  }

  /* dampack's plot.owsa_opt_strat: over each parameter's range, which
   * strategy has the highest expected NMB.  Each parameter on its own scale:
   * the bar runs from its 2.5 % (0) to its 97.5 % quantile (1); the values in
   * the hover text. */
  function optimalStrategy(analysis) {
    var U = units(analysis), sens = analysis.sensitivity, ranges = parameterRanges(analysis);
    var data = strategies(analysis).map(function (strategy, i) {
      var mine = sens.opt_strat.filter(function (r) { return r.strategy === strategy; });
      function at(r, v) {
        var span = ranges[r.parameter][1] - ranges[r.parameter][0];
        return span > 0 ? (v - ranges[r.parameter][0]) / span : 0;
      }
      return {type: "bar", orientation: "h", name: strategy,
              y: mine.map(function (r) { return r.parameter; }),
              base: mine.map(function (r) { return at(r, r.pmin); }),
              x: mine.map(function (r) { return Math.max(at(r, r.pmax) - at(r, r.pmin), 0.01); }),
              customdata: mine.map(function (r) { return [r.pmin, r.pmax]; }),
              hovertemplate: strategy + ": %{y} from %{customdata[0]:.4g} to " +
                             "%{customdata[1]:.4g}<extra></extra>",
              marker: {color: colour(i)}};
    });
    var names = Object.keys(ranges);
    return {data: data, layout: layout("Optimal strategy as each parameter varies, at " +
      U.amount(analysis.method.sensitivity.wtp) + " per " + U.effect,
      "Position in the parameter's range (0: its 2.5 % quantile, 1: its 97.5 %)", "",
      {barmode: "overlay", xaxis: {range: [0, 1.01], title: {text:
        "Position in the parameter's range (0: its 2.5 % quantile, 1: its 97.5 %)"}},
       yaxis: {automargin: true, type: "category", categoryorder: "array",
               categoryarray: names.slice().reverse()}})};
  }

  /* dampack's plot.twsa: the strategy with the highest expected NMB over
   * the pair's grid, as tiles (SVG rectangles: no image, so the report
   * stays one file that fetches nothing, not even a data: URL); each
   * strategy's trace holds the grid points where it is optimal. */
  function twoWay(analysis) {
    var U = units(analysis), sens = analysis.sensitivity, names = strategies(analysis);
    var pair = sens.twsa.parameters, best = {}, xs = [], ys = [];
    sens.twsa.values.forEach(function (r) {
      var at = r[pair[0]] + "," + r[pair[1]];
      if (xs.indexOf(r[pair[0]]) < 0) { xs.push(r[pair[0]]); }
      if (ys.indexOf(r[pair[1]]) < 0) { ys.push(r[pair[1]]); }
      if (!best[at] || r.outcome_val > best[at].outcome_val) { best[at] = r; }
    });
    xs.sort(function (a, b) { return a - b; }); ys.sort(function (a, b) { return a - b; });
    function edges(values) {  // each value's tile: halfway to its neighbours
      return values.map(function (v, i) {
        var lo = i > 0 ? (values[i - 1] + v) / 2 : v - (values[1] - v) / 2;
        var hi = i + 1 < values.length ? (v + values[i + 1]) / 2 : v + (v - values[i - 1]) / 2;
        return [lo, hi];
      });
    }
    var xe = edges(xs), ye = edges(ys), shapes = [];
    var data = names.map(function (name, i) {
      return {type: "scatter", mode: "markers", name: name, x: [], y: [],
              marker: {color: colour(i), size: 10, symbol: "square"},
              hovertemplate: pair[0] + " %{x:.4g}, " + pair[1] + " %{y:.4g}: " + name +
                             "<extra></extra>"};
    });
    ys.forEach(function (y, j) {
      xs.forEach(function (x, i) {
        var k = names.indexOf(best[x + "," + y].strategy);
        data[k].x.push(x); data[k].y.push(y);
        shapes.push({type: "rect", layer: "below", x0: xe[i][0], x1: xe[i][1], y0: ye[j][0],
                     y1: ye[j][1], fillcolor: colour(k), opacity: 0.6, line: {width: 0}});
      });
    });
    return {data: data, layout: layout("Two-way sensitivity: optimal strategy at " +
      U.amount(analysis.method.sensitivity.wtp) + " per " + U.effect, pair[0], pair[1],
      {shapes: shapes})};
  }

  /* At `wtp`, per strategy: expected NMB with its 95 % interval over the
   * samples, the probability of the highest NMB (the first strategy wins
   * an exact tie, as the analyses do), the expected loss. */
  function nmbTable(analysis, samples, wtp) {
    var names = strategies(analysis);
    var nmb = names.map(function (name) {
      return samples.map(function (r) { return wtp * r["E_" + name] - r["C_" + name]; });
    });
    var wins = names.map(function () { return 0; }), loss = names.map(function () { return 0; });
    samples.forEach(function (r, j) {
      var best = 0;
      for (var k = 1; k < names.length; k++) { if (nmb[k][j] > nmb[best][j]) { best = k; } }
      wins[best] += 1;
      for (var m = 0; m < names.length; m++) { loss[m] += nmb[best][j] - nmb[m][j]; }
    });
    return names.map(function (name, k) {
      return {Strategy: name, WTP: wtp, NMB: mean(nmb[k]), Lower_95_NMB: quantile(nmb[k], 0.025),
              Upper_95_NMB: quantile(nmb[k], 0.975), Probability_CE: wins[k] / samples.length,
              Expected_Loss: loss[k] / samples.length};
    });
  }

  var CONFIG = {displaylogo: false, responsive: true};

  /* Every figure the analysis has data for, by name. */
  function figures(analysis, samples, wtp, options) {
    options = options || {};
    var all = {plane: function () { return plane(analysis, samples, wtp, options); },
               ceac: function () { return ceac(analysis); },
               loss: function () { return expectedLoss(analysis); },
               evpi: function () { return evpi(analysis); },
               evppi: function () { return evppi(analysis); }};
    if (options.ranking && options.ranking.length) {
      all.ranking = function () { return ranking(analysis, options.ranking, wtp); };
    }
    var sens = analysis.sensitivity;
    if (sens && sens.tornado) {
      all.tornado = function () { return tornado(analysis); };
      all.owsa = function () { return owsa(analysis, options.outcome); };
      all.optimal = function () { return optimalStrategy(analysis); };
    }
    if (sens && sens.twsa) { all.twsa = function () { return twoWay(analysis); }; }
    return all;
  }

  /* Draws every figure whose element id `ids` names (and that has data);
   * an element without data is emptied. */
  function drawAll(Plotly, ids, analysis, samples, wtp, options) {
    var made = figures(analysis, samples, wtp, options);
    return Promise.all(Object.keys(ids).map(function (name) {
      if (!made[name]) { Plotly.purge(ids[name]); return null; }
      var fig = made[name]();
      return Plotly.react(ids[name], fig.data, fig.layout, CONFIG);
    }));
  }

  root.LivingHtaCharts = {plane: plane, ceac: ceac, expectedLoss: expectedLoss, evpi: evpi,
                          evppi: evppi, ranking: ranking, tornado: tornado, owsa: owsa,
                          optimalStrategy: optimalStrategy, twoWay: twoWay, units: units,
                          nmbTable: nmbTable, optimalAt: optimalAt, evppiMethod: evppiMethod,
                          ellipse: ellipse, drawAll: drawAll, CHI2_2DF_95: CHI2_2DF_95};
})(this);
