"""site.yml against the AWS emulator: deploy, re-deploy with no change,
--check with no change, teardown twice leaving nothing tagged.  What needs
no image (bad variables, a half-built stack's teardown, a teardown that
finds something left): tests/deploy/test_deploy_checks.py.

The image role pushes to a local registry that, like ECR, accepts only the
login moto's ECR hands out (tests/support/registry.py);
everything else goes to the moto server of tests/support/moto.py.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import time
from collections import Counter

import pytest
import yaml

from tests.support.ansible import ansible_playbook, recap, task_names
from tests.support.aws_proxy import aws_like
from tests.support.iam_policy import missing_from_policy
from tests.support.moto import REGION, aws_client, live_tagged_resources, recorded_requests, reset, running_moto
from tests.support.paths import ROOT
from tests.support.registry import ecr_like_registry, local_registry  # noqa: F401  (fixtures)
from tests.support.secret_audit import TEST_KEY

PROJECT, ENV = "living-hta", "local"
NAME = f"{PROJECT}-{ENV}"
TAGS = {"Project": PROJECT, "Environment": ENV}
# The session's audited test key: the log and repository audits
# (tests/service/test_secrets_logs.py) then cover the deployment's key too.
API_KEY = TEST_KEY

pytestmark = pytest.mark.slow


def request_body(entry: dict) -> str:
    body = entry.get("body") or ""
    return base64.b64decode(body).decode() if entry.get("body_encoded") else body


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory):
    """This module's own emulator, in place of the session's: the IAM check
    below reads every action the proxy recorded on it, which must be this
    module's runs only (the session's emulator serves the other modules a
    worker runs, with calls on purpose outside the policy)."""
    with running_moto(tmp_path_factory.mktemp("moto-deploy")) as url:
        yield url


@pytest.fixture(scope="module")
def deployed(moto_endpoint, local_registry, tmp_path_factory):  # noqa: F811
    """site.yml run once on an empty emulator; yields its output, time and
    requests.  The registry login goes to a Docker client config of its own."""
    reset(moto_endpoint)
    docker_config = tmp_path_factory.mktemp("docker-config")
    start = time.monotonic()
    with recorded_requests(moto_endpoint) as requests:
        _, output = ansible_playbook(moto_endpoint, "site.yml", "-e", f"image_registry={local_registry}",
                                     DOCKER_CONFIG=str(docker_config))
    seconds = time.monotonic() - start
    return {"output": output, "seconds": seconds, "requests": requests, "registry": local_registry,
            "docker_config": docker_config}


def test_each_roles_variables_are_checked_once(deployed):
    """site.yml checks every role's variables before any AWS call (its
    pre_tasks) and the roles then skip their own check; the front checks
    the repository and image it includes, under its own names, again."""
    ran = Counter(task_names(deployed["output"]))
    for role in ("ecr", "image", "security_group", "ecs_cluster", "front", "task"):
        names = [task["name"] for task in yaml.safe_load((ROOT / "roles" / role / "tasks" / "validate.yml").read_text())]
        times = 2 if role in ("ecr", "image") else 1
        assert {name: ran[f"{role} : {name}"] for name in names} == dict.fromkeys(names, times), role


def test_deploy_creates_every_resource_with_the_right_settings(deployed, moto_endpoint):
    assert recap(deployed["output"])["failed"] == 0
    ecr, ec2, ecs = (aws_client(s, moto_endpoint) for s in ("ecr", "ec2", "ecs"))
    iam, logs, ssm = (aws_client(s, moto_endpoint) for s in ("iam", "logs", "ssm"))

    repo = ecr.describe_repositories(repositoryNames=[NAME])["repositories"][0]
    assert repo["imageScanningConfiguration"]["scanOnPush"] is True
    lifecycle = json.loads(ecr.get_lifecycle_policy(repositoryName=NAME)["lifecyclePolicyText"])
    assert lifecycle["rules"][0]["selection"]["countNumber"] == 10
    assert {t["Key"]: t["Value"] for t in ecr.list_tags_for_resource(resourceArn=repo["repositoryArn"])["tags"]} == TAGS

    group = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [NAME]}])["SecurityGroups"][0]
    assert {t["Key"]: t["Value"] for t in group["Tags"]} == TAGS
    # HTTPS (the front; 8443 in inventory/local) and the original's 8080 (a redirect).
    rules = sorted(group["IpPermissions"], key=lambda rule: rule["FromPort"])
    assert [(r["IpProtocol"], r["FromPort"], r["ToPort"]) for r in rules] == [("tcp", 8080, 8080),
                                                                              ("tcp", 8443, 8443)]
    for rule in rules:
        assert [r["CidrIp"] for r in rule["IpRanges"]] == ["0.0.0.0/0"]
        assert [r["CidrIpv6"] for r in rule["Ipv6Ranges"]] == ["::/0"]

    reservations = ec2.describe_instances(
        Filters=[{"Name": "tag:Project", "Values": [PROJECT]}, {"Name": "instance-state-name", "Values": ["running"]}]
    )["Reservations"]
    [instance] = [i for r in reservations for i in r["Instances"]]
    assert instance["InstanceType"] == "t2.micro"
    assert instance["PublicDnsName"] and instance["PublicIpAddress"]
    assert [g["GroupId"] for g in instance["SecurityGroups"]] == [group["GroupId"]]
    assert instance["IamInstanceProfile"]["Arn"].endswith(f":instance-profile/{NAME}-ecs-instance")
    # IMDSv2 only, one hop: a bridge-mode container cannot reach the instance role's credentials.
    options = instance["MetadataOptions"]
    assert (options["HttpTokens"], options["HttpPutResponseHopLimit"], options["HttpEndpoint"]) == (
        "required", 1, "enabled")
    assert {t["Key"]: t["Value"] for t in instance["Tags"]}.items() >= TAGS.items()
    user_data = ec2.describe_instance_attribute(InstanceId=instance["InstanceId"], Attribute="userData")
    assert f"ECS_CLUSTER={NAME}" in base64.b64decode(user_data["UserData"]["Value"]).decode()
    ami = ssm.get_parameter(Name="/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id")
    assert instance["ImageId"] == ami["Parameter"]["Value"]

    # No AWS-managed policy (they allow ECR pulls and log writes on the whole
    # account: issue 23, item 11); each role's inline policies name its
    # resources: the agent's actions this cluster, the pulls and log writes
    # the log group (the images come from a registry that is not ECR here).
    for role, policies in ((f"{NAME}-ecs-instance", ["ecs-agent"]),
                           (f"{NAME}-task-execution", ["pull-images-write-logs", "read-api-key"])):
        assert {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=role)["Tags"]} == TAGS
        assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
        assert sorted(iam.list_role_policies(RoleName=role)["PolicyNames"]) == policies
    agent = iam.get_role_policy(RoleName=f"{NAME}-ecs-instance", PolicyName="ecs-agent")["PolicyDocument"]
    [join] = [s for s in agent["Statement"] if s["Sid"] == "JoinAndReportToThisCluster"]
    assert join["Resource"] == [f"arn:aws:ecs:{REGION}:123456789012:cluster/{NAME}",
                                f"arn:aws:ecs:{REGION}:123456789012:container-instance/{NAME}/*"]
    pulls = iam.get_role_policy(RoleName=f"{NAME}-task-execution",
                                PolicyName="pull-images-write-logs")["PolicyDocument"]["Statement"]
    repository = f"arn:aws:ecr:{REGION}:123456789012:repository/{NAME}"
    assert pulls == [
        {"Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"},
        {"Effect": "Allow", "Action": ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer",
                                       "ecr:BatchGetImage"], "Resource": [repository, f"{repository}-front"]},
        {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": [f"arn:aws:logs:{REGION}:123456789012:log-group:/ecs/{NAME}:*"]}]

    cluster = ecs.describe_clusters(clusters=[NAME], include=["TAGS"])["clusters"][0]
    assert cluster["status"] == "ACTIVE" and cluster["registeredContainerInstancesCount"] == 1
    assert {t["key"]: t["value"] for t in cluster["tags"]} == TAGS

    [group_info] = logs.describe_log_groups(logGroupNamePrefix=f"/ecs/{NAME}")["logGroups"]
    assert logs.list_tags_log_group(logGroupName=group_info["logGroupName"])["tags"] == TAGS

    parameter = ssm.get_parameter(Name=f"/{PROJECT}/{ENV}/api-keys", WithDecryption=True)["Parameter"]
    assert parameter["Type"] == "SecureString" and parameter["Value"] == API_KEY

    [service] = ecs.describe_services(cluster=NAME, services=[NAME])["services"]
    assert service["desiredCount"] == 1 and service["launchType"] == "EC2"
    described = ecs.describe_task_definition(taskDefinition=service["taskDefinition"], include=["TAGS"])
    assert {t["key"]: t["value"] for t in described["tags"]} == TAGS
    [container, front] = described["taskDefinition"]["containerDefinitions"]
    assert container["name"] == "api" and container["memory"] == 900
    # Only the front is reachable from outside; the API after SIGTERM gets
    # more than gunicorn's graceful timeout (20 s) before a SIGKILL.
    assert container["portMappings"] == [] and container["stopTimeout"] == 30
    # The service believes X-Forwarded-For from the front's network only, and
    # budgets each request on the container's memory.
    assert {e["name"]: e["value"] for e in container["environment"]} == {
        "PORT": "8000", "TRUSTED_PROXIES": "172.17.0.0/16", "MEMORY_LIMIT_MIB": "900",
        "IMAGE_DIGEST": container["image"].split("@")[1]}
    assert re.fullmatch(rf"\d+\.dkr\.ecr\.{REGION}\.amazonaws\.com/{NAME}@sha256:[0-9a-f]{{64}}", container["image"])
    assert container["logConfiguration"]["logDriver"] == "awslogs"
    assert container["secrets"] == [{"name": "API_KEYS", "valueFrom": parameter["ARN"]}]
    # The digest the image is pinned to, for each result's provenance receipt.
    assert {"name": "IMAGE_DIGEST", "value": container["image"].split("@")[1]} in container["environment"]
    # ECS acts on the task definition's health check only: the image's own probe.
    assert container["healthCheck"] == {"command": dockerfile_healthcheck(), "interval": 10,
                                        "timeout": 3, "retries": 3, "startPeriod": 30}

    secret = aws_client("secretsmanager", moto_endpoint).describe_secret(SecretId=f"{PROJECT}/{ENV}/tls")
    assert {t["Key"]: t["Value"] for t in secret["Tags"]} == TAGS
    assert front["name"] == "front" and front["essential"] is True
    assert re.fullmatch(rf"\d+\.dkr\.ecr\.{REGION}\.amazonaws\.com/{NAME}-front@sha256:[0-9a-f]{{64}}", front["image"])
    assert sorted((m["hostPort"], m["containerPort"]) for m in front["portMappings"]) == [(8080, 8080), (8443, 8443)]
    assert front["links"] == ["api:api"]
    assert front["dependsOn"] == [{"containerName": "api", "condition": "HEALTHY"}]
    assert front["stopTimeout"] == 30
    front_env = {e["name"]: e["value"] for e in front["environment"]}
    # The redirect's host: the names the front's certificate is for (issue 26).
    public_hosts = front_env.pop("FRONT_PUBLIC_HOSTS", "").split(",")
    assert public_hosts and all(re.fullmatch(r"[A-Za-z0-9.-]+", name) for name in public_hosts), public_hosts
    assert front_env == {
        "FRONT_UPSTREAM": "api:8000", "FRONT_HTTPS_PORT": "8443", "FRONT_HTTP_PORT": "8080",
        "FRONT_PUBLIC_HTTPS_PORT": "8443", "FRONT_PLAIN_HTTP": "0"}
    # The secret's current version: a new certificate makes a new revision.
    [current] = [v for v, stages in secret["VersionIdsToStages"].items() if "AWSCURRENT" in stages]
    assert front["secrets"] == [
        {"name": "TLS_CERTIFICATE", "valueFrom": f"{secret['ARN']}:certificate::{current}"},
        {"name": "TLS_PRIVATE_KEY", "valueFrom": f"{secret['ARN']}:private_key::{current}"}]
    assert front["logConfiguration"]["options"]["awslogs-stream-prefix"] == "front"
    assert front["healthCheck"]["command"] == dockerfile_healthcheck("front/Dockerfile")

    # Neither the API key nor the certificate's private key is in the task definition.
    private_key = tls_private_key(moto_endpoint)
    assert API_KEY not in json.dumps(described, default=str)
    assert private_key not in json.dumps(described, default=str)
    assert described["taskDefinition"]["executionRoleArn"].endswith(f":role/{NAME}-task-execution")
    # The execution role reads the key parameter and the certificate's secret, nothing else.
    policy = iam.get_role_policy(RoleName=f"{NAME}-task-execution", PolicyName="read-api-key")
    statements = {tuple(s["Action"]): s["Resource"] for s in policy["PolicyDocument"]["Statement"]}
    assert statements == {("ssm:GetParameters",): [parameter["ARN"]],
                          ("secretsmanager:GetSecretValue",): [secret["ARN"]]}
    # Built for, and declared as, what a t2.micro runs.
    assert described["taskDefinition"]["runtimePlatform"] == {"cpuArchitecture": "X86_64",
                                                              "operatingSystemFamily": "LINUX"}
    pushed = f"{deployed['registry']}/{container['image'].split('/', 1)[1]}"
    # (the local image the push came from: its RepoDigests name the pushed digest)
    platform = subprocess.run(["docker", "image", "inspect", "-f", "{{.Os}}/{{.Architecture}}", pushed],
                              check=True, capture_output=True, text=True).stdout.strip()
    assert platform == "linux/amd64"
    front_pushed = f"{deployed['registry']}/{front['image'].split('/', 1)[1]}"
    front_platform = subprocess.run(["docker", "image", "inspect", "-f", "{{.Os}}/{{.Architecture}}", front_pushed],
                                    check=True, capture_output=True, text=True).stdout.strip()
    assert front_platform == "linux/amd64"
    # Settings ecs_taskdefinition does not compare, in a label it does (a change makes a revision).
    assert "stop-timeout=30" in container["dockerLabels"]["io.living-hta.task-settings"]

    # moto accepts but does not keep deploymentConfiguration: check what was sent.
    [create] = [r for r in deployed["requests"] if "CreateService" in r["headers"].get("X-Amz-Target", "")]
    sent = json.loads(request_body(create))
    assert sent["deploymentConfiguration"]["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert sent["taskDefinition"] == f"{NAME}:1"


def tls_private_key(endpoint: str) -> str:
    """The base64 body of the front's private key, from the secret the front role wrote."""
    value = aws_client("secretsmanager", endpoint).get_secret_value(SecretId=f"{PROJECT}/{ENV}/tls")
    pem = json.loads(value["SecretString"])["private_key"]
    return "".join(line for line in pem.splitlines() if "PRIVATE KEY" not in line)


