"""Command line: ``python -m model evaluate|run``, the decision analyses
``icers|ceac|exp-loss|evpi|evppi`` and the sensitivity analyses from the
PSA ``owsa|tornado|opt-strat|twsa`` (model/analysis/commands.py).

Results go to stdout as CSV (full double precision, streamed a block of
rows at a time), messages to stderr.
Any bad input ends with a one-line ``error: ...`` and exit status 2, never a
traceback.  ``run`` needs only NumPy; ``evaluate`` reads its samples with
pandas.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from types import SimpleNamespace
from typing import TYPE_CHECKING

import numpy as np

from . import DEFAULT_SAMPLES, STRATEGIES, ModelError, PSAResults, evaluate, run_psa
from .analysis.commands import COMMANDS as ANALYSIS_COMMANDS
from .analysis.commands import add_commands as add_analysis_commands
from .analysis.commands import run_command as run_analysis_command
from .results import iter_csv

if TYPE_CHECKING:
    import pandas as pd

EXIT_USAGE = 2


class CommandError(Exception):
    """A problem with the command's own inputs (files, JSON)."""


def _read_samples(path: str):
    try:
        import pandas as pd
    except ImportError:
        raise CommandError("evaluate reads samples with pandas: pip install pandas") from None
    source = sys.stdin.buffer if path == "-" else path
    try:
        return pd.read_csv(source, encoding="utf-8-sig")
    except FileNotFoundError:
        raise CommandError(f"no such file: {path}") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise CommandError(f"cannot read samples from {path}: {exc}") from None


def _read_updates(path: str | None):
    if path is None:
        return None
    try:
        with open(path, encoding="utf-8-sig") as handle:
            updates = json.load(handle)
    except FileNotFoundError:
        raise CommandError(f"no such file: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CommandError(f"{path} is not valid JSON: {exc}") from None
    # Also accept the reference cases' {"updates": [...]} wrapper.
    if isinstance(updates, dict) and "updates" in updates:
        updates = updates["updates"]
    return updates


def summarise(results: PSAResults | pd.DataFrame) -> str:
    """Mean cost and QALYs per strategy with 95 % intervals, and the
    incremental cost-effectiveness ratio of each treatment against none."""
    lines = [
        f"PSA of {len(results)} samples (discounted, per patient)",
        f"{'strategy':<14}{'cost':>12}{'95% interval':>26}{'QALYs':>9}"
        f"{'95% interval':>18}{'ICER vs none':>15}",
    ]
    column = {name: results.values[:, i] for i, name in enumerate(results.columns)}
    base_c = column["C_No_Treatment"].mean()
    base_e = column["E_No_Treatment"].mean()
    for strategy in STRATEGIES:
        c = column[f"C_{strategy}"]
        e = column[f"E_{strategy}"]
        c_lo, c_hi = np.percentile(c, [2.5, 97.5])
        e_lo, e_hi = np.percentile(e, [2.5, 97.5])
        if strategy == "No_Treatment":
            icer = "-"
        else:
            d_e = e.mean() - base_e
            icer = f"{(c.mean() - base_c) / d_e:,.0f}" if d_e else "n/a"
        lines.append(
            f"{strategy:<14}{c.mean():>12,.0f}  ({c_lo:>10,.0f} – {c_hi:>10,.0f})"
            f"{e.mean():>9.3f}  ({e_lo:>6.3f} – {e_hi:>6.3f}){icer:>15}"
        )
    return "\n".join(lines) + "\n"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m model",
        description="The DARTH Sick-Sicker PSA model (NumPy re-creation of the R original).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    ev = commands.add_parser(
        "evaluate", help="evaluate PSA samples already drawn; results CSV to stdout"
    )
    ev.add_argument(
        "samples", metavar="SAMPLES.csv", help="one column per parameter ('-' for stdin)"
    )
    rn = commands.add_parser("run", help="sample the PSA and evaluate it; results CSV to stdout")
    rn.add_argument("--inputs", metavar="CSV", help="parameter table (default: the original's)")
    rn.add_argument(
        "--updates", metavar="FILE", help="JSON list of {parameter, distribution, v1, v2}"
    )
    rn.add_argument("--seed", type=int, help="random seed (default: fresh entropy)")
    rn.add_argument(
        "--samples", type=int, default=DEFAULT_SAMPLES, metavar="N",
        help=f"number of PSA samples (default {DEFAULT_SAMPLES})",
    )
    rn.add_argument(
        "--save-samples", metavar="FILE",
        help="also write the drawn samples (one column per parameter) to FILE, e.g. for evppi",
    )
    rn.add_argument(
        "--summary", action="store_true",
        help="print a summary table instead of the samples' results",
    )
    add_analysis_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command in ANALYSIS_COMMANDS:
            return _write([run_analysis_command(args).encode()])
        if args.command == "evaluate":
            results = evaluate(_read_samples(args.samples))
        else:
            if args.samples < 1:
                raise CommandError(f"--samples must be at least 1, got {args.samples}")
            if args.inputs is not None:
                try:
                    open(args.inputs, "rb").close()
                except OSError as exc:
                    raise CommandError(f"cannot open {args.inputs}: {exc.strerror}") from None
            results = run_psa(
                args.inputs,
                updates=_read_updates(args.updates),
                seed=args.seed,
                n_samples=args.samples,
            )
            if args.save_samples is not None:
                _save_samples(results.samples, args.save_samples)
    except (ModelError, CommandError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if getattr(args, "summary", False):
        return _write([summarise(results).encode()])
    # The CSV goes out a block of rows at a time: a large run never holds
    # its whole text in memory.
    return _write(iter_csv(results))


def _save_samples(samples, path: str) -> None:
    table = SimpleNamespace(values=np.column_stack(list(samples.columns.values())),
                            columns=samples.names)
    try:
        with open(path, "wb") as handle:
            for piece in iter_csv(table):
                handle.write(piece)
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {exc.strerror}") from None


def _write(pieces: Iterable[bytes]) -> int:
    try:
        for piece in pieces:
            sys.stdout.buffer.write(piece)
        sys.stdout.flush()
    except BrokenPipeError:  # `| head` is fine
        sys.stderr.close()
    return 0
