"""The tests' ECR-like registry (tests/support/registry.py): the CPU it
spends on two pushes of the API's and the front's images (a first push to
a new registry, then the same again, as a re-deploy makes), at the bcrypt
cost its htpasswd file is written with.  The registry checks the hash on
every request.

    make image && scripts/front-image.sh      # the API's image and the front's (living-hta*:latest)
    .venv/bin/python bench/bench_registry_auth.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support import registry as registry_module  # noqa: E402

IMAGES = ("living-hta:latest", "living-hta-front:latest")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pushes(rounds: int) -> list[tuple[float, float]]:
    registry_module.BCRYPT_ROUNDS = rounds
    figures = []
    with tempfile.TemporaryDirectory() as folder, registry_module.running_registry(
            Path(folder), users={registry_module.MOTO_ECR_USER: registry_module.MOTO_ECR_PASSWORD}) as registry:
        env = {**os.environ, "DOCKER_CONFIG": folder}
        subprocess.run(["docker", "login", "-u", registry_module.MOTO_ECR_USER, "--password-stdin", registry.host],
                       input=registry_module.MOTO_ECR_PASSWORD, text=True, env=env, check=True, capture_output=True)
        for _ in range(2):
            cpu, start = cpu_seconds(registry.process.pid), time.monotonic()
            for image in IMAGES:
                target = f"{registry.host}/{image.split(':')[0]}:bench"
                subprocess.run(["docker", "tag", image, target], check=True)
                subprocess.run(["docker", "push", "-q", target], env=env, check=True, capture_output=True)
            figures.append((cpu_seconds(registry.process.pid) - cpu, time.monotonic() - start))
    return figures


if __name__ == "__main__":
    for rounds in (4096, 16):
        (first_cpu, first_wall), (again_cpu, again_wall) = pushes(rounds)
        print(f"bcrypt 2^{rounds.bit_length() - 1} rounds: first push {first_cpu:.1f} s of the registry's CPU "
              f"({first_wall:.1f} s), again {again_cpu:.1f} s ({again_wall:.1f} s)")
