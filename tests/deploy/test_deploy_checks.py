"""site.yml's and teardown.yml's checks against the AWS emulator, with no
image built (tests/e2e/test_deploy.py deploys the whole stack): bad variables
stop the deployment before any AWS call, a half-built stack tears down
leaving nothing tagged, and a teardown that finds something tagged left
fails naming it.
"""

from __future__ import annotations

import textwrap

import pytest

from tests.support.ansible import ansible_playbook, assert_stopped_before_any_aws_call, stop_cases
from tests.support.moto import aws_client, live_tagged_resources, recorded_requests, reset
from tests.support.secret_audit import TEST_KEY

PROJECT, ENV = "living-hta", "local"  # inventory/local's
NAME = f"{PROJECT}-{ENV}"
TAGS = {"Project": PROJECT, "Environment": ENV}
API_KEY = TEST_KEY

pytestmark = pytest.mark.slow


HALF_STACK = textwrap.dedent("""\
    - name: Half a stack (repository and security group only)
      hosts: localhost
      gather_facts: false
      roles:
        - ecr
        - security_group
    """)


def test_teardown_of_a_half_built_stack(moto_endpoint, tmp_path):
    reset(moto_endpoint)
    playbook = tmp_path / "half.yml"
    playbook.write_text(HALF_STACK)
    ansible_playbook(moto_endpoint, str(playbook))
    assert len(live_tagged_resources(moto_endpoint, TAGS, NAME)) == 2
    _, output = ansible_playbook(moto_endpoint, "playbooks/teardown.yml")
    assert "Nothing tagged" in output
    assert live_tagged_resources(moto_endpoint, TAGS, NAME) == []


def test_teardown_fails_when_something_tagged_is_left(moto_endpoint):
    reset(moto_endpoint)
    ssm = aws_client("ssm", moto_endpoint)
    ssm.put_parameter(Name="/stray", Value="x", Type="String",
                      Tags=[{"Key": k, "Value": v} for k, v in TAGS.items()])
    code, output = ansible_playbook(moto_endpoint, "playbooks/teardown.yml", "-e", "teardown_check_retries=2",
                                    "-e", "teardown_check_delay=1", check=False)
    assert code != 0
    assert "parameter/stray" in output and "still there after 2 s" in output
    ssm.delete_parameter(Name="/stray")


# Each case: variables that must stop site.yml while the roles' variables are
# checked, and what the failure must name.  All of them play in one run of
# site.yml, one inventory host per case (an Ansible start costs tens of
# seconds); each test reads its host's part.
BAD_VARIABLES = [
    ({"task_host_port": "70000"}, "task_host_port"),
    ({"security_group_port": "0"}, "security_group_port"),
    ({"task_memory": "lots"}, "task_memory"),
    ({"ecs_cluster_launch_type": "EKS"}, "ecs_cluster_launch_type"),
    ({"api_keys": [{"name": "a b", "key": "0123456789abcdef"}]}, "api_keys"),
    ({"api_keys": [{"name": "short", "key": "0123"}]}, "api_keys"),
    ({"api_keys": [{"key": "0123456789abcdef"}]}, "api_keys"),
    ({"front_certificate": "acme"}, "front_certificate"),
    ({"front_certificate": "secretsmanager"}, "front_certificate_secret_arn"),
    ({"task_stop_timeout": "10"}, "task_stop_timeout"),
    ({"task_front_memory": "2"}, "task_front_memory"),
    ({"task_front_container_name": "api"}, "task_front_container_name"),
    ({"task_trusted_proxies": "the front"}, "task_trusted_proxies"),
    # The key in plain text in the task definition, beside the secret.
    ({"task_environment": {"API_KEYS": "k3y-in-plain-text-0123"}}, "task_environment"),
    ({"task_environment": {"API_KEY_FILE": "/run/keys"}}, "task_environment"),
    # Each comma-separated key is checked, not the whole string.
    ({"api_key": " , , , , "}, "api_key"),
    ({"api_key": "x,0123456789abcdef0123"}, "api_key"),
    ({"security_group_ingress_ipv4": ["999.999.999.999/99"]}, "security_group_ingress_ipv4"),
    ({"security_group_ingress_ipv6": [":::::/999"]}, "security_group_ingress_ipv6"),
    ({"project_name": "Living-HTA"}, "project_name"),
    ({"deploy_env": "my env"}, "deploy_env"),
    ({"task_cpu": "lots"}, "task_cpu"),
    ({"task_cpu": "20000"}, "task_cpu"),
    ({"task_api_key_kms_key_id": "my-key"}, "task_api_key_kms_key_id"),
    # ECR would refuse to move `latest` on the second deployment.
    ({"ecr_image_tag_mutability": "immutable"}, "image_tag_latest"),
    ({"image_platform": "linux/s390x"}, "image_platform"),
    # The emulator's ECR host is only a name: a registry must be given.
    ({"image_registry": ""}, "the ECR registry it names is not a registry"),
]
# front_plain_http prints its warning while the variables are checked (the
# run then stops on a bad task_memory).
PLAIN_HTTP = {"front_plain_http": True, "task_memory": "lots"}


@pytest.fixture(scope="module")
def stopped(moto_endpoint, tmp_path_factory):
    cases = {f"case-{i}": variables for i, (variables, _) in enumerate(BAD_VARIABLES)} | {"plain-http": PLAIN_HTTP}
    return stop_cases(moto_endpoint, cases, tmp_path_factory.mktemp("bad-variables"))


@pytest.mark.parametrize(("variables", "variable"), BAD_VARIABLES)
def test_bad_variables_stop_before_any_aws_call(stopped, variables, variable):
    assert_stopped_before_any_aws_call(stopped, f"case-{BAD_VARIABLES.index((variables, variable))}", variable)


def test_plain_http_is_warned_at_deploy_time(stopped):
    """front_plain_http prints its warning while the variables are checked,
    before any AWS call."""
    host = assert_stopped_before_any_aws_call(stopped, "plain-http", "task_memory")
    assert "WARNING: front_plain_http is true: the HTTP port serves the API in clear" in host.text.replace("\n", " ")


def test_a_role_used_alone_checks_its_own_variables(moto_endpoint, tmp_path):
    """Outside site.yml (whose pre_tasks check every role's variables
    first, so that the roles skip their own check), a role checks its
    variables itself, before any AWS call."""
    playbook = tmp_path / "play.yml"
    playbook.write_text("- hosts: localhost\n  gather_facts: false\n  roles:\n    - ecr\n")
    with recorded_requests(moto_endpoint) as requests:
        code, output = ansible_playbook(moto_endpoint, str(playbook), "-e", "ecr_keep_images=0", check=False)
    assert code != 0
    assert "ecr_keep_images must be between 1 and 1000, got 0" in output, output[-5000:]
    assert requests == []


def test_missing_region_stops_before_any_aws_call(moto_endpoint, tmp_path):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        "all:\n  hosts:\n    localhost:\n      ansible_connection: local\n"
        "      ansible_python_interpreter: \"{{ ansible_playbook_python }}\"\n"
        f"      aws_endpoint_url: {moto_endpoint}\n      api_key: {API_KEY}\n"
    )
    with recorded_requests(moto_endpoint) as requests:
        code, output = ansible_playbook(moto_endpoint, "site.yml", inventory=str(inventory), check=False)
    assert code != 0
    assert "aws_region" in output, output[-5000:]
    assert requests == []