def dockerfile_healthcheck(dockerfile: str = "Dockerfile") -> list[str]:
    """A Dockerfile's HEALTHCHECK command, as ECS wants it (["CMD", …])."""
    text = (ROOT / dockerfile).read_text()
    [line] = re.findall(r"^HEALTHCHECK .*\\\n\s+CMD (\[.*\])$", text, flags=re.M)
    return ["CMD", *json.loads(line)]


def test_deploy_prints_the_url_and_never_the_key(deployed, moto_endpoint):
    ec2 = aws_client("ec2", moto_endpoint)
    running = [{"Name": "tag:Project", "Values": [PROJECT]}, {"Name": "instance-state-name", "Values": ["running"]}]
    dns = ec2.describe_instances(Filters=running)["Reservations"][0]["Instances"][0]["PublicDnsName"]
    assert f"https://{dns}:8443" in deployed["output"]
    assert API_KEY not in deployed["output"]
    private_key = tls_private_key(moto_endpoint)
    assert private_key[:64] not in deployed["output"] and "PRIVATE KEY" not in deployed["output"]
    # The CA certificate is printed and written out for clients.
    ca = (ROOT / ".cache" / f"{NAME}-ca.pem").read_text()
    assert ca.startswith("-----BEGIN CERTIFICATE-----") and ca.splitlines()[1] in deployed["output"]
    for entry in deployed["requests"]:
        if API_KEY in request_body(entry):
            assert "AmazonSSM.PutParameter" in entry["headers"].get("X-Amz-Target", ""), entry["url"]


