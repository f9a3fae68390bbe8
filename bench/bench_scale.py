"""Benchmark the PSA at scale, this tree against a baseline tree (issue 16).

    git worktree add /tmp/oldmain 97c888e        # the baseline: main before issue 16
    .venv/bin/python bench/bench_scale.py --baseline /tmp/oldmain [--rounds 5] [--no-write]

Every figure is taken for both trees back to back, alternating which goes
first, over several rounds (the machine is shared: its load moves between
rounds); each cell is the median over rounds of the per-round figure.

* Model, 1000 samples, in a fresh process per tree and round: `draw`,
  `evaluate_psa`, `run_psa` (median of 300 calls after warm-up).  This tree
  twice: plainly, and with the service's malloc tuning (PROCESS_ENV).
* Writers, 1000 × 6: the CSV and JSON writers of both trees, and the
  alternatives measured for this tree's choice.
* Large runs: ``python -m model run --samples N > /dev/null`` wall time and
  peak RSS (wait4), and compute alone (`run_psa` in-process), at 100,000
  and 1,000,000 samples.
* Service: gunicorn (2 workers, each tree's checked-in configuration and
  process environment) on 127.0.0.1 under `wrk`: p50 at concurrency 1 and
  requests/s at 8, the R client's request (CSV).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _results import update_section  # noqa: E402
from bench_service import BODY, LUA, wrk  # noqa: E402
from service.settings import BLAS_THREADS, MALLOC_TUNING  # noqa: E402
from tests.support.net import free_port  # noqa: E402
from tests.support.service import stop  # noqa: E402

PYTHON = str(ROOT / ".venv" / "bin" / "python")

# Prepended to the probes: median and fastest call of each, in ms.
TIMED = r"""
import statistics, time
def timed(calls, warm_up, repeats):
    out = {}
    for name, call in calls.items():
        for _ in range(warm_up):
            call()
        times = []
        for _ in range(repeats):
            start = time.perf_counter(); call(); times.append(time.perf_counter() - start)
        out[name] = statistics.median(times) * 1e3
        out[name + " min"] = min(times) * 1e3
    return out
"""

# Run in a fresh process with the tree first on sys.path: prints one JSON line.
MODEL_PROBE = TIMED + r"""
import json, statistics, time
import numpy as np
import model
table = model.read_table()
samples = model.draw(table, 1000, 1)
results = model.run_psa(table, None, 1)
try:
    from service.resources.run_model import iter_json_records
    def to_json(): return b"".join(iter_json_records(results.values))
except ImportError:
    from service.resources.run_model import json_records
    def to_json(): return json_records(results.values)
calls = {
    "draw": lambda: model.draw(table, 1000, 1),
    "evaluate_psa": lambda: model.evaluate_psa(samples),
    "run_psa": lambda: model.run_psa(table, None, 1),
    "format_csv": lambda: model.format_csv(results),
    "json": to_json,
}
print(json.dumps(timed(calls, warm_up=30, repeats=300)))
"""

COMPUTE_PROBE = r"""
import json, sys, time
import model
n = int(sys.argv[1])
table = model.read_table()
model.run_psa(table, None, 1, 1000)
start = time.perf_counter(); model.draw(table, n, 1); drawn = time.perf_counter() - start
start = time.perf_counter(); model.run_psa(table, None, 1, n); total = time.perf_counter() - start
print(json.dumps({"draw": drawn, "run_psa": total}))
"""

WRITER_PROBE = TIMED + r"""
import json, statistics, time
import numpy as np
import model
from service.resources.run_model import iter_json_records
results = model.run_psa(None, None, 1)
values = results.values
frame = results.to_frame()
cols = model.RESULT_COLUMNS
def template(fmt, n):
    line = ",".join([fmt] * 6) + "\n"
    return (line * n) % tuple(values.ravel().tolist())
def record_template(fmt):
    record = "{" + ",".join(f'"{c}":{fmt}' for c in cols) + "}"
    return "[" + ",".join([record] * len(values)) % tuple(values.ravel().tolist()) + "]"
def csv_savetxt():
    import io
    buffer = io.StringIO(); np.savetxt(buffer, values, fmt="%.17g", delimiter=","); return buffer.getvalue()
