"""The registry standing in for ECR: Docker's registry on 127.0.0.1
(scripts/registry), where the image role pushes; the agent pulls from it."""

from __future__ import annotations

from .common import ROOT, run


class Registry:
    def __init__(self, address: str):
        self.address = address  # 127.0.0.1:<port>

    def start(self, env: dict[str, str]) -> None:
        run(["scripts/registry", "start"], env=env, quiet=True, cwd=ROOT)

    def stop(self, env: dict[str, str]) -> None:
        run(["scripts/registry", "stop"], env=env, quiet=True, cwd=ROOT)

    def local_image(self, image: str) -> str:
        """A task definition's image (`<ECR host>/<repo>@sha256:…`) as pushed here."""
        return f"{self.address}/{image.split('/', 1)[1]}"
