"""The documented commands marked `run` and `service` (README.md, docs/),
run as written: the markers are explained in tests/unit/test_docs_blocks.py."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.docs_blocks import BASE_ENV, OWN_FILES, Block, bash, of_kind
from tests.support.paths import ROOT
from tests.support.secret_audit import TEST_KEY
from tests.support.service import gunicorn_server


@pytest.fixture
def workspace(tmp_path) -> Path:
    """A scratch folder where `.venv/bin/...` is the checkout's and the reader's files are."""
    folder = tmp_path / "workspace"
    folder.mkdir()
    (folder / ".venv").symlink_to(ROOT / ".venv")
    for name, text in OWN_FILES.items():
        (folder / name).write_text(text)
    subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-m", "model", "run", "--seed", "1",
                    "--samples", "100", "--save-samples", "samples.csv"],
                   cwd=folder, check=True, capture_output=True)
    return folder


def run_in_order(blocks: list[Block], folder: Path, env: dict[str, str]) -> None:
    failures = []
    for block in blocks:
        done = bash(block.text, folder, env, timeout=600)
        if done.returncode != 0:
            failures.append(f"{block.where} exited {done.returncode}:\n{block.text}"
                            f"--- stdout\n{done.stdout[-2000:]}\n--- stderr\n{done.stderr[-2000:]}")
    assert not failures, "\n\n".join(failures)


def test_run_blocks_run(workspace):
    blocks = of_kind("run")
    assert blocks
    run_in_order(blocks, workspace, BASE_ENV)


def test_service_blocks_run_against_a_service(workspace, tmp_path):
    blocks = of_kind("service")
    assert blocks
    with gunicorn_server(tmp_path, API_KEYS=TEST_KEY) as server:
        run_in_order(blocks, workspace, {**BASE_ENV, "LIVING_HTA_URL": server.url, "LIVING_HTA_KEY": TEST_KEY})
