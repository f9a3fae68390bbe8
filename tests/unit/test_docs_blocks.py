"""Every shell block of README.md and docs/**/*.md says how it is tested.

Blocks are found in the files when the tests run (anyone may add one), and
each carries a marker: an HTML comment, invisible on the rendered page, on
the line just above its fence (blank lines between are allowed; inside a
list, indented like the fence).  docs/documented-commands.md says the same
for writers.

    <!-- docs-test: run -->
        Run in a scratch folder (the checkout's .venv linked in), each block
        alone with `bash -e -o pipefail`, in document order: a file one block
        writes, a later one may read.  Files a block names as the reader's own
        (updates.json, strategies.csv, samples.csv: OWN_FILES in
        tests/support/docs_blocks.py) are there first.  Must exit 0.
        (tests/service/test_docs_commands.py)
    <!-- docs-test: service -->
        As `run`, with LIVING_HTA_URL and LIVING_HTA_KEY naming a service
        started for the test (gunicorn on a free port).
        (tests/service/test_docs_commands.py)
    <!-- docs-test: emulator -->
        All such blocks of all files together, in document order, as one
        script in a fresh clone of the committed HEAD, with MOTO_PORT and
        REGISTRY_PORT set to free ports: the blocks start and use the
        emulator and the registry themselves.  The reader's cert.pem and
        key.pem are there first.  Must exit 0, every ansible-playbook run
        with failed=0, every teardown finding nothing left; the test stops
        the emulator and the registry afterwards.
        (tests/e2e/test_docs_emulator.py)
    <!-- docs-test: aws -->
        Needs a real AWS account, or a deployment or host of the reader's
        own: checked with `bash -n` only (here).
    <!-- docs-test: syntax: REASON -->
        `bash -n` only (here), for a block that cannot end by itself or that
        another test runs (a server in the foreground, `make test`, the
        demo); the reason is required.

A shell block (```sh, bash, shell, console) without a marker fails
`test_every_shell_block_says_how_it_is_tested`, naming file and line.
"""

from __future__ import annotations

import re
import subprocess

from tests.support.docs_blocks import KINDS, all_blocks, of_kind
from tests.support.paths import ROOT


def test_every_shell_block_says_how_it_is_tested():
    blocks = all_blocks()
    assert len(blocks) > 10, "no shell blocks found: has the fence syntax changed?"
    unmarked = [b.where for b in blocks if b.kind is None]
    assert not unmarked, (
        f"shell blocks without a <!-- docs-test: KIND --> line above them: {unmarked}; "
        f"KIND is one of {sorted(KINDS)} (see docs/documented-commands.md)")
    unknown = [(b.where, b.kind) for b in blocks if b.kind not in KINDS]
    assert not unknown, f"unknown docs-test kinds: {unknown}; known: {sorted(KINDS)}"
    unexplained = [b.where for b in blocks if b.kind == "syntax" and not b.reason.strip()]
    assert not unexplained, f"<!-- docs-test: syntax: REASON --> needs its reason: {unexplained}"
    # A reason that names the test running the commands names one that exists.
    gone = [(b.where, name) for b in blocks for name in re.findall(r"tests/[\w/]+\.py", b.reason)
            if not (ROOT / name).is_file()]
    assert not gone, f"docs-test reasons name tests that do not exist: {gone}"
    # The deployment against the emulator is documented, and run.
    assert of_kind("emulator"), "no block is marked emulator"


def test_blocks_that_are_only_parsed_are_valid_shell():
    failures = []
    for block in of_kind("aws", "syntax"):
        parsed = subprocess.run(["bash", "-n"], input=block.text, capture_output=True, text=True)
        if parsed.returncode != 0:
            failures.append(f"{block.where}: {parsed.stderr.strip()}")
    assert not failures, "\n".join(failures)
