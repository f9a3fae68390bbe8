"""Write a benchmark's figures into its own section of bench/RESULTS.md.

Each benchmark owns the text between ``<!-- NAME:begin -->`` and
``<!-- NAME:end -->``; running it again replaces just that section, so the
file always holds the latest figures of every benchmark with its command.
"""

from __future__ import annotations

import platform
import re
import time
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")
PREAMBLE = """# Benchmark results

Latest figures of every benchmark in `bench/`, each with the command that
produced it.  Re-running a benchmark rewrites its own section only.
"""


def machine() -> str:
    import os

    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def update_section(name: str, body: str) -> None:
    text = RESULTS.read_text() if RESULTS.exists() else PREAMBLE
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    block = f"<!-- {name}:begin -->\n{body.rstrip()}\n\n_Measured {stamp} on {machine()}._\n<!-- {name}:end -->"
    pattern = re.compile(rf"<!-- {re.escape(name)}:begin -->.*?<!-- {re.escape(name)}:end -->", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    RESULTS.write_text(text)
