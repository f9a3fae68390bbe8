"""Files the project generates from its own sources (the IAM policy and the
role READMEs' sections): written, or with --check compared."""

from __future__ import annotations

import sys
from pathlib import Path



def write_or_check(outputs: dict[Path, str], check: bool, how: str, root: Path) -> int:
    """Write each path's text where it differs; with `check`, write nothing
    and return 1 (saying which, below `root`, and `how` to bring them up to
    date) when any differs."""
    stale = []
    for path, text in outputs.items():
        if path.exists() and path.read_text() == text:
            continue
        stale.append(str(path.relative_to(root)))
        if not check:
            path.write_text(text)
    if check and stale:
        print(f"out of date (run: {how}): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0