calls = {
    "CSV: orjson numbers (this tree's format_csv)": lambda: model.format_csv(results),
    "CSV: one %.17g template (main before)": lambda: template("%.17g", len(values)),
    "CSV: one %r template (shortest repr)": lambda: template("%r", len(values)),
    "CSV: repr per value, joined": lambda: "\n".join([",".join(map(repr, row)) for row in values.tolist()]),
    "CSV: numpy.savetxt %.17g": csv_savetxt,
    "CSV: pandas to_csv %.17g": lambda: frame.to_csv(index=False, float_format="%.17g"),
    "JSON: orjson numbers in one record template (this tree's)": lambda: b"".join(iter_json_records(values)),
    "JSON: one %r record template (main before)": lambda: record_template("%r"),
    "JSON: one %.17g record template": lambda: record_template("%.17g"),
    "JSON: json.dumps of records": lambda: json.dumps([dict(zip(cols, row)) for row in values.tolist()]),
}
print(json.dumps({name: ms for name, ms in timed(calls, warm_up=5, repeats=60).items()
                  if not name.endswith(" min")}))
"""


def tree_env(tree: Path, tuned: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env.update(BLAS_THREADS)
    if tuned:
        env.update(MALLOC_TUNING)
    env["PYTHONPATH"] = str(tree)
    return env


def probe(tree: Path, code: str, *args: str, tuned: bool = False) -> dict:
    done = subprocess.run([PYTHON, "-c", code, *args], cwd=tree, env=tree_env(tree, tuned),
                          capture_output=True, text=True, check=True, timeout=600)
    return json.loads(done.stdout.strip().splitlines()[-1])


def cli_run(tree: Path, n: int, tuned: bool) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of `python -m model run --samples n > /dev/null`."""
    start = time.perf_counter()
    with open(os.devnull, "wb") as sink:
        process = subprocess.Popen([PYTHON, "-m", "model", "run", "--seed", "1", "--samples", str(n)],
                                   cwd=tree, env=tree_env(tree, tuned), stdout=sink)
        _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise RuntimeError(f"model run --samples {n} in {tree} failed ({process.returncode})")
    return wall, usage.ru_maxrss / 1024


def serve(tree: Path, key: str, folder: Path, tuned: bool):
    port = free_port()
    env = tree_env(tree, tuned)
    env.update(API_KEYS=key, WEB_CONCURRENCY="2", GUNICORN_BIND=f"127.0.0.1:{port}")
    log = open(folder / f"gunicorn-{port}.log", "wb")
    process = subprocess.Popen([PYTHON, "-m", "gunicorn", "--config", "python:service.gunicorn_conf",
                                "service.wsgi:application"], cwd=tree, env=env, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    import urllib.request
    while True:
        try:
            urllib.request.urlopen(url + "/health", timeout=1).read()
            return process, url
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                stop(process)
                raise RuntimeError(f"gunicorn from {tree} did not start")
            time.sleep(0.1)


def median(values) -> float:
    return statistics.median(values)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True, help="the tree to compare with")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5, help="length of each wrk run (5)")
    parser.add_argument("--only", choices=["model", "large", "service"],
                        help="one part only (the others' figures are left out)")
    parser.add_argument("--no-write", action="store_true", help="do not update bench/RESULTS.md")
    args = parser.parse_args(argv)
    base, this = args.baseline.resolve(), ROOT
    variants = {"baseline": (base, False), "this tree": (this, False),
                "this tree, PROCESS_ENV": (this, True)}
    loads = [os.getloadavg()[0]]

    parts = {args.only} if args.only else {"model", "large", "service"}
    model_rounds = {name: [] for name in variants}
    for round_ in range(args.rounds if "model" in parts else 0):
        order = list(variants) if round_ % 2 == 0 else list(reversed(variants))
        for name in order:
            tree, tuned = variants[name]
            model_rounds[name].append(probe(tree, MODEL_PROBE, tuned=tuned))
        print("model round", round_ + 1, {n: r[-1] for n, r in model_rounds.items()}, flush=True)
    model_table = {name: {k: median([r[k] for r in rounds]) for k in rounds[0]}
                   for name, rounds in model_rounds.items() if rounds}
    writers = probe(this, WRITER_PROBE) if "model" in parts else {}
    loads.append(os.getloadavg()[0])

    large = {}
    for n in (100_000, 1_000_000) if "large" in parts else ():
        for name in ("baseline", "this tree"):
            tree, _ = variants[name]
            runs = [cli_run(tree, n, tuned=False) for _ in range(3 if n < 1_000_000 else 2)]
            compute = [probe(tree, COMPUTE_PROBE, str(n)) for _ in range(3 if n < 1_000_000 else 2)]
            large[(name, n)] = {
                "wall": min(w for w, _ in runs), "rss": max(r for _, r in runs),
                "run_psa": min(c["run_psa"] for c in compute), "draw": min(c["draw"] for c in compute),
            }
            print("large", name, n, large[(name, n)], flush=True)
    loads.append(os.getloadavg()[0])

    service = {}
    if "service" in parts:
        key = secrets.token_urlsafe(16)
        with tempfile.TemporaryDirectory(prefix="lhta-bench-scale-") as folder:
            script = Path(folder) / "post.lua"
            script.write_text(LUA % {"key": key, "body": BODY})
            results = {"baseline": [], "this tree": []}
            for round_ in range(args.rounds):
                order = ["baseline", "this tree"] if round_ % 2 == 0 else ["this tree", "baseline"]
                for name in order:
                    tree = variants[name][0]
                    process, url = serve(tree, key, Path(folder), tuned=(name == "this tree"))
                    try:
                        wrk(url, script, 2, 1)  # warm-up
                        one, eight = wrk(url, script, 1, args.seconds), wrk(url, script, 8, args.seconds)
                    finally:
                        stop(process)
                    results[name].append((one["p50_ms"], eight["rps"],
                                          one["non_2xx"] + eight["non_2xx"]))
                    print("service", name, results[name][-1], flush=True)
            service = {name: (median([r[0] for r in rows]), median([r[1] for r in rows]),
                              sum(r[2] for r in rows)) for name, rows in results.items()}
    loads.append(os.getloadavg()[0])

    body = report(args, model_table, writers, large, service, loads)
    print(body)
    if not args.no_write:
        update_section("scale", body)
    return 0


