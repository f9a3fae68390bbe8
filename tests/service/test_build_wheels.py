"""scripts/build-wheels.sh builds the image's wheels for the image's platform
(PLATFORM, linux/amd64 by default), not for the build machine: an arm64
laptop must still produce what an x86_64 instance runs, and the reverse."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support.paths import PYTHON, ROOT

pytestmark = pytest.mark.slow


def build_wheels(tmp_path: Path, platform: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PLATFORM": platform, "WHEELS_DIR": str(tmp_path / "wheels"), "PYTHON": PYTHON}
    return subprocess.run([str(ROOT / "scripts/build-wheels.sh")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize(("platform", "arch", "other"), [("linux/arm64", "aarch64", "x86_64"),
                                                         ("linux/amd64", "x86_64", "aarch64")])
def test_wheels_are_for_the_image_platform_whatever_the_machine(tmp_path, platform, arch, other):
    proc = build_wheels(tmp_path, platform)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    wheels = sorted(p.name for p in (tmp_path / "wheels").glob("*.whl"))
    compiled = [w for w in wheels if not w.endswith("-none-any.whl")]
    assert any(w.startswith("living_hta-") for w in wheels)
    assert any(w.startswith("numpy-") for w in compiled), wheels
    # Every compiled wheel is CPython 3.11 for the platform's CPU, none for the other.
    assert all("-cp311-" in w and arch in w and other not in w for w in compiled), compiled
    assert f"for {platform}" in proc.stdout


def test_an_unknown_platform_is_refused(tmp_path):
    proc = build_wheels(tmp_path, "linux/s390x")
    assert proc.returncode == 2
    assert "PLATFORM must be linux/amd64 or linux/arm64, got linux/s390x" in proc.stderr
