/* The analyst's page: loads the editable parameters, runs POST /analysis
 * (and POST /runDARTHmodel with the seed it reports, for the plane's
 * samples), and shows the tables and figures.  The key lives in the
 * variable `key` only: never in a URL, a cookie or storage. */
(function () {
  "use strict";
  var key = null;
  var last = null;  // {analysis, samples, wtp}
  var $ = function (id) { return document.getElementById(id); };

  function showError(text) { $("error").textContent = text; }
  function showStatus(text) { $("status").textContent = text; }

  /* The API's own words: "<status>: <error>", and when to retry for 429/503. */
  function apiError(response, body) {
    var text = response.status + " " + response.statusText + ": " +
      (body && body.error ? body.error : "the service gave no explanation");
    var wait = response.headers.get("Retry-After");
    if (wait) { text += " (retry after " + wait + " s)"; }
    return new Error(text);
  }

  function call(method, path, body, accept) {
    var headers = {key: key, Accept: accept || "application/json"};
    if (body !== undefined) { headers["Content-Type"] = "application/json"; }
    // Relative paths: the page works under whatever prefix a proxy gives it.
    return fetch(path, {method: method, headers: headers, cache: "no-store",
                        credentials: "omit", referrerPolicy: "no-referrer",
                        body: body === undefined ? undefined : JSON.stringify(body)})
      .then(function (response) {
        return response.text().then(function (text) {
          var parsed = null;
          try { parsed = JSON.parse(text); } catch (e) { /* not JSON */ }
          if (!response.ok) { throw apiError(response, parsed); }
          return parsed;
        });
      });
  }

  var table = null;  // the /parameters answer

  function loadParameters() {
    key = $("key").value;
    $("key").value = "";  // kept in `key` only
    showError(""); showStatus("Loading the editable parameters…");
    var dataset = $("dataset").value.trim();
    var query = dataset ? "?path_to_psa_inputs=" + encodeURIComponent(dataset) : "";
    return call("GET", "parameters" + query).then(function (answer) {
      table = answer;
      fillParameters(answer);
      $("inputs").hidden = false;
      showStatus("Dataset " + answer.dataset + ": " + answer.parameters.length +
                 " editable parameters.");
    }).catch(function (error) { showStatus(""); showError(error.message); });
  }

  function cell(row, child) {
    var td = document.createElement("td");
    if (typeof child === "string") { td.textContent = child; } else { td.appendChild(child); }
    row.appendChild(td);
    return td;
  }

  function input(value, cls) {
    var el = document.createElement("input");
    el.className = cls; el.value = value === null ? "" : String(value);
    return el;
  }

  function fillParameters(answer) {
    var defaults = {};
    answer.default_updates.forEach(function (u) { defaults[u.parameter] = u; });
    var body = $("parameters").querySelector("tbody");
    body.textContent = "";
    answer.parameters.forEach(function (p) {
      var shown = defaults[p.parameter] || p;
      var row = document.createElement("tr");
      row.dataset.parameter = p.parameter;
      cell(row, p.parameter + (defaults[p.parameter] ? " (default update)" : ""));
      var select = document.createElement("select");
      select.className = "distribution";
      Object.keys(answer.distributions).forEach(function (name) {
        var option = document.createElement("option");
        option.value = option.textContent = name;
        option.title = answer.distributions[name].join(", ");
        select.appendChild(option);
      });
      select.value = shown.distribution;
      cell(row, select);
      cell(row, input(shown.v1, "v1 num"));
      cell(row, input(shown.v2, "v2 num"));
      var tick = document.createElement("input");
      tick.type = "checkbox"; tick.className = "evppi";
      cell(row, tick);
      var group = input("", "group");
      group.size = 4; group.title = "ticked parameters with the same label are one group";
      cell(row, group);
      body.appendChild(row);
    });
    // The two-way pair: any two editable parameters (default: the first two).
    ["twsa-1", "twsa-2"].forEach(function (id, i) {
      var select = $(id);
      select.textContent = "";
      [""].concat(answer.parameters.map(function (p) { return p.parameter; })).forEach(function (n) {
        var option = document.createElement("option");
        option.value = n; option.textContent = n || "none";
        select.appendChild(option);
      });
      if (answer.parameters.length > i) { select.value = answer.parameters[i].parameter; }
    });
  }

  function number(text) { return text.trim() === "" ? null : Number(text); }

  /* Every row that differs from the dataset's own values is an update, so
   * an untouched table runs exactly what the service runs by default. */
  /* The curves' grid with the decision's WTP in it (so that its EVPI and
   * EVPPI are read off the same analysis); anything else is sent as typed,
   * for the service to judge. */
  function grid(text, wtp) {
    var parts = text.split(":"), values;
    if (parts.length === 3) {
      var start = Number(parts[0]), stop = Number(parts[1]), step = Number(parts[2]);
      if (!(step > 0 && stop >= start && (stop - start) / step < 1000)) { return text; }
      values = [];
      for (var i = 0; start + i * step <= stop * (1 + 1e-12); i++) { values.push(start + i * step); }
    } else {
      values = text.split(",").map(Number);
    }
    if (!values.every(isFinite)) { return text; }
    if (values.indexOf(wtp) < 0) { values.push(wtp); }
    return values.sort(function (a, b) { return a - b; });
  }

  function readInputs() {
    var updates = [], evppi = [], original = {}, groups = {}, varying = [];
    table.parameters.forEach(function (p) { original[p.parameter] = p; });
    $("parameters").querySelectorAll("tbody tr").forEach(function (row) {
      var name = row.dataset.parameter, p = original[name];
      var update = {parameter: name, distribution: row.querySelector(".distribution").value,
                    v1: number(row.querySelector(".v1").value),
                    v2: number(row.querySelector(".v2").value)};
      if (update.distribution !== p.distribution || update.v1 !== p.v1 || update.v2 !== p.v2) {
        updates.push(update);
      }
      if (update.distribution !== "fixed") { varying.push(name); }
      if (row.querySelector(".evppi").checked) {
        var label = row.querySelector(".group").value.trim();
        if (!label) { evppi.push([name]); return; }
        if (!groups[label]) { groups[label] = []; evppi.push(groups[label]); }
        groups[label].push(name);
      }
    });
    var wtp = Number($("wtp").value);
    var request = {param_updates: updates, wtp: grid($("wtp-range").value.trim(), wtp),
                   evppi: evppi.map(function (g) { return g.length === 1 ? g[0] : g; }),
                   evppi_method: $("evppi-method").value};
    var size = $("population").value.trim();
    if (size !== "") {
      request.population = {size: Number(size), horizon: Number($("horizon").value || 1),
                            discount: Number($("discount").value || 0)};
    }
    var pair = [$("twsa-1").value, $("twsa-2").value];
    if ($("sensitivity").checked) {
      request.sensitivity = {wtp: wtp, owsa: "*", outcomes: ["nmb", "eff", "cost"]};
      if (pair[0] && pair[1] && pair[0] !== pair[1]) { request.sensitivity.twsa = pair; }
    }
    if (table.dataset) { request.path_to_psa_inputs = table.dataset; }
    var seed = $("seed").value.trim();
    if (seed !== "") { request.seed = Number(seed); }
    return {request: request, varying: varying};
  }

  var MAX_GROUPS = 10;  // the service's limit of EVPPI groups a request

  /* BCEA's info.rank: every varying editable parameter's EVPPI alone, at
   * the decision's WTP, on the same PSA (the seed the analysis used). */
  function rankEvppi(request, seed, names, wtp) {
    var chunks = [];
    for (var i = 0; i < names.length; i += MAX_GROUPS) { chunks.push(names.slice(i, i + MAX_GROUPS)); }
    return Promise.all(chunks.map(function (chunk) {
      var body = {param_updates: request.param_updates, seed: seed, wtp: [wtp], evppi: chunk,
                  evppi_method: request.evppi_method};
      if (request.path_to_psa_inputs) { body.path_to_psa_inputs = request.path_to_psa_inputs; }
      return call("POST", "analysis", body).then(function (answer) {
        return answer.evppi.map(function (g) {
          return {parameter: g.parameters[0], WTP: wtp, EVPPI: g.values[0].EVPPI};
        });
      });
    })).then(function (parts) { return [].concat.apply([], parts); });
  }

  function run() {
    showError("");
    // A failed run shows no results: none of the previous run's stay on screen.
    last = null;
    $("results").hidden = true;
    var wtp = Number($("wtp").value);
    if ($("wtp").value.trim() === "" || !isFinite(wtp) || wtp < 0) {
      showError("WTP for the decision: give a number ≥ 0"); return;
    }
    var inputs = readInputs(), request = inputs.request;
    showStatus("Running the PSA and its analyses…");
    $("run").disabled = true;
    return call("POST", "analysis", request).then(function (analysis) {
      // The same arguments and the seed used: the samples behind the analysis.
      var again = {param_updates: request.param_updates, seed: analysis.method.seed};
      if (request.path_to_psa_inputs) { again.path_to_psa_inputs = request.path_to_psa_inputs; }
      var ranked = $("rank").checked
        ? rankEvppi(request, analysis.method.seed, inputs.varying, wtp) : Promise.resolve([]);
      return Promise.all([call("POST", "runDARTHmodel", again), ranked]).then(function (got) {
        last = {analysis: analysis, samples: got[0], wtp: wtp, ranking: got[1],
                nmb: LivingHtaCharts.nmbTable(analysis, got[0], wtp)};
        return show(last);
      });
    }).then(function () {
      // The service's provenance receipt, when it sends one.
      var receipt = last.analysis.provenance;
      showStatus("Done: seed " + last.analysis.method.seed + ", " +
                 last.analysis.method.n_samples + " samples" +
                 (receipt ? "; run " + receipt.run_id + ", service " + receipt.service_version : "") +
                 ".");
    }).catch(function (error) {
      showStatus(""); showError(error.message);
    }).finally(function () { $("run").disabled = false; });
  }

  var ICER_COLUMNS = ["Strategy", "Cost", "Lower_95_Cost", "Upper_95_Cost", "Effect",
                      "Lower_95_Effect", "Upper_95_Effect", "Inc_Cost", "Inc_Effect", "ICER",
                      "Status"];
  var NMB_COLUMNS = ["Strategy", "NMB", "Lower_95_NMB", "Upper_95_NMB", "Probability_CE",
                     "Expected_Loss"];

  function format(column, value) {
    if (value === null || value === undefined) { return ""; }
    if (typeof value !== "number") { return String(value); }
    var digits = /Effect$|^Probability/.test(column) ? 3 : 0;
    return value.toLocaleString("en", {minimumFractionDigits: digits, maximumFractionDigits: digits});
  }

  /* Column headings with their units. */
  function heading(column, U) {
    var money = " (" + U.symbol + ")", effect = " (" + U.effects + ")";
    return {Cost: "Cost" + money, Lower_95_Cost: "2.5 %", Upper_95_Cost: "97.5 %",
            Effect: "Effect" + effect, Lower_95_Effect: "2.5 %", Upper_95_Effect: "97.5 %",
            Inc_Cost: "Inc. cost" + money, Inc_Effect: "Inc. effect" + effect,
            ICER: "ICER (" + U.perEffect + ")", NMB: "Expected NMB" + money,
            Lower_95_NMB: "2.5 %", Upper_95_NMB: "97.5 %",
            Probability_CE: "Probability cost-effective",
            Expected_Loss: "Expected loss" + money}[column] || column.replace(/_/g, " ");
  }

  function fillTable(id, columns, rows, U, dim) {
    var head = $(id).querySelector("thead"), body = $(id).querySelector("tbody");
    head.textContent = ""; body.textContent = "";
    var hr = document.createElement("tr");
    columns.forEach(function (c) {
      var th = document.createElement("th"); th.textContent = heading(c, U); hr.appendChild(th);
    });
    head.appendChild(hr);
    rows.forEach(function (row) {
      var tr = document.createElement("tr");
      if (dim && dim(row)) { tr.className = "dominated"; }
      columns.forEach(function (c) {
        var td = cell(tr, format(c, row[c]));
        td.dataset.column = c;
        if (typeof row[c] === "number") { td.dataset.value = String(row[c]); }
      });
      body.appendChild(tr);
    });
  }

  /* EVPI and each EVPPI group at the decision's WTP, per person and for
   * the population (when one was given). */
  function voiRows(result) {
    var wtp = result.wtp, analysis = result.analysis, rows = [];
    var at = function (values) { return values.filter(function (r) { return r.WTP === wtp; })[0]; };
    var evpi = at(analysis.evpi);
    if (evpi) {
      rows.push({What: "EVPI (all parameters)", Per_Person: evpi.EVPI,
                 Population: evpi.Population_EVPI});
    }
    (analysis.evppi || []).forEach(function (g) {
      var v = at(g.values);
      if (v) {
        rows.push({What: "EVPPI " + g.parameters.join(" + "), Per_Person: v.EVPPI,
                   Population: v.Population_EVPPI});
      }
    });
    return rows;
  }

  function fillVoi(result, U) {
    var population = result.analysis.method.population;
    var columns = ["What", "Per_Person"].concat(population ? ["Population"] : []);
    fillTable("voi", columns, voiRows(result), {});
    var th = $("voi").querySelectorAll("thead th");
    th[1].textContent = "Per " + U.per + " (" + U.symbol + ")";
    if (population) {
      th[2].textContent = "Population (" + U.symbol + ", " +
        population.population.toLocaleString("en") + " a year for " + population.horizon +
        " years, discounted at " +
        (population.discount * 100).toLocaleString("en", {maximumFractionDigits: 3}) + " %: " +
        population.effective_population.toLocaleString("en", {maximumFractionDigits: 0}) +
        " people)";
    }
    $("voi-method").textContent = "EVPPI method: " + LivingHtaCharts.evppiMethod(result.analysis) +
      "; estimates capped at the EVPI." + (population ? "" :
      " Give a population to see the population figures.");
  }

  var FIGURES = ["plane", "ceac", "loss", "evpi", "evppi", "ranking", "tornado", "owsa",
                 "optimal", "twsa"];

  function show(result) {
    var analysis = result.analysis, U = LivingHtaCharts.units(analysis), u = analysis.method.units;
    $("results").hidden = false;
    fillTable("icers", ICER_COLUMNS, analysis.icers, U, function (r) { return r.Status !== "ND"; });
    fillTable("nmb", NMB_COLUMNS, result.nmb, U);
    fillVoi(result, U);
    $("decision").textContent = "Optimal at " + U.amount(result.wtp) + " per " + U.effect +
      " (highest expected net benefit): " + LivingHtaCharts.optimalAt(analysis, result.wtp) +
      ". ND: not dominated; D: dominated; ED: extendedly dominated.";
    $("units").textContent = u ? "Costs in " + u.currency + " (" + u.currency_symbol + ")" +
      (u.price_year ? ", " + u.price_year + " prices" : "") + ", effects in " + u.effect +
      "s, " + U.context + "; " + u.cycles + " " + u.cycle_length + "ly cycles" +
      (u.perspective ? "; perspective: " + u.perspective : "") + "." : "";
    var sens = analysis.method.sensitivity;
    $("sensitivity-method").textContent = sens ? "Dampack's metamodel on the PSA (nothing " +
      "re-run): " + sens.metamodel + "; " + sens.points + " values per parameter, " + sens.grid +
      "." : "Tick one-way sensitivity to see it.";
    var comparator = $("comparator"), chosen = comparator.value;
    comparator.textContent = "";
    analysis.method.strategies.forEach(function (name) {
      var option = document.createElement("option");
      option.value = option.textContent = name;
      comparator.appendChild(option);
    });
    var names = analysis.method.strategies;
    comparator.value = names.indexOf(chosen) >= 0 ? chosen : analysis.icers[0].Strategy;
    return draw(FIGURES);
  }

  function draw(which) {
    var ids = {};
    which.forEach(function (name) { ids[name] = name; });
    return LivingHtaCharts.drawAll(Plotly, ids, last.analysis, last.samples, last.wtp, {
      comparator: $("comparator").value, absolute: $("absolute").checked,
      outcome: $("outcome").value, ranking: last.ranking});
  }

  function csv(rows) {
    if (!rows.length) { return ""; }
    var columns = Object.keys(rows[0]);
    var quote = function (v) {
      if (v === null || v === undefined) { return "NA"; }
      var s = Array.isArray(v) ? v.join("+") : String(v);
      return /[",\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
    };
    return [columns.join(",")].concat(rows.map(function (r) {
      return columns.map(function (c) { return quote(r[c]); }).join(",");
    })).join("\n") + "\n";
  }

  function rowsOf(name) {
    if (name === "samples") { return last.samples; }
    if (name === "nmb") { return last.nmb; }
    if (name === "ranking") { return last.ranking; }
    var sens = last.analysis.sensitivity || {};
    if (name === "owsa") { return sens.owsa ? sens.owsa.nmb : []; }
    if (name === "tornado" || name === "opt_strat") { return sens[name] || []; }
    if (name === "twsa") { return sens.twsa ? sens.twsa.values : []; }
    if (name === "evppi") {  // one row per group and WTP
      return [].concat.apply([], (last.analysis.evppi || []).map(function (g) {
        return g.values.map(function (v) {
          return {Parameters: g.parameters.join("+"), WTP: v.WTP, EVPPI: v.EVPPI};
        });
      }));
    }
    return last.analysis[name];
  }

  function download(name, blob) {
    var a = document.createElement("a");
    a.href = URL.createObjectURL(blob); a.download = name;
    document.body.appendChild(a); a.click(); a.remove();
    setTimeout(function () { URL.revokeObjectURL(a.href); }, 1000);
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!last || target.tagName !== "BUTTON") { return; }
    if (target.dataset.json) {  // the CSVs' units: a sidecar, so the CSVs keep dampack's columns
      download("units.json", new Blob([JSON.stringify({
        units: last.analysis.method.units, decision_wtp: last.wtp,
        method: last.analysis.method}, null, 1)], {type: "application/json"}));
    } else if (target.dataset.csv) {
      download(target.dataset.csv + ".csv",
               new Blob([csv(rowsOf(target.dataset.csv))], {type: "text/csv"}));
    } else if (target.dataset.png) {
      Plotly.downloadImage(target.dataset.png, {format: "png", width: 1000, height: 600,
                                                 filename: target.dataset.png});
    }
  });
  $("load").addEventListener("click", loadParameters);
  $("key").addEventListener("keydown", function (e) { if (e.key === "Enter") { loadParameters(); } });
  $("run").addEventListener("click", run);
  $("comparator").addEventListener("change", function () { if (last) { draw(["plane"]); } });
  $("absolute").addEventListener("change", function () { if (last) { draw(["plane"]); } });
  $("outcome").addEventListener("change", function () { if (last) { draw(["owsa"]); } });
})();
