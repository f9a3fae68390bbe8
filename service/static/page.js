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
      body.appendChild(row);
    });
  }

  function number(text) { return text.trim() === "" ? null : Number(text); }

  /* Every row that differs from the dataset's own values is an update, so
   * an untouched table runs exactly what the service runs by default. */
  function readInputs() {
    var updates = [], evppi = [], original = {};
    table.parameters.forEach(function (p) { original[p.parameter] = p; });
    $("parameters").querySelectorAll("tbody tr").forEach(function (row) {
      var name = row.dataset.parameter, p = original[name];
      var update = {parameter: name, distribution: row.querySelector(".distribution").value,
                    v1: number(row.querySelector(".v1").value),
                    v2: number(row.querySelector(".v2").value)};
      if (update.distribution !== p.distribution || update.v1 !== p.v1 || update.v2 !== p.v2) {
        updates.push(update);
      }
      if (row.querySelector(".evppi").checked) { evppi.push(name); }
    });
    var request = {param_updates: updates, wtp: $("wtp-range").value.trim(), evppi: evppi};
    if (table.dataset) { request.path_to_psa_inputs = table.dataset; }
    var seed = $("seed").value.trim();
    if (seed !== "") { request.seed = Number(seed); }
    return request;
  }

  function run() {
    showError("");
    var request = readInputs();
    var wtp = Number($("wtp").value);
    if (!isFinite(wtp) || wtp < 0) { showError("WTP for the decision: give a number ≥ 0"); return; }
    showStatus("Running the PSA and its analyses…");
    $("run").disabled = true;
    return call("POST", "analysis", request).then(function (analysis) {
      // The same arguments and the seed used: the samples behind the analysis.
      var again = {param_updates: request.param_updates, seed: analysis.method.seed};
      if (request.path_to_psa_inputs) { again.path_to_psa_inputs = request.path_to_psa_inputs; }
      return call("POST", "runDARTHmodel", again).then(function (samples) {
        last = {analysis: analysis, samples: samples, wtp: wtp};
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

  var ICER_COLUMNS = ["Strategy", "Cost", "Effect", "Inc_Cost", "Inc_Effect", "ICER", "Status"];

  function format(column, value) {
    if (value === null) { return ""; }
    if (typeof value !== "number") { return String(value); }
    var digits = /Effect/.test(column) ? 3 : 0;
    return value.toLocaleString("en", {minimumFractionDigits: digits, maximumFractionDigits: digits});
  }

  function fillIcers(analysis) {
    var head = $("icers").querySelector("thead"), body = $("icers").querySelector("tbody");
    head.textContent = ""; body.textContent = "";
    var hr = document.createElement("tr");
    ICER_COLUMNS.forEach(function (c) {
      var th = document.createElement("th"); th.textContent = c.replace("_", " "); hr.appendChild(th);
    });
    head.appendChild(hr);
    analysis.icers.forEach(function (row) {
      var tr = document.createElement("tr");
      if (row.Status !== "ND") { tr.className = "dominated"; }
      ICER_COLUMNS.forEach(function (c) {
        var td = cell(tr, format(c, row[c]));
        td.dataset.column = c;
        if (typeof row[c] === "number") { td.dataset.value = String(row[c]); }
      });
      body.appendChild(tr);
    });
  }

  function show(result) {
    $("results").hidden = false;
    fillIcers(result.analysis);
    $("decision").textContent = "Optimal at " + result.wtp.toLocaleString("en") +
      " per QALY (highest expected net benefit): " +
      LivingHtaCharts.optimalAt(result.analysis, result.wtp) +
      ". ND: not dominated; D: dominated; ED: extendedly dominated.";
    return LivingHtaCharts.drawAll(Plotly, {plane: "plane", ceac: "ceac", evpi: "evpi", evppi: "evppi"},
                                   result.analysis, result.samples, result.wtp);
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
    if (target.dataset.csv) {
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
})();
