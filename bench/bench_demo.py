"""Time the main job, `make demo`, from a fresh clone and with set-up done.

    .venv/bin/python bench/bench_demo.py [--cold] [--no-write]

1. fresh: `git clone` of this repository into a temporary folder, then
   `make demo` there: creates .venv (pip, from the machine's pip cache),
   checks the Debian packages, builds the wheels and the images (API, front,
   load balancer), starts the emulator and the registry, deploys the
   load_balanced topology, runs the replicas and the load balancer, calls it.
   With --cold, the project's Docker images (stand-in base, build cache,
   app) are removed first, so the base image is bootstrapped from Debian's
   archive and the image built from scratch, as on a new machine.
2. warm: `make demo-down`, then `make demo` again in the same clone.
Both end with `make demo-down`.  Targets: fresh ≤ 3 min, warm ≤ 60 s.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import update_section  # noqa: E402


def make(clone: Path, target: str) -> float:
    start = time.monotonic()
    proc = subprocess.run(["make", target], cwd=clone, capture_output=True, text=True)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        print(proc.stdout[-4000:], proc.stderr[-4000:], file=sys.stderr)
        raise SystemExit(f"make {target} failed")
    return elapsed


def remove_project_images() -> None:
    images = subprocess.run(
        ["docker", "images", "--format", "{{.Repository}}:{{.Tag}}"],
        capture_output=True, text=True, check=True,
    ).stdout.split()
    ours = [i for i in images if i.split(":")[0] in ("living-hta-base", "living-hta", "living-hta-build",
                                                     "living-hta-front", "living-hta-front-base", "living-hta-lb")
            or i.split(":")[0].rsplit("/", 1)[-1] in ("living-hta-local", "living-hta-local-front")]
    if ours:
        subprocess.run(["docker", "rmi", "-f", *ours], capture_output=True, check=False)
    subprocess.run(["docker", "builder", "prune", "-af"], capture_output=True, check=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true", help="remove the project's images first")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if args.cold:
        remove_project_images()
    with tempfile.TemporaryDirectory(prefix="lhta-bench-demo-") as tmp:
        clone = Path(tmp) / "living-hta"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        fresh = make(clone, "demo")
        down = make(clone, "demo-down")
        warm = make(clone, "demo")
        down_again = make(clone, "demo-down")
    rows = [
        f"| `make demo`, fresh clone{' (cold: images removed first)' if args.cold else ''} | {fresh:.0f} s | ≤ 180 s |",
        f"| `make demo`, set-up done | {warm:.0f} s | ≤ 60 s |",
        f"| `make demo-down` | {down:.0f} s, {down_again:.0f} s | |",
    ]
    print("\n".join(rows))
    if not args.no_write:
        cold = " --cold" if args.cold else ""
        update_section("demo", "\n".join([
            "## Demo",
            "",
            f"Command: `.venv/bin/python bench/bench_demo.py{cold}` (a fresh `git clone`, then `make demo`,",
            "`make demo-down`, `make demo` again, `make demo-down`).  The fresh run creates `.venv`",
            "from the machine's pip cache; the Debian packages were already installed"
            + ("; the project's Docker images had been removed, so the stand-in base image was"
               " bootstrapped from Debian's archive and the image built from scratch." if args.cold else "."),
            "",
            "| run | wall time | target |",
            "|---|---|---|",
            *rows,
        ]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
