"""Re-deployments on one small stack (security group, cluster with its
emulated instance, service), against what AWS does (issue 23, items 11 and
7): a changed deployment configuration applied (AWS keeps it, moto drops
it), a KMS key's alias resolved to the key's ARN in the policy, a new
execution role or platform making a new revision.  The tests run in file
order, each on the stack the one before left.  Split from
tests/deploy/test_roles_aws.py so that the two run side by side.
"""

from __future__ import annotations

import pytest

from tests.support.ansible import recap
from tests.support.aws_proxy import aws_proxy, services_answered_as
from tests.support.moto import aws_client
from tests.support.roles_aws import Run, deploy_stack, teardown

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack(moto_endpoint, tmp_path_factory) -> Run:
    """A whole stack for the re-deployment tests of items 11 and 7, which run
    in file order, each on the stack the one before left: a changed
    deployment configuration (leaves it as deployed), a KMS key (leaves the
    key in the policy), new revisions (tears it down)."""
    project, folder = "lhta-aws-stack", tmp_path_factory.mktemp("stack")
    code, output = deploy_stack(moto_endpoint, folder, project)
    assert code == 0, output[-6000:]
    return Run(project, folder, code, output)


# --- items 11 and 7, on one stack: changes the modules do not compare, a KMS key's alias

def keeps_deployment_configuration(kept: dict):
    """DescribeServices with the deploymentConfiguration AWS keeps (moto drops it)."""
    return services_answered_as(lambda service: service.update(deploymentConfiguration=kept))


def test_a_changed_deployment_configuration_is_applied(moto_endpoint, stack):
    wanted = {"minimumHealthyPercent": 0, "maximumPercent": 100,
              "deploymentCircuitBreaker": {"enable": True, "rollback": True}}
    with aws_proxy(moto_endpoint, keeps_deployment_configuration(wanted)) as proxy:
        _, output = deploy_stack(proxy.url, stack.folder, stack.project)
    assert "UpdateService" not in proxy.actions(), "nothing changed, nothing to update"
    assert recap(output)["changed"] == 0, output[-4000:]

    older = {**wanted, "minimumHealthyPercent": 100, "maximumPercent": 200}
    with aws_proxy(moto_endpoint, keeps_deployment_configuration(older)) as proxy:
        code, output = deploy_stack(proxy.url, stack.folder, stack.project)
    assert code == 0, output[-6000:]
    [update] = [c for c in proxy.calls if c.action == "UpdateService"]
    assert update.params["deploymentConfiguration"]["minimumHealthyPercent"] == 0
    assert update.params["deploymentConfiguration"]["maximumPercent"] == 100
    assert update.params["forceNewDeployment"] is True


def test_a_kms_alias_is_resolved_to_the_key_arn_in_the_policy(moto_endpoint, stack):
    kms, iam = aws_client("kms", moto_endpoint), aws_client("iam", moto_endpoint)
    key = kms.create_key(Description="lhta-aws-kms")["KeyMetadata"]
    kms.create_alias(AliasName="alias/lhta-aws-kms", TargetKeyId=key["KeyId"])
    code, output = deploy_stack(moto_endpoint, stack.folder, stack.project,
                                "-e", "task_api_key_kms_key_id=alias/lhta-aws-kms")
    assert code == 0, output[-6000:]
    policy = iam.get_role_policy(RoleName=f"{stack.project}-t-task-execution", PolicyName="read-api-key")
    statements = policy["PolicyDocument"]["Statement"]
    assert {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": [key["Arn"]]} in statements
    code, output = deploy_stack(moto_endpoint, stack.folder, stack.project,
                                "-e", "task_api_key_kms_key_id=alias/nothing")
    assert code != 0 and "task_api_key_kms_key_id: no KMS key 'alias/nothing'" in output, output[-4000:]


def test_a_new_execution_role_or_platform_makes_a_new_revision(moto_endpoint, stack):
    project, ecs = stack.project, aws_client("ecs", moto_endpoint)
    other = f"task_execution_role_name={project}-other"
    first = ecs.describe_task_definition(taskDefinition=f"{project}-t")["taskDefinition"]["revision"]
    code, output = deploy_stack(moto_endpoint, stack.folder, project, "-e", other)
    assert code == 0, output[-6000:]
    [service] = ecs.describe_services(cluster=f"{project}-t", services=[f"{project}-t"])["services"]
    definition = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
    assert definition["revision"] == first + 1
    assert definition["executionRoleArn"].endswith(f":role/{project}-other")

    code, output = deploy_stack(moto_endpoint, stack.folder, project, "-e", other, "-e", "task_platform=linux/arm64")
    assert code == 0, output[-6000:]
    definition = ecs.describe_task_definition(taskDefinition=f"{project}-t")["taskDefinition"]
    assert definition["revision"] == first + 2
    assert definition["runtimePlatform"] == {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"}
    _, again = deploy_stack(moto_endpoint, stack.folder, project, "-e", other, "-e", "task_platform=linux/arm64")
    assert recap(again)["changed"] == 0, again[-6000:]
    # Both execution roles go: the other one first, then the rest with the default names.
    teardown(moto_endpoint, project, "-e", other, "-e", "teardown_check_leftovers=false")
    teardown(moto_endpoint, project)
