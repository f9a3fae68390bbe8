"""The image role end to end, offline: an ECR login from the moto server, a
real push to a real registry on 127.0.0.1 that accepts only that login, a
pull of the pushed digest, and a second run that changes nothing.

The molecule scenario (roles/image/molecule/default) does converge,
idempotence, verify (registry manifests, pull by digest) and cleanup; these
tests start what it needs and check what it must never print.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from standins.common import mitogen_strategy
from tests.support.aws_proxy import aws_proxy, json_error
from tests.support.moto import DUMMY_CREDENTIALS
from tests.support.net import free_port
from tests.support.paths import ROOT
from tests.support.registry import MOTO_ECR_PASSWORD, MOTO_ECR_USER, running_registry

VENV_BIN = Path(sys.executable).parent
# What must never appear in any output: the password and the token it came in.
SECRETS = [MOTO_ECR_PASSWORD, base64.b64encode(f"{MOTO_ECR_USER}:{MOTO_ECR_PASSWORD}".encode()).decode()]

pytestmark = pytest.mark.slow


def ansible_env(moto_endpoint: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    (tmp_path / "docker-config").mkdir(exist_ok=True)
    return {
        **os.environ,
        **DUMMY_CREDENTIALS,
        "AWS_ENDPOINT_URL": moto_endpoint,
        # The login goes to a throw-away Docker client config, not ~/.docker.
        "DOCKER_CONFIG": str(tmp_path / "docker-config"),
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "NO_COLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        **mitogen_strategy(),
        **extra,
    }


def test_molecule_scenario(moto_endpoint, api_image, tmp_path):
    # api_image: the layers are cached, so the role's build takes seconds.
    with running_registry(tmp_path / "registry", users={MOTO_ECR_USER: MOTO_ECR_PASSWORD}) as registry, \
            aws_proxy(moto_endpoint) as proxy:  # as every deploy of the tests: through the AWS proxy
        env = ansible_env(
            proxy.url, tmp_path,
            IMAGE_REGISTRY=registry.host,
            ANSIBLE_CONFIG="",  # molecule writes its own ansible.cfg
            MOLECULE_EPHEMERAL_DIRECTORY=str(tmp_path / "molecule"),
        )
        proc = subprocess.run([str(VENV_BIN / "molecule"), "test", "-s", "default"],
                              cwd=ROOT / "roles" / "image", env=env,
                              capture_output=True, text=True, timeout=900)
        output = proc.stdout + proc.stderr
        if proc.returncode != 0:
            at = output.find("FAILED!")
            detail = output[max(0, at - 3000): at + 3000] if at >= 0 else output[-8000:]
            pytest.fail(f"molecule test failed for the image role:\n{detail}\n...\n{output[-1500:]}")
        for step in ("converge", "idempotence", "verify", "cleanup"):
            assert f"{step}: Executed: Successful" in output, f"{step} did not run:\n{output[-4000:]}"
        # The push really happened (converge), and cleanup took only local tags.
        assert set(registry.tags("lhta-mol-image-molecule", (MOTO_ECR_USER, MOTO_ECR_PASSWORD))) == {
            "molecule", "latest"}
    assert not [i for i, secret in enumerate(SECRETS) if secret in output], "the ECR password was printed"
    assert "lhta-img-molecule" not in subprocess.run(
        ["docker", "images", "--format", "{{.Repository}}:{{.Tag}}"], capture_output=True, text=True).stdout
    config = (tmp_path / "docker-config" / "config.json")
    assert not config.exists() or registry.host not in config.read_text(), "cleanup left the login behind"


WRONG_LOGIN_PLAY = textwrap.dedent("""\
    - name: Push to a registry that does not take the ECR login
      hosts: localhost
      gather_facts: false
      roles:
        - role: image
          image_name: lhta-img-refused
          image_version: refused
          image_repository_uri: 123456789012.dkr.ecr.eu-west-2.amazonaws.com/lhta-img-refused
    """)


def test_a_registry_refusing_the_ecr_login_stops_the_role_without_printing_it(moto_endpoint, api_image, tmp_path):
    playbook = tmp_path / "refused.yml"
    playbook.write_text(WRONG_LOGIN_PLAY)
    try:
        with running_registry(tmp_path / "registry", users={MOTO_ECR_USER: "another-password-0001"}) as registry, \
                aws_proxy(moto_endpoint) as proxy:
            env = ansible_env(proxy.url, tmp_path, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
            proc = subprocess.run(
                [str(VENV_BIN / "ansible-playbook"), "-i", "inventory/local", str(playbook), "-v",
                 "-e", f"image_registry={registry.host}"],
                cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
            output = proc.stdout + proc.stderr
            assert proc.returncode != 0, output[-4000:]
            assert "Log Docker in to the registry" in output and "failed=1" in output, output[-4000:]
            assert "censored" in output  # no_log hid the failing login's details
            # ... and the role says what happened in words of its own.
            assert f"the registry {registry.host} answers but refused Docker's login with the ECR token" in output, \
                output[-4000:]
            assert registry.tags("lhta-img-refused", (MOTO_ECR_USER, "another-password-0001")) == []
        assert not [i for i, secret in enumerate(SECRETS) if secret in output], "the ECR password was printed"
    finally:
        for ref in ("lhta-img-refused:refused", f"{registry.host}/lhta-img-refused:refused",
                    f"{registry.host}/lhta-img-refused:latest"):
            subprocess.run(["docker", "rmi", ref], capture_output=True)


def run_role(moto_endpoint: str, tmp_path: Path, *extra: str) -> tuple[int, str]:
    playbook = tmp_path / "play.yml"
    playbook.write_text(WRONG_LOGIN_PLAY)
    env = ansible_env(moto_endpoint, tmp_path, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    proc = subprocess.run([str(VENV_BIN / "ansible-playbook"), "-i", "inventory/local", str(playbook), *extra],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    return proc.returncode, proc.stdout + proc.stderr


def test_against_the_emulator_without_a_registry_the_role_says_so_before_building(moto_endpoint, tmp_path):
    """The emulator's ECR host is only a name (issue 25: the README's path
    failed at the login with its reason hidden): stopped before the build,
    with what to do."""
    code, output = run_role(moto_endpoint, tmp_path, "-e", "image_registry=")
    assert code != 0
    assert "the ECR registry it names is not a registry" in output and "scripts/registry start" in output, \
        output[-4000:]
    assert "TASK [image : Build the image]" not in output and "Log Docker in" not in output


def test_a_registry_that_does_not_answer_is_named_before_the_login(moto_endpoint, api_image, tmp_path):
    silent = f"127.0.0.1:{free_port()}"
    try:
        code, output = run_role(moto_endpoint, tmp_path, "-e", f"image_registry={silent}")
        assert code != 0
        assert f"cannot reach the registry {silent} (Timeout when waiting for {silent}): is it running?" in output, \
            output[-4000:]
        assert "Log Docker in" not in output and "censored" not in output
    finally:
        for ref in ("lhta-img-refused:refused", f"{silent}/lhta-img-refused:refused",
                    f"{silent}/lhta-img-refused:latest"):
            subprocess.run(["docker", "rmi", ref], capture_output=True)


def test_ecr_refusing_a_token_is_said_in_the_roles_own_words(moto_endpoint, api_image, tmp_path):
    """GetAuthorizationToken denied: the token task is no_log (its answer
    carries the password), so the role says what to check itself."""
    def handler(call, forward):
        if call.action == "GetAuthorizationToken":
            return json_error("AccessDeniedException", "not authorized to perform: ecr:GetAuthorizationToken")
        return forward()

    with running_registry(tmp_path / "registry", users={MOTO_ECR_USER: MOTO_ECR_PASSWORD}) as registry, \
            aws_proxy(moto_endpoint, handler) as proxy:
        try:
            code, output = run_role(proxy.url, tmp_path, "-e", f"image_registry={registry.host}")
        finally:
            for ref in ("lhta-img-refused:refused", f"{registry.host}/lhta-img-refused:refused",
                        f"{registry.host}/lhta-img-refused:latest"):
                subprocess.run(["docker", "rmi", ref], capture_output=True)
    assert code != 0
    assert proxy.actions("ecr").count("GetAuthorizationToken") == 1
    assert "ECR gave no Docker login (ecr:GetAuthorizationToken in eu-west-2)" in output, output[-4000:]
    assert "Log Docker in to the registry" not in output
