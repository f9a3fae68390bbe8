"""The analyses' subcommands of ``python -m model``: icers, ceac, exp-loss,
evpi, evppi (per person and, with --population, for the population), and
the sensitivity analyses from the PSA: owsa, tornado, opt-strat, twsa.
Tables go to stdout as CSV with dampack's column names (R
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
from .population import Population
from .psa import PSA, AnalysisError, parse_wtp
from .sensitivity import (
    DEFAULT_POINTS,
    MAX_ORDER,
    MAX_POINTS,
    OUTCOMES,
    one_way,
    optimal_strategies,
    twsa,
)
from .sensitivity import tornado as tornado_table
from .table import Table

COMMANDS = ("icers", "ceac", "exp-loss", "evpi", "evppi", "owsa", "tornado", "opt-strat", "twsa")
WTP_HELP = "willingness to pay per QALY: a list a,b,c or a range start:stop:step (stop included)"
ONE_WTP_HELP = "willingness to pay per QALY (one value)"


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
        if name == "evpi":
            _population_arguments(parser)
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
    _population_arguments(ev)
    _sensitivity_commands(commands)


def _population_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "population value of information",
        "adds a Population_ column beside the per-person one: the figure times the effective "
        "population N × Σ_{t=0}^{T−1} (1+r)^−t (T = 1, r = 0: dampack's pop, a plain multiplier)")
    group.add_argument("--population", type=float, metavar="N",
                       help="people affected by the decision each year")
    group.add_argument("--horizon", type=float, metavar="T",
                       help="years the decision holds (whole years; default 1)")
    group.add_argument("--discount", type=float, metavar="r",
                       help="yearly discount rate of later years' people (0.035 for 3.5 %%; "
                            "default 0)")


def _sensitivity_commands(commands: argparse._SubParsersAction) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("results", metavar="RESULTS.csv", help="the model's results")
    common.add_argument("samples", metavar="SAMPLES.csv",
                        help="the parameter samples the results were computed from, row for row")
    common.add_argument("--points", type=int, default=DEFAULT_POINTS, metavar="M",
                        help=f"grid values per parameter, 2.5 %% to 97.5 %% quantile (dampack's "
                             f"nsamp; default {DEFAULT_POINTS}, at most {MAX_POINTS})")
    common.add_argument("--order", type=int, default=2,
                        help=f"polynomial order of the metamodel (default 2, at most {MAX_ORDER})")
    metamodel = ("by dampack's regression metamodel on the PSA (nothing re-run): least squares of "
                 "each strategy's outcome on the parameter's polynomial")
    for name, text in [
        ("owsa", "one-way sensitivity of each strategy's outcome (dampack's owsa)"),
        ("tornado", "tornado data: the best strategy's net benefit at each parameter's low and "
                    "high value (dampack's owsa_tornado, plus avg, where the bars start)"),
        ("opt-strat", "the optimal strategy as each parameter varies (dampack's owsa_opt_strat)"),
    ]:
        parser = commands.add_parser(name, parents=[common], help=text,
                                     description=f"{text}, {metamodel}.")
        parser.add_argument("--params", metavar="P1,P2,…",
                            help="parameters to vary (default: every parameter whose samples vary)")
        if name == "tornado":
            parser.add_argument("--wtp", required=True, help=ONE_WTP_HELP)
        else:
            parser.add_argument("--outcome", choices=OUTCOMES, default="nmb",
                                help="nmb: net monetary benefit (default; needs --wtp), eff: "
                                     "effect (QALYs), cost" + (
                                         " (the lowest cost is optimal)" if name == "opt-strat"
                                         else ""))
            parser.add_argument("--wtp", help=ONE_WTP_HELP + ", for --outcome nmb")
    tw = commands.add_parser(
        "twsa", parents=[common],
        help="two-way sensitivity of each strategy's outcome (dampack's twsa)",
        description=f"Two-way sensitivity of each strategy's outcome over a grid of two "
                    f"parameters, {metamodel}s and their products.")
    tw.add_argument("--params", required=True, metavar="A,B", help="the two parameters")
    tw.add_argument("--outcome", choices=OUTCOMES, default="nmb",
                    help="nmb (default; needs --wtp), eff or cost")
    tw.add_argument("--wtp", help=ONE_WTP_HELP + ", for --outcome nmb")


def _names(text: str | None) -> list[str] | None:
    if text is None:
        return None
    names = [p.strip() for p in text.split(",") if p.strip()]
    if not names:
        raise AnalysisError("--params names no parameter")
    return names


def _one_wtp(args: argparse.Namespace):
    outcome = getattr(args, "outcome", "nmb")
    if args.wtp is None:
        if outcome == "nmb":
            raise AnalysisError(f"{args.command} of net monetary benefit needs --wtp")
        return None
    if outcome != "nmb":
        raise AnalysisError(f"--wtp is for --outcome nmb, not {outcome}")
    wtp = parse_wtp(args.wtp)
    if wtp.size != 1:
        raise AnalysisError(f"{args.command} takes one willingness to pay, got {wtp.size} values")
    return wtp


def _population(args: argparse.Namespace) -> Population | None:
    if args.population is None:
        given = [f"--{n}" for n in ("horizon", "discount") if getattr(args, n) is not None]
        if given:
            verb = "needs" if len(given) == 1 else "need"
            raise AnalysisError(f"{' and '.join(given)} {verb} --population")
        return None
    return Population(args.population,
                      1 if args.horizon is None else args.horizon,
                      0.0 if args.discount is None else args.discount)


def with_population(table: Table, population: Population | None) -> Table:
    """The table with a Population_<last column> column added: the
    per-person figure times the effective population."""
    if population is None:
        return table
    name = table.columns[-1]
    return Table((*table.columns, f"Population_{name}"),
                 (*table.data, table[name] * population.effective))


def _run_sensitivity(args: argparse.Namespace) -> str:
    wtp = _one_wtp(args)
    psa = read_psa(args.results, args.samples)
    options = {"points": args.points, "order": args.order}
    if args.command == "twsa":
        names = _names(args.params)
        if len(names) != 2:
            raise AnalysisError(f"twsa takes two parameters --params A,B, got {len(names)}")
        return twsa(psa, names, args.outcome, wtp, **options).to_csv()
    outcome = getattr(args, "outcome", "nmb")
    result = one_way(psa, outcome, wtp, parameters=_names(args.params), **options)
    if args.command == "tornado":
        return tornado_table(result).to_csv()
    if args.command == "opt-strat":
        return optimal_strategies(result).to_csv()
    return result.table().to_csv()


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
    if args.command in ("owsa", "tornado", "opt-strat", "twsa"):
        return _run_sensitivity(args)
    wtp = parse_wtp(args.wtp)
    if args.command == "evppi":
        population = _population(args)
        params = [p.strip() for p in args.params.split(",") if p.strip()]
        psa = read_psa(args.results, args.samples)
        table = evppi(psa, wtp, params, method=args.method, order=args.order)
        return with_population(table, population).to_csv()
    if args.command == "evpi":
        population = _population(args)
        return with_population(evpi(read_psa(args.results), wtp), population).to_csv()
    analysis = {"ceac": ceac, "exp-loss": expected_loss}[args.command]
    return analysis(read_psa(args.results), wtp).to_csv()
