"""The shell blocks of README.md and docs/**/*.md and the marker above each
(the convention: tests/unit/test_docs_blocks.py, docs/documented-commands.md).
Found in the files each time, so a block anyone adds is seen."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support.paths import ROOT

SHELLS = {"sh", "bash", "shell", "console"}
KINDS = {"run", "service", "emulator", "aws", "syntax"}
MARKER = re.compile(r"<!--\s*docs-test:\s*(?P<kind>[a-z]+)(?::\s*(?P<reason>.*?))?\s*-->")
FENCE = re.compile(r"^(?P<indent>\s*)(?P<ticks>`{3,})(?P<info>[^`\s]*)\s*$")
# A plain environment: no AWS settings or keys of the machine running the tests.
BASE_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": str(Path.home()), "LANG": "C.UTF-8"}
# Files the documented commands take as the reader's own (run and service blocks).
OWN_FILES = {
    "updates.json": '[{"parameter": "p_HS1", "distribution": "beta", "v1": 25, "v2": 150}]\n',
    "strategies.csv": "Strategy,Cost,Effect\nA,0,0\nB,100,1\nC,250,2\nD,300,3\n",
}


@dataclass
class Block:
    path: Path
    line: int  # of the opening fence, 1-based
    kind: str | None
    reason: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]


def shell_blocks(path: Path) -> list[Block]:
    """The shell blocks of a Markdown file, with the marker above each
    (blank lines between allowed; a fence of four backticks hides what it holds)."""
    lines = path.read_text().splitlines()
    blocks, index = [], 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        indent, end = len(opening["indent"]), index + 1
        while end < len(lines) and lines[end].strip() != opening["ticks"]:
            end += 1
        if opening["info"] in SHELLS:
            above = index - 1
            while above >= 0 and not lines[above].strip():
                above -= 1
            marker = MARKER.search(lines[above]) if above >= 0 else None
            body = "\n".join(line[indent:] if line[:indent].isspace() else line.lstrip()
                             for line in lines[index + 1:end])
            blocks.append(Block(path, index + 1, marker["kind"] if marker else None,
                                (marker["reason"] or "") if marker else "", body + "\n"))
        index = end + 1
    return blocks


def all_blocks() -> list[Block]:
    return [block for path in documents() for block in shell_blocks(path)]


def of_kind(*kinds: str) -> list[Block]:
    return [block for block in all_blocks() if block.kind in kinds]


def bash(script: str, cwd: Path, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    """A block (or several) as one `bash -e -o pipefail` script."""
    return subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)
