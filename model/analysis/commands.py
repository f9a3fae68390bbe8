"""The analyses' subcommands of ``python -m model``: icers, ceac, exp-loss,
evpi, evppi.  Tables go to stdout as CSV with dampack's column names (R
users read them the same way: NA for missing, TRUE/FALSE); bad input
raises `AnalysisError`, which the command line prints as ``error: …``
with exit status 2.  CSV is read without pandas.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys

import numpy as np

from .decision import ceac, evpi, expected_loss
from .evppi import METHODS, evppi
from .icers import calculate_icers, calculate_icers_psa
from .psa import PSA, AnalysisError, parse_wtp
from .table import Table

COMMANDS = ("icers", "ceac", "exp-loss", "evpi", "evppi")
WTP_HELP = "willingness to pay per QALY: a list a,b,c or a range start:stop:step (stop included)"


def read_csv(path: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a CSV file ('-' for stdin); a byte-order mark and
    R's quoted headers are fine."""
    try:
        if path == "-":
            text = sys.stdin.buffer.read().decode("utf-8-sig")
        else:
            with open(path, encoding="utf-8-sig", newline="") as handle:
                text = handle.read()
    except FileNotFoundError:
        raise AnalysisError(f"no such file: {path}") from None
    except OSError as exc:
        raise AnalysisError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise AnalysisError(f"{path} is not UTF-8 text") from None
    try:
        rows = [row for row in csv.reader(io.StringIO(text, newline="")) if row]
    except csv.Error as exc:
        raise AnalysisError(f"{path} is not valid CSV: {exc}") from None
    if len(rows) < 2:
        raise AnalysisError(f"{path} needs a header line and at least one row")
    header = [name.strip() for name in rows[0]]
    for number, row in enumerate(rows[1:], start=1):
        if len(row) != len(header):
            raise AnalysisError(
                f"{path} row {number}: {len(row)} fields, the header has {len(header)}"
            )
    return header, rows[1:]


def _numbers(path: str, header: list[str], rows: list[list[str]], columns) -> np.ndarray:
    index = [header.index(c) for c in columns]
    values = np.empty((len(rows), len(index)))
    for r, row in enumerate(rows):
        for c, i in enumerate(index):
            try:
                values[r, c] = float(row[i])
            except ValueError:
                raise AnalysisError(
                    f"{path} row {r + 1}, column {header[i]}: {row[i]!r} is not a number"
                ) from None
    return values


def read_numeric(path: str) -> tuple[list[str], np.ndarray]:
    header, rows = read_csv(path)
    return header, _numbers(path, header, rows, header)


def read_psa(results_path: str, samples_path: str | None = None) -> PSA:
    """A PSA from the model's results CSV (C_<strategy>, E_<strategy>
    columns) and, for EVPPI, the samples CSV (one column per parameter, as
    many rows)."""
    columns, values = read_numeric(results_path)
    parameters, names = None, ()
    if samples_path is not None:
        names, parameters = read_numeric(samples_path)
        if len(parameters) != len(values):
            raise AnalysisError(
                f"{samples_path} has {len(parameters)} samples, {results_path} {len(values)} results"
            )
    return PSA.from_columns(values, columns, parameters, names)


def read_strategies(path: str) -> Table:
    """A plain strategy table: columns Strategy, Cost, Effect."""
    header, rows = read_csv(path)
    missing = [c for c in ("Strategy", "Cost", "Effect") if c not in header]
    if missing:
        raise AnalysisError(
            f"{path} needs columns Strategy, Cost, Effect; missing {', '.join(missing)}"
        )
    numbers = _numbers(path, header, rows, ["Cost", "Effect"])
    names = [row[header.index("Strategy")] for row in rows]
    return calculate_icers(numbers[:, 0], numbers[:, 1], names)


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register the analyses' subcommands on the model's command line."""
    icers = commands.add_parser(
        "icers", help="ICER table with dominance (dampack's calculate_icers[_psa])",
        description="ICERs on the PSA's mean costs and QALYs, or on a plain strategy table.",
    )
    icers.add_argument("results", nargs="?", metavar="RESULTS.csv",
                       help="the model's results (C_<strategy>, E_<strategy> columns; '-': stdin)")
    icers.add_argument("--strategies", metavar="TABLE.csv",
                       help="instead of RESULTS.csv: a table with columns Strategy, Cost, Effect")
    icers.add_argument("--uncertainty", action="store_true",
                       help="add the 95 %% intervals of each strategy's cost and effect")
    for name, text in [
        ("ceac", "cost-effectiveness acceptability curve and frontier (dampack's ceac)"),
        ("exp-loss", "expected loss of each strategy (dampack's calc_exp_loss)"),
        ("evpi", "expected value of perfect information (dampack's calc_evpi)"),
    ]:
        parser = commands.add_parser(name, help=text, description=text)
        parser.add_argument("results", metavar="RESULTS.csv", help="the model's results ('-': stdin)")
        parser.add_argument("--wtp", required=True, help=WTP_HELP)
    ev = commands.add_parser(
        "evppi", help="expected value of partial perfect information of one parameter group",
        description="EVPPI of one group of parameters by regression (dampack's calc_evppi).",
    )
    ev.add_argument("results", metavar="RESULTS.csv", help="the model's results")
    ev.add_argument("samples", metavar="SAMPLES.csv",
                    help="the parameter samples the results were computed from, row for row")
    ev.add_argument("--params", required=True, metavar="P1,P2,…", help="the group's parameters")
    ev.add_argument("--wtp", required=True, help=WTP_HELP)
    ev.add_argument("--method", choices=METHODS, default="poly",
                    help="poly: polynomial least squares (dampack's default); gam: penalised "
                         "regression spline, smoothness by GCV (as dampack's mgcv)")
    ev.add_argument("--order", type=int, default=2, help="polynomial order (poly; default 2)")


def run_command(args: argparse.Namespace) -> str:
    """The CSV text of an analysis subcommand."""
    if args.command == "icers":
        if (args.results is None) == (args.strategies is None):
            raise AnalysisError("icers takes RESULTS.csv or --strategies TABLE.csv (one of them)")
        if args.strategies is not None:
            if args.uncertainty:
                raise AnalysisError("--uncertainty needs the PSA's results, not a strategy table")
            return read_strategies(args.strategies).to_csv()
        return calculate_icers_psa(read_psa(args.results), args.uncertainty).to_csv()
    wtp = parse_wtp(args.wtp)
    if args.command == "evppi":
        params = [p.strip() for p in args.params.split(",") if p.strip()]
        psa = read_psa(args.results, args.samples)
        return evppi(psa, wtp, params, method=args.method, order=args.order).to_csv()
    analysis = {"ceac": ceac, "exp-loss": expected_loss, "evpi": evpi}[args.command]
    return analysis(read_psa(args.results), wtp).to_csv()