def test_the_registry_login_is_gone_after_the_push(deployed):
    # An ECR login stays valid for 12 hours: the role logs out after pushing.
    config = deployed["docker_config"] / "config.json"
    assert not config.exists() or deployed["registry"] not in config.read_text(), config.read_text()


def test_redeploy_changes_nothing(deployed, moto_endpoint):
    _, output = ansible_playbook(moto_endpoint, "site.yml", "-e", f"image_registry={deployed['registry']}",
                                 DOCKER_CONFIG=str(deployed["docker_config"]))
    assert recap(output)["changed"] == 0, output[-8000:]


def test_check_mode_on_the_deployed_stack_reports_no_change(deployed, moto_endpoint):
    _, output = ansible_playbook(moto_endpoint, "site.yml", "--check", "-e", f"image_registry={deployed['registry']}",
                                 DOCKER_CONFIG=str(deployed["docker_config"]))
    assert recap(output)["changed"] == 0, output[-8000:]


def test_teardown_twice_leaves_nothing_tagged(deployed, moto_endpoint):
    assert live_tagged_resources(moto_endpoint, TAGS, NAME), "the stack should be there before the teardown"
    _, first = ansible_playbook(moto_endpoint, "playbooks/teardown.yml")
    assert recap(first)["changed"] > 0
    assert "Nothing tagged" in first
    assert live_tagged_resources(moto_endpoint, TAGS, NAME) == []
    _, second = ansible_playbook(moto_endpoint, "playbooks/teardown.yml")
    assert recap(second)["changed"] == 0, second[-8000:]
    assert live_tagged_resources(moto_endpoint, TAGS, NAME) == []


def test_every_call_of_the_deploy_and_teardown_is_in_the_iam_policy(deployed, moto_endpoint):
    """Every playbook above went through the tests' AWS proxy, which
    recorded each role's actions: docs/iam-policy.json grants them all
    (issue 23; the review found iam:CreateServiceLinkedRole for Auto
    Scaling, ec2:DescribeTags, elasticloadbalancing:DescribeTargetHealth and
    iam:ListInstanceProfilesForRole missing from the hand-made lists)."""
    recorded = aws_like(moto_endpoint).actions
    assert {"ecr", "ecs_cluster", "front", "task", "teardown"} <= set(recorded)
    assert missing_from_policy(recorded) == {}
