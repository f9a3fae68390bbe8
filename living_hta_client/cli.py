"""python -m living_hta_client report: the living-HTA loop's one step.

    python -m living_hta_client report --url https://hta.example.org \\
        --key-file ~/.living-hta-key --updates updates.json --seed 2026 \\
        --wtp 100000 --out reports/latest --previous reports/latest/summary.json

writes OUT/report.html (self-contained) and OUT/summary.json (machine-
readable: provenance, the decision at the WTP, what changed), and exits

    0  unchanged since the previous run (or no previous run)
    3  the decision changed: the optimal strategy at the WTP
    4  something moved beyond a threshold (a frontier ICER, a probability of
       being cost-effective, the frontier itself), the decision did not
    1  the service refused or could not be reached; 2  bad usage

The key comes from --key-file or the LIVING_HTA_KEY environment variable,
never from the command line (which other users and shell histories see).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import urllib.parse
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from . import changes
from .api import ApiError, Client
from .report import render

EXIT_UNCHANGED, EXIT_ERROR, EXIT_USAGE, EXIT_DECISION_CHANGED, EXIT_CHANGED = 0, 1, 2, 3, 4
EXIT_STATUS = {changes.UNCHANGED: EXIT_UNCHANGED, changes.FIRST_RUN: EXIT_UNCHANGED,
               changes.CHANGED: EXIT_CHANGED, changes.DECISION_CHANGED: EXIT_DECISION_CHANGED}
KEY_ENV = "LIVING_HTA_KEY"
# The page's scripts the report embeds, taken from the service it reports on.
REPORT_SCRIPTS = ("/page/plotly.min.js", "/page/charts.js")


class UsageError(Exception):
    pass


def wtp_range(text: str) -> tuple[float, float, float]:
    """start:stop:step, checked."""
    try:
        start, stop, step = (float(part) for part in text.split(":"))
    except ValueError:
        raise UsageError(f"--wtp-range {text!r}: give start:stop:step, e.g. 0:200000:5000") from None
    if not (0 <= start <= stop and step > 0 and math.isfinite(stop)):
        raise UsageError(f"--wtp-range {text!r}: need 0 ≤ start ≤ stop and step > 0")
    return start, stop, step


def wtp_grid(text: str, decision_wtp: float, max_points: int | None) -> list[float]:
    """start:stop:step (stop included), with the decision's WTP added; at
    most `max_points` values (the service's limit, from its OpenAPI
    document; None: the service's own 400 says it)."""
    start, stop, step = wtp_range(text)
    count = int(math.floor((stop - start) / step + 1e-9)) + 1
    cap = count if max_points is None else min(count, max_points + 1)
    grid = sorted({start + i * step for i in range(cap)} | {decision_wtp})
    if max_points is not None and len(grid) > max_points:
        raise UsageError(f"--wtp-range {text!r} with --wtp has {len(grid)} values; "
                         f"the service takes at most {max_points}")
    return grid


def read_key(key_file: str | None) -> str:
    if key_file:
        try:
            key = Path(key_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise UsageError(f"--key-file {key_file}: {exc.strerror}") from None
    else:
        key = os.environ.get(KEY_ENV, "").strip()
    if not key:
        raise UsageError(f"no API key: give --key-file FILE or set {KEY_ENV} "
                         "(never on the command line)")
    if any(not 0x20 < ord(c) < 0x7F for c in key):
        # An HTTP header can't carry it; say so without quoting it.
        source = f"--key-file {key_file}" if key_file else KEY_ENV
        raise UsageError(f"the API key from {source} has spaces, line breaks or other "
                         "characters a key never has: give the key alone")
    return key


def read_json(path: str, what: str):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{what} {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{what} {path} is not JSON: {exc}") from None


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="python -m living_hta_client", allow_abbrev=False,
                                   description=__doc__.split("\n\n")[0])
    commands = main.add_subparsers(dest="command", required=True)
    report = commands.add_parser(
        "report", allow_abbrev=False,  # so that --key cannot stand for --key-file
        formatter_class=argparse.RawDescriptionHelpFormatter,
        help="run the analysis and write the report; compare with the previous run",
        description=__doc__.split("\n\n", 1)[1])
    report.add_argument("--url", required=True, help="the deployment, e.g. https://hta.example.org")
    report.add_argument("--key-file", help=f"file holding the API key (default: ${KEY_ENV})")
    report.add_argument("--ca-file", help="CA certificate(s) to verify the service's TLS with")
    report.add_argument("--updates", help="JSON file: the param_updates records "
                        "(default: the service's default updates)")
    report.add_argument("--dataset", help="path_to_psa_inputs (default: the service's)")
    report.add_argument("--seed", type=int, help="seed (default: the service picks one and "
                        "the report records it); fix it so that runs differ only by their data")
    report.add_argument("--wtp", type=float, default=100000.0,
                        help="the decision's willingness to pay per QALY (default 100000)")
    report.add_argument("--wtp-range", default="0:200000:5000",
                        help="the curves' WTP grid, start:stop:step (default 0:200000:5000)")
    report.add_argument("--evppi", action="append", default=[], metavar="NAME[,NAME...]",
                        help="a parameter group whose EVPPI to compute (repeatable)")
    report.add_argument("--population", type=float, metavar="N",
                        help="people a year the decision affects: population EVPI and EVPPI "
                        "(default: the dataset's, when it states one)")
    report.add_argument("--horizon", type=int, default=1, metavar="YEARS",
                        help="years the decision applies for (default 1; with --population)")
    report.add_argument("--discount", type=float, default=0.0, metavar="RATE",
                        help="yearly discount rate of later years' people (default 0; "
                        "0.035 for 3.5 %%; with --population)")
    report.add_argument("--twsa", metavar="A,B", help="the two-way sensitivity's pair "
                        "(default: the two parameters with the largest EVPPI alone)")
    report.add_argument("--out", required=True, help="folder for report.html and summary.json")
    report.add_argument("--previous", help="the previous run's summary.json to compare with "
                        "(a missing file: first run)")
    report.add_argument("--icer-threshold", type=float, default=changes.Thresholds.icer,
                        help="relative move of a frontier ICER that counts (default 0.05)")
    report.add_argument("--probability-threshold", type=float,
                        default=changes.Thresholds.probability,
                        help="absolute move of a probability of being cost-effective that "
                             "counts (default 0.05)")
    return main


def run_report(args: argparse.Namespace) -> int:
    key = read_key(args.key_file)
    wtp_range(args.wtp_range)  # a typo is said before anything is asked of the service
    request: dict = {"evppi": [group.split(",") for group in args.evppi]}
    if args.updates:
        request["param_updates"] = read_json(args.updates, "--updates")
    if args.dataset:
        request["path_to_psa_inputs"] = args.dataset
    if args.seed is not None:
        request["seed"] = args.seed
    previous = None
    if args.previous and Path(args.previous).exists():
        previous = read_json(args.previous, "--previous")
        if not isinstance(previous, dict) or not isinstance(previous.get("decision"), dict):
            raise UsageError(f"--previous {args.previous} is not a summary.json of this command")
    if args.icer_threshold < 0 or args.probability_threshold < 0:
        raise UsageError("thresholds must be ≥ 0")
    if args.population is not None:
        request["population"] = {"size": args.population, "horizon": args.horizon,
                                 "discount": args.discount}
    elif args.horizon != 1 or args.discount != 0:
        raise UsageError("--horizon and --discount need --population")
    pair = None
    if args.twsa is not None:
        pair = [name.strip() for name in args.twsa.split(",")]
        if len(pair) != 2 or pair[0] == pair[1] or not all(pair):
            raise UsageError(f"--twsa {args.twsa!r}: give two different parameters, A,B")
    # One-way sensitivity of every offered parameter, at the decision's WTP.
    request["sensitivity"] = {"wtp": args.wtp, "owsa": "*"}

    if args.ca_file and not Path(args.ca_file).is_file():
        raise UsageError(f"--ca-file {args.ca_file}: no such file")
    client = Client(args.url, key, ca_file=args.ca_file)
    request["wtp"] = wtp_grid(args.wtp_range, args.wtp, client.max_wtp_points())
    answer = client.analysis(request)
    analysis = answer.body
    seed = analysis["method"]["seed"]
    # The plane's samples: the same arguments with the seed the analysis used.
    again = {k: request[k] for k in ("param_updates", "path_to_psa_inputs") if k in request}
    samples = client.samples({**again, "seed": seed})
    parameters = client.call("GET", "/parameters" + (
        "?" + urllib.parse.urlencode({"path_to_psa_inputs": args.dataset})
        if args.dataset else "")).body
    inputs = effective_inputs(parameters, request.get("param_updates"))
    # Every varying parameter's EVPPI alone at the WTP (BCEA's info.rank), same PSA.
    ranking = evppi_ranking(client, {**again, "seed": seed}, inputs, args.wtp)
    if pair is None:
        pair = [row["parameter"] for row in sorted(ranking, key=lambda r: -r["EVPPI"])[:2]]
    if len(pair) == 2:
        two_way = client.analysis({**again, "seed": seed, "wtp": [args.wtp],
                                   "sensitivity": {"wtp": args.wtp, "owsa": [],
                                                   "twsa": pair}}).body
        analysis["sensitivity"]["twsa"] = two_way["sensitivity"]["twsa"]

    decision = changes.decision_of(analysis, args.wtp)
    summary = {
        "format": 2,
        "provenance": provenance(args, client, analysis, answer.headers, request, seed),
        "decision": decision,
        "value_of_information": changes.value_of_information(analysis, args.wtp, ranking),
        "units": analysis["method"].get("units"),
        "inputs": inputs,
        "comparison": None,
    }
    if previous is not None:
        summary["comparison"] = {
            "previous_generated_at": previous.get("provenance", {}).get("generated_at"),
            **changes.compare(previous["decision"], decision, changes.Thresholds(
                args.icer_threshold, args.probability_threshold)),
            "input_changes": changes.compare_inputs(previous.get("inputs"), inputs),
        }
    status = summary["comparison"]["status"] if previous is not None else changes.FIRST_RUN
    summary["status"] = status

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    scripts = [client.fetch(path).decode("utf-8", "replace") for path in REPORT_SCRIPTS]
    (out / "report.html").write_text(render(analysis, samples, summary, scripts, ranking),
                                     encoding="utf-8")
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    print(f"{status}: optimal at {args.wtp:,.0f} per QALY is {decision['optimal']}; "
          f"report {out / 'report.html'}")
    for change in (summary["comparison"] or {}).get("changes", []):
        print(f"  - {change['message']}")
    for change in (summary["comparison"] or {}).get("input_changes", []):
        print(f"  - input {change['message']}")
    return EXIT_STATUS[status]


MAX_EVPPI_GROUPS = 10  # the service's limit of EVPPI groups a request


def effective_inputs(parameters: dict, updates: list | None) -> list[dict]:
    """The editable parameters as the run used them: the dataset's values with
    the updates (the request's, or the service's defaults) applied.  Only
    what GET /parameters lists: the data owner's other rows never appear."""
    applied = {u["parameter"]: u for u in (
        parameters.get("default_updates", []) if updates is None else updates)}
    rows = []
    for row in parameters["parameters"]:
        update = applied.get(row["parameter"])
        used = update or row
        rows.append({"parameter": row["parameter"], "distribution": used["distribution"],
                     "v1": used["v1"], "v2": used.get("v2"), "updated": update is not None})
    return rows


def evppi_ranking(client: Client, base: dict, inputs: list[dict], wtp: float) -> list[dict]:
    names = [row["parameter"] for row in inputs if row["distribution"] != "fixed"]
    ranking = []
    for start in range(0, len(names), MAX_EVPPI_GROUPS):
        answer = client.analysis({**base, "wtp": [wtp],
                                  "evppi": names[start:start + MAX_EVPPI_GROUPS]}).body
        ranking += [{"parameter": group["parameters"][0], "WTP": wtp,
                     "EVPPI": group["values"][0]["EVPPI"]} for group in answer["evppi"]]
    return ranking


def provenance(args, client: Client, analysis: dict, headers: dict, request: dict,
               seed) -> dict:
    """When, where, what was asked, and what the service says of itself: its
    provenance receipt (in the body, or X-* headers) when it sends one."""
    receipt = analysis.get("provenance") or {
        name.lower(): value for name, value in headers.items() if name.lower() in (
            "x-run-id", "x-service-version", "x-image-digest", "x-dataset-sha256", "x-seed")}
    return {
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "endpoint": client.url + "/analysis",
        "dataset": analysis["method"].get("dataset"),
        "seed": seed,
        "updates": request.get("param_updates", "the service's default updates"),
        "wtp": args.wtp,
        "wtp_range": args.wtp_range,
        "evppi": request["evppi"],
        "api_version": client.api_version(),
        "service_receipt": receipt or None,
        "client_version": _version(),
    }


def _version() -> str:
    try:
        return metadata.version("living-hta")
    except metadata.PackageNotFoundError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return run_report(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ApiError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
