"""Benchmark the model: `evaluate` and `run` (sample + evaluate) for 1000
samples.  Median of repeated runs (after warm-up) and peak memory.

    .venv/bin/python bench/bench_model.py [--repeats N] [--no-write]

Targets on the 2-core reference machine: evaluate ≤ 2 ms, run ≤ 3 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import model  # noqa: E402
from _results import update_section  # noqa: E402

TARGETS_MS = {"evaluate": 2.0, "run": 3.0, "evaluate_psa": 2.0, "run_psa": 3.0,
              "format_csv": None, "pandas to_csv": None}


def timed(fn, repeats):
    for _ in range(max(5, repeats // 20)):  # warm-up
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    times.sort()
    return statistics.median(times) * 1e3, times[int(0.9 * len(times))] * 1e3


def peak_mib(fn):
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=500)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()

    parameters = model.read_table()
    table = parameters.to_frame()
    drawn = model.draw(parameters, seed=1)
    samples = drawn.to_frame()
    results = model.evaluate(samples)
    cases = {
        "evaluate": lambda: model.evaluate(samples),
        "run": lambda: model.run(inputs=table, seed=1),
        # The same work without pandas: what the service runs.
        "evaluate_psa": lambda: model.evaluate_psa(drawn),
        "run_psa": lambda: model.run_psa(parameters, seed=1),
        "format_csv": lambda: model.format_csv(results),
        # Why format_csv exists (model/results.py): pandas' writer, same precision.
        "pandas to_csv": lambda: results.to_csv(index=False, float_format="%.17g"),
    }
    rows = []
    for name, fn in cases.items():
        median, p90 = timed(fn, args.repeats)
        target = TARGETS_MS[name]
        verdict = "-" if target is None else ("met" if median <= target else "MISSED")
        rows.append(
            f"| `{name}` (1000 samples) | {median:.2f} | {p90:.2f} | {peak_mib(fn):.1f} "
            f"| {'-' if target is None else f'≤ {target:g}'} | {verdict} |"
        )
        print(rows[-1])
    body = "\n".join(
        [
            "## Model",
            "",
            f"Command: `.venv/bin/python bench/bench_model.py --repeats {args.repeats}`",
            "(`run` = sample the PSA from the loaded table + evaluate; the table is parsed",
            "once, as the service does; R original: 2.24 s for `run_model`).",
            "`evaluate` and `run` take and return pandas DataFrames; `evaluate_psa` and",
            "`run_psa` are the same computation on NumPy arrays, which the service runs.",
            "`pandas to_csv` is pandas' writer at the same precision, for comparison with",
            "`format_csv` (why model/results.py formats CSV itself).",
            "",
            "| what | median ms | p90 ms | peak MiB (tracemalloc) | target ms | |",
            "|---|---|---|---|---|---|",
            *rows,
        ]
    )
    if not args.no_write:
        update_section("model", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