def report(args, model_table, writers, large, service, loads) -> str:
    lines = [
        "## Scale (issue 16): this tree against main before it, back to back",
        "",
        "```sh",
        "git worktree add /tmp/oldmain 97c888e   # main before issue 16",
        f".venv/bin/python bench/bench_scale.py --baseline /tmp/oldmain --rounds {args.rounds}"
        f" --seconds {args.seconds}" + (f" --only {args.only}" if args.only else ""),
        "```",
        "",
        f"Each cell: the median over {args.rounds} rounds, the trees alternating which goes "
        "first. Load average (1 min) at the start, after the model, after the large runs, "
        f"after the service: {', '.join(f'{load:.1f}' for load in loads)} on 2 cores — "
        "shared with other work, so compare columns, not these figures with quiet-machine "
        "ones.",
    ]
    if model_table:
        names = list(model_table)
        targets = {"run_psa": "≤ 0.8", "evaluate_psa": "≤ 0.3"}
        lines += [
            "",
            "Model, 1000 samples, ms: the median of 300 calls in a fresh process each round "
            "(under load, preemption by other work lands in it), and the fastest call (what "
            "the code costs when it has a core):",
            "",
            "| call | " + " | ".join(f"{n}: median / fastest" for n in names) + " | target |",
            "|---|" + "---|" * (len(names) + 1),
            *[f"| `{call}` | " + " | ".join(
                f"{model_table[n][call]:.3f} / {model_table[n][call + ' min']:.3f}" for n in names)
              + f" | {targets.get(call, '')} |"
              for call in model_table[names[0]] if not call.endswith(" min")],
            "",
            "`this tree, PROCESS_ENV`: with the malloc tuning the service's processes start "
            "with (service/settings.py); without it each call faults its temporaries in again.",
            "",
            "Writers, 1000 × 6 (ms, median of 60 calls; this tree):",
            "",
            "| writer | ms |",
            "|---|---|",
            *[f"| {name} | {ms:.2f} |" for name, ms in writers.items()],
        ]
    if large:
        lines += [
            "",
            "Large runs (`python -m model run --samples N > /dev/null`: wall s and peak RSS, "
            "min and max of 2–3 runs; compute = `run_psa` in-process, of which sampling = "
            "`draw`, min of 2–3):",
            "",
            "| tree | samples | wall s | peak RSS MiB | compute s | sampling s | compute µs/sample |",
            "|---|---|---|---|---|---|---|",
            *[f"| {name} | {n:,} | {f['wall']:.2f} | {f['rss']:.0f} | {f['run_psa']:.3f} "
              f"| {f['draw']:.3f} | {f['run_psa'] / n * 1e6:.3f} |" for (name, n), f in large.items()],
            "",
            "Targets at 1,000,000: wall ≤ 4 s, peak RSS ≤ 600 MiB, compute ≤ 1.2 s, "
            "µs/sample within 1.3× of 100,000's.",
        ]
    if service:
        lines += [
            "",
            f"Service: gunicorn, 2 workers, on 127.0.0.1; `wrk` {args.seconds} s per level "
            "(after a 1 s warm-up), the R client's request with a CSV answer; each tree with "
            "its own process environment:",
            "",
            "| tree | p50 at c=1 ms | req/s at c=8 | non-2xx |",
            "|---|---|---|---|",
            *[f"| {name} | {p50:.2f} | {rps:.0f} | {bad} |" for name, (p50, rps, bad) in service.items()],
            "",
            "Targets: p50 ≤ 3 ms at c=1, ≥ 600 req/s at c=8.",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
