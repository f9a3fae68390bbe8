"""The roles against what AWS does, not only what the emulator does.

moto accepts calls AWS refuses and answers at once where AWS takes its time.
Each test here runs a role (or the teardown) against moto, and where moto
cannot show AWS's behaviour, through tests/support/aws_proxy.py, which gives
the answer AWS gives: the ECS service-linked role missing in a fresh account
(issue 12, item 2), the tagging API listing deleted resources (3), a
deployment that fails or completes (5), a DRAINING service and a cluster that
still holds it (8), a security group still in use (9), the deployment
configuration AWS keeps and moto drops (11).

Each stack has its own project name, so the stacks never meet.  A
deployment is about 80 Ansible tasks and its teardown about 35: tests whose
assertions do not need a stack of their own share one (the module fixtures
under "Stacks that serve more than one test").  The re-deployments of items
11 and 7 are tests/deploy/test_roles_aws_stack.py's (tests/support/roles_aws.py
holds what the two share).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.support.ansible import ansible_playbook, recap
from tests.support.aws_proxy import AwsTimes, aws_proxy, ec2_error, json_body, json_error, services_answered_as, with_json
from tests.support.moto import aws_client, recorded_requests, start_moto, stop_moto
from tests.support.paths import ROOT
from tests.support.roles_aws import Run, deploy_stack, names, play, roles_play, teardown

pytestmark = pytest.mark.slow

SLR_PATH = "/aws-service-role/ecs.amazonaws.com/"
SLR_REFUSAL = "Unable to assume the service linked role. Please verify that the ECS service linked role exists."


# --- item 1: a public repository ------------------------------------------------

ECR_PLAY = roles_play("ecr")


def test_a_public_repository_gets_its_pull_policy_and_loses_it_when_private(moto_endpoint, tmp_path):
    playbook, ecr = play(tmp_path, ECR_PLAY), aws_client("ecr", moto_endpoint)
    ansible_playbook(moto_endpoint, playbook, *names("lhta-aws-ecr"), "-e", "ecr_public=true")
    policy = json.loads(ecr.get_repository_policy(repositoryName="lhta-aws-ecr-t")["policyText"])
    assert policy["Statement"][0]["Principal"] == "*"
    assert "ecr:BatchGetImage" in policy["Statement"][0]["Action"]
    _, again = ansible_playbook(moto_endpoint, playbook, *names("lhta-aws-ecr"), "-e", "ecr_public=true")
    assert recap(again)["changed"] == 0, again[-4000:]

    ansible_playbook(moto_endpoint, playbook, *names("lhta-aws-ecr"), "-e", "ecr_public=false")
    with pytest.raises(ecr.exceptions.RepositoryPolicyNotFoundException):
        ecr.get_repository_policy(repositoryName="lhta-aws-ecr-t")
    ansible_playbook(moto_endpoint, playbook, *names("lhta-aws-ecr"), "-e", "ecr_state=absent")


# --- item 2: a cluster in an account that has never used ECS --------------------

CLUSTER_PLAY = """\
    - name: The cluster alone
      hosts: localhost
      gather_facts: false
      module_defaults:
        group/living_hta.aws.aws: "{{ aws_connection }}"
      tasks:
        - name: The ecs_cluster role's cluster (no instance)
          ansible.builtin.include_role:
            name: ecs_cluster
            tasks_from: create
          vars:
            ecs_cluster_launch_type: FARGATE
    """


def fresh_account(moto_endpoint):
    """ECS as in an account that has never used it: associating a Fargate
    capacity provider fails until the ECS service-linked role exists."""
    iam = aws_client("iam", moto_endpoint)

    def handler(call, forward):
        if call.action in ("CreateCluster", "PutClusterCapacityProviders") and call.params.get("capacityProviders"):
            if not iam.list_roles(PathPrefix=SLR_PATH)["Roles"]:
                return json_error("InvalidParameterException", SLR_REFUSAL)
        return forward()

    return handler


def delete_service_linked_roles(moto_endpoint):
    iam = aws_client("iam", moto_endpoint)
    for role in iam.list_roles(PathPrefix=SLR_PATH)["Roles"]:
        iam.delete_role(RoleName=role["RoleName"])


EC2_CLUSTER_PLAY = roles_play("security_group", "ecs_cluster")


def deploy_twice_in_a_fresh_account(moto_endpoint, playbook: str, project: str):
    """Deploy twice through the fresh-account proxy: the second run must change nothing."""
    delete_service_linked_roles(moto_endpoint)
    with aws_proxy(moto_endpoint, fresh_account(moto_endpoint)) as proxy:
        ansible_playbook(proxy.url, playbook, *names(project))
        _, again = ansible_playbook(proxy.url, playbook, *names(project))
    assert recap(again)["changed"] == 0, again[-4000:]
    return proxy


def test_an_ec2_cluster_asks_for_no_capacity_provider(moto_endpoint, tmp_path):
    proxy = deploy_twice_in_a_fresh_account(moto_endpoint, play(tmp_path, EC2_CLUSTER_PLAY), "lhta-aws-ec2")
    [create] = [c for c in proxy.calls if c.action == "CreateCluster"]
    assert "capacityProviders" not in create.params
    assert "PutClusterCapacityProviders" not in proxy.actions()
    assert aws_client("iam", moto_endpoint).list_roles(PathPrefix=SLR_PATH)["Roles"] == []
    # The role waited ecs_cluster_iam_propagation_seconds after creating the
    # instance profile (inventory/local: the proxy's 3 s): EC2 refused
    # nothing, and amazon.aws's ec2_instance did not sleep its 10 s.
    assert "RunInstances" not in proxy.aws.refused, proxy.aws.refused
    teardown(moto_endpoint, "lhta-aws-ec2")


def test_a_fargate_cluster_creates_the_service_linked_role_first(moto_endpoint, tmp_path):
    proxy = deploy_twice_in_a_fresh_account(moto_endpoint, play(tmp_path, CLUSTER_PLAY), "lhta-aws-fg")
    assert proxy.actions("iam").count("CreateServiceLinkedRole") == 1
    cluster = aws_client("ecs", moto_endpoint).describe_clusters(clusters=["lhta-aws-fg-t"])["clusters"][0]
    assert sorted(cluster["capacityProviders"]) == ["FARGATE", "FARGATE_SPOT"]
    aws_client("ecs", moto_endpoint).delete_cluster(cluster="lhta-aws-fg-t")
    delete_service_linked_roles(moto_endpoint)


def rollout(state: str, reason: str):
    """DescribeServices as AWS answers once the deployment has run its course."""
    def change(service):
        for deployment in service.get("deployments", []):
            deployment.update(rolloutState=state, rolloutStateReason=reason, runningCount=service["desiredCount"])
        service["events"] = [{"message": f"(service x) {reason}"}]
    return services_answered_as(change)


# ECS cannot assume a new execution role for this long: longer than the
# role's tasks between the role and the service take here.  And EC2 refuses
# the new instance profile at the first RunInstances however long the
# ecs_cluster role waited (counted from that refusal: IAM slower than
# ecs_cluster_iam_propagation_seconds).
ROLE_PROPAGATION = AwsTimes(role=15, instance_profile=3, from_first_refusal=True)


def deploy_with_rollout(endpoint: str, tmp_path: Path, project: str, state: str, reason: str) -> Run:
    """Deploy waiting for the deployment, which AWS reports in `state`
    unless ECS could not assume the execution role."""
    with aws_proxy(endpoint, rollout(state, reason), times=ROLE_PROPAGATION) as proxy:
        code, output = deploy_stack(proxy.url, tmp_path, project, "-e", "task_wait_for_stable=true",
                                    "-e", "task_poll_delay=1", "-e", "task_stable_timeout=60",
                                    "-e", f"task_iam_propagation_seconds={ROLE_PROPAGATION.role:.0f}")
    return Run(project, tmp_path, code, output, ecs_actions=proxy.actions("ecs"), refused=dict(proxy.aws.refused))


# --- Stacks that serve more than one test (each deployed once, by the first test that needs it)

@pytest.fixture(scope="module")
def rolled_out(moto_endpoint, tmp_path_factory) -> Run:
    """A whole stack whose deployment AWS reports completed: the rollout test
    reads its run, the draining teardown test tears it down."""
    return deploy_with_rollout(moto_endpoint, tmp_path_factory.mktemp("completed"), "lhta-aws-completed",
                               "COMPLETED", "ECS deployment completed.")


@pytest.fixture(scope="module")
def stopped_at_the_memory_check(moto_endpoint, tmp_path_factory) -> Run:
    """A deployment asking for more memory than the instance has, stopped
    before the service: the memory test reads its run, the busy-cluster
    teardown test tears down what it left (cluster, instance, the rest)."""
    project, folder = "lhta-aws-mem", tmp_path_factory.mktemp("mem")
    with recorded_requests(moto_endpoint) as requests:
        code, output = deploy_stack(moto_endpoint, folder, project, "-e", "task_memory=8000")
    return Run(project, folder, code, output, requests=requests)


# --- items 3, 8, 9: a teardown that meets AWS's delays -----------------------------

def test_teardown_waits_for_the_draining_service_and_the_group_in_use(moto_endpoint, rolled_out):
    project = rolled_out.project  # a whole stack, service included
    assert rolled_out.code == 0, rolled_out.output[-8000:]
    state = {"deleted": False, "describes_after_delete": 0, "inactive_seen": False, "refused_too_early": 0}

    def handler(call, forward):
        if call.action == "DeleteService":
            state["deleted"] = True
        if call.action == "DescribeServices" and state["deleted"]:
            # AWS: DRAINING while the tasks stop, then INACTIVE.
            state["describes_after_delete"] += 1
            response = forward()
            data = json_body(response)
            draining = state["describes_after_delete"] <= 2
            for service in data.get("services", []):
                service["status"] = "DRAINING" if draining else service["status"]
            state["inactive_seen"] |= not draining
            return with_json(response, data)
        if call.action == "DeleteCluster":
            if not state["inactive_seen"]:
                state["refused_too_early"] += 1
                return json_error("ClusterContainsServicesException",
                                  "The Cluster cannot be deleted while Services are active.")
            if call.count <= 2:  # the instance's agent has not left yet
                return json_error("ClusterContainsContainerInstancesException",
                                  "The Cluster cannot be deleted while Container Instances are active or draining.")
        if call.action == "DeleteSecurityGroup" and call.count <= 2:
            return ec2_error("DependencyViolation", "resource sg-x has a dependent object")
        return forward()

    with aws_proxy(moto_endpoint, handler) as proxy:
        _, output = teardown(proxy.url, project)
    assert "Nothing tagged" in output
    assert "Traceback" not in output
    assert state["refused_too_early"] == 0, "DeleteCluster was sent while the service was still DRAINING"
    assert state["describes_after_delete"] >= 3
    assert proxy.actions("ecs").count("DeleteCluster") == 3
    assert proxy.actions("ec2").count("DeleteSecurityGroup") == 3


def test_teardown_gives_up_with_one_line_when_the_cluster_stays_busy(moto_endpoint, stopped_at_the_memory_check):
    project = stopped_at_the_memory_check.project  # a cluster with its instance, no service

    def handler(call, forward):
        if call.action == "DeleteCluster":
            return json_error("ClusterContainsTasksException", "The Cluster cannot be deleted while Tasks are active.")
        return forward()

    with aws_proxy(moto_endpoint, handler) as proxy:
        code, output = teardown(proxy.url, project, "-e", "ecs_cluster_delete_retries=2", check=False)
    assert code != 0
    assert "Traceback" not in output
    assert f"cluster {project}-t still holds services, tasks or instances after 2 tries" in output
    assert proxy.actions("ecs").count("DeleteCluster") == 3
    # Once the cluster lets go, a teardown removes the half-built stack.
    teardown(moto_endpoint, project)


ACCOUNT = "123456789012"

# One ARN of every kind of resource the roles create and tag (either
# topology), none of which exists: the tagging API goes on listing deleted
# resources for a while on AWS, and each must be seen gone by its own service.
GHOSTS = {
    ("ec2", "instance"): f"arn:aws:ec2:eu-west-2:{ACCOUNT}:instance/i-0ghost00000000000",
    ("ec2", "volume"): f"arn:aws:ec2:eu-west-2:{ACCOUNT}:volume/vol-0ghost0000000000",
    ("ec2", "security-group"): f"arn:aws:ec2:eu-west-2:{ACCOUNT}:security-group/sg-0ghost00000000",
    ("ec2", "network-interface"): f"arn:aws:ec2:eu-west-2:{ACCOUNT}:network-interface/eni-0ghost0000000000",
    ("ec2", "launch-template"): f"arn:aws:ec2:eu-west-2:{ACCOUNT}:launch-template/lt-0ghost0000000000",
    ("ecs", "cluster"): f"arn:aws:ecs:eu-west-2:{ACCOUNT}:cluster/lhta-aws-ghost-t",
    ("ecs", "service"): f"arn:aws:ecs:eu-west-2:{ACCOUNT}:service/lhta-aws-ghost-t/lhta-aws-ghost-t",
    ("ecs", "task"): f"arn:aws:ecs:eu-west-2:{ACCOUNT}:task/lhta-aws-ghost-t/0123456789abcdef0123456789abcdef",
    ("ecs", "task-definition"): f"arn:aws:ecs:eu-west-2:{ACCOUNT}:task-definition/lhta-aws-ghost-t:1",
    ("ecs", "capacity-provider"): f"arn:aws:ecs:eu-west-2:{ACCOUNT}:capacity-provider/lhta-aws-ghost-t",
    ("ecr", "repository"): f"arn:aws:ecr:eu-west-2:{ACCOUNT}:repository/lhta-aws-ghost-t",
    ("iam", "role"): f"arn:aws:iam::{ACCOUNT}:role/lhta-aws-ghost-t-instance",
    ("iam", "instance-profile"): f"arn:aws:iam::{ACCOUNT}:instance-profile/lhta-aws-ghost-t-instance",
    ("logs", "log-group"): f"arn:aws:logs:eu-west-2:{ACCOUNT}:log-group:/ecs/lhta-aws-ghost-t:*",
    ("ssm", "parameter"): f"arn:aws:ssm:eu-west-2:{ACCOUNT}:parameter/lhta-aws-ghost/t/api-keys",
    ("secretsmanager", "secret"): f"arn:aws:secretsmanager:eu-west-2:{ACCOUNT}:secret:lhta-aws-ghost-t-front-AbCdEf",
    ("elasticloadbalancing", "loadbalancer"):
        f"arn:aws:elasticloadbalancing:eu-west-2:{ACCOUNT}:loadbalancer/app/lhta-aws-ghost-t/0123456789abcdef",
    ("elasticloadbalancing", "targetgroup"):
        f"arn:aws:elasticloadbalancing:eu-west-2:{ACCOUNT}:targetgroup/lhta-aws-ghost-t/0123456789abcdef",
    ("elasticloadbalancing", "listener"):
        f"arn:aws:elasticloadbalancing:eu-west-2:{ACCOUNT}:listener/app/lhta-aws-ghost-t/0123456789abcdef/fedcba9876543210",
    ("acm", "certificate"): f"arn:aws:acm:eu-west-2:{ACCOUNT}:certificate/01234567-89ab-cdef-0123-456789abcdef",
    ("autoscaling", "autoScalingGroup"): f"arn:aws:autoscaling:eu-west-2:{ACCOUNT}:autoScalingGroup:"
                                         "01234567-89ab-cdef-0123-456789abcdef:autoScalingGroupName/lhta-aws-ghost-t",
}


def listed_by_the_tagging_api(arns: list[str], project: str):
    """A proxy handler: GetResources also lists these ARNs, tagged with the project."""
    def handler(call, forward):
        if call.action == "GetResources":
            response = forward()
            data = json_body(response)
            data["ResourceTagMappingList"] = data.get("ResourceTagMappingList", []) + [
                {"ResourceARN": arn, "Tags": [{"Key": "Project", "Value": project},
                                              {"Key": "Environment", "Value": "t"}]} for arn in arns]
            return with_json(response, data)
        return forward()
    return handler


def test_the_final_check_asks_each_service_whether_a_tagged_resource_is_gone(moto_endpoint):
    """The tagging API still lists a terminated instance's root volume, a
    deleted group, a deleted parameter, a deleted load balancer ... (one ARN
    of every kind the roles create); a volume being deleted is listed as
    deleting twice, then is gone."""
    leaving = f"arn:aws:ec2:eu-west-2:{ACCOUNT}:volume/vol-0leaving00000000"
    listed = listed_by_the_tagging_api([*GHOSTS.values(), leaving], "lhta-aws-ghost")

    def handler(call, forward):
        if call.action == "DescribeVolumes" and "vol-0leaving" in json.dumps(call.params) and call.count <= 4:
            return 200, {"Content-Type": "text/xml"}, (
                "<DescribeVolumesResponse><volumeSet><item><volumeId>vol-0leaving00000000</volumeId>"
                "<status>in-use</status></item></volumeSet></DescribeVolumesResponse>").encode()
        return listed(call, forward)

    with aws_proxy(moto_endpoint, handler) as proxy:
        _, output = teardown(proxy.url, "lhta-aws-ghost")
    assert "Nothing tagged" in output
    # Looked again while the volume was still there, then passed.
    assert proxy.actions("tagging").count("GetResources") >= 2
    # Each ghost was asked about where it lives, load balancers included.
    assert {"DescribeLoadBalancers", "DescribeTargetGroups", "DescribeListeners"} <= set(proxy.actions("elasticloadbalancing"))


def live_resources_of_every_kind(url: str, project: str) -> dict[tuple[str, str], str]:
    """One live resource of every kind in GHOSTS, made in the emulator: their ARNs."""
    ec2, ecs, elb = aws_client("ec2", url), aws_client("ecs", url), aws_client("elbv2", url)
    iam, autoscaling = aws_client("iam", url), aws_client("autoscaling", url)
    tags = [{"Key": "Project", "Value": project}, {"Key": "Environment", "Value": "t"}]
    region_account = f"eu-west-2:{ACCOUNT}"
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = [s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]]
    group = ec2.create_security_group(GroupName=project, Description=project, VpcId=vpc)["GroupId"]
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro",
                                 SubnetId=subnets[0])["Instances"][0]
    template = ec2.create_launch_template(LaunchTemplateName=project, LaunchTemplateData={"ImageId": image})[
        "LaunchTemplate"]["LaunchTemplateId"]
    autoscaling.create_auto_scaling_group(AutoScalingGroupName=project, LaunchTemplate={"LaunchTemplateId": template},
                                          MinSize=0, MaxSize=1, VPCZoneIdentifier=subnets[0])
    [asg] = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[project])["AutoScalingGroups"]
    balancer = elb.create_load_balancer(Name=project, Subnets=subnets[:2], SecurityGroups=[group])[
        "LoadBalancers"][0]["LoadBalancerArn"]
    target_group = elb.create_target_group(Name=project, Protocol="HTTP", Port=80, VpcId=vpc)[
        "TargetGroups"][0]["TargetGroupArn"]
    listener = elb.create_listener(LoadBalancerArn=balancer, Protocol="HTTP", Port=80, DefaultActions=[
        {"Type": "forward", "TargetGroupArn": target_group}])["Listeners"][0]["ListenerArn"]
    cluster = ecs.create_cluster(clusterName=project)["cluster"]["clusterArn"]
    provider = ecs.create_capacity_provider(name=project, autoScalingGroupProvider={
        "autoScalingGroupArn": asg["AutoScalingGroupARN"]})["capacityProvider"]["capacityProviderArn"]
    definition = ecs.register_task_definition(family=project, containerDefinitions=[
        {"name": "api", "image": "api", "memory": 64}])["taskDefinition"]["taskDefinitionArn"]
    ecs.register_container_instance(cluster=project, instanceIdentityDocument=json.dumps(
        {"instanceId": instance["InstanceId"], "region": "eu-west-2", "accountId": ACCOUNT}))
    service = ecs.create_service(cluster=project, serviceName=project, taskDefinition=definition,
                                 desiredCount=0)["service"]["serviceArn"]
    [task] = ecs.run_task(cluster=project, taskDefinition=definition, count=1)["tasks"]
    repository = aws_client("ecr", url).create_repository(repositoryName=project)["repository"]["repositoryArn"]
    iam.create_role(RoleName=project, AssumeRolePolicyDocument="{}", Tags=tags)
    profile = iam.create_instance_profile(InstanceProfileName=project)["InstanceProfile"]["Arn"]
    aws_client("logs", url).create_log_group(logGroupName=f"/ecs/{project}")
    aws_client("ssm", url).put_parameter(Name=f"/{project}/api-keys", Value="x", Type="SecureString")
    secret = aws_client("secretsmanager", url).create_secret(Name=project, SecretString="{}")["ARN"]
    certificate = aws_client("acm", url).request_certificate(DomainName=f"{project}.example.org",
                                                            ValidationMethod="DNS")["CertificateArn"]
    return {
        ("ec2", "instance"): f"arn:aws:ec2:{region_account}:instance/{instance['InstanceId']}",
        ("ec2", "volume"): f"arn:aws:ec2:{region_account}:volume/"
                           f"{instance['BlockDeviceMappings'][0]['Ebs']['VolumeId']}",
        ("ec2", "security-group"): f"arn:aws:ec2:{region_account}:security-group/{group}",
        ("ec2", "network-interface"): f"arn:aws:ec2:{region_account}:network-interface/"
                                      f"{instance['NetworkInterfaces'][0]['NetworkInterfaceId']}",
        ("ec2", "launch-template"): f"arn:aws:ec2:{region_account}:launch-template/{template}",
        ("ecs", "cluster"): cluster,
        ("ecs", "service"): service,
        ("ecs", "task"): task["taskArn"],
        ("ecs", "task-definition"): definition,
        ("ecs", "capacity-provider"): provider,
        ("ecr", "repository"): repository,
        ("iam", "role"): f"arn:aws:iam::{ACCOUNT}:role/{project}",
        ("iam", "instance-profile"): profile,
        ("logs", "log-group"): f"arn:aws:logs:{region_account}:log-group:/ecs/{project}:*",
        ("ssm", "parameter"): f"arn:aws:ssm:{region_account}:parameter/{project}/api-keys",
        ("secretsmanager", "secret"): secret,
        ("elasticloadbalancing", "loadbalancer"): balancer,
        ("elasticloadbalancing", "targetgroup"): target_group,
        ("elasticloadbalancing", "listener"): listener,
        ("acm", "certificate"): certificate,
        ("autoscaling", "autoScalingGroup"): asg["AutoScalingGroupARN"],
    }


def test_the_final_check_names_a_tagged_resource_of_every_kind_that_is_still_there(tmp_path):
    """The other half: a live resource of each kind listed by the tagging API
    is named as left, whatever its service (no "Unknown service").  On an
    emulator of its own, so that what it makes meets no other test."""
    project = "lhta-aws-alive"
    proc, url = start_moto(log_path=tmp_path / "moto-server.log")
    try:
        live = live_resources_of_every_kind(url, project)
        assert live.keys() == GHOSTS.keys()
        with aws_proxy(url, listed_by_the_tagging_api(list(live.values()), project)) as proxy:
            # Only the final check (nothing deleted), one look.
            code, output = teardown(proxy.url, project, "-e", '{"teardown_roles": []}',
                                    "-e", "teardown_check_retries=1", check=False)
    finally:
        stop_moto(proc)
    assert code != 0
    assert "Traceback" not in output and "Unknown service" not in output, output[-4000:]
    still_there = output[output.index("are still there"):]
    missing = {kind: arn for kind, arn in live.items() if arn not in still_there}
    assert not missing, output[-4000:]


# --- item 5: waiting for the instance and the deployment ---------------------------

def test_a_container_larger_than_the_instance_stops_before_the_service(stopped_at_the_memory_check):
    run = stopped_at_the_memory_check
    assert run.code != 0
    # The emulator's container instance registers 7482 MiB.
    assert "task_memory is 8000 MiB but the cluster's instance" in run.output and "7482 MiB" in run.output, \
        run.output[-4000:]
    assert not [r for r in run.requests if "CreateService" in r["headers"].get("X-Amz-Target", "")]


def test_a_cluster_no_instance_joins_stops_with_the_reason(moto_endpoint, tmp_path):
    code, output = deploy_stack(moto_endpoint, tmp_path, "lhta-aws-noinst", "-e", "ecs_cluster_emulate_agent=false",
                                "-e", "task_instance_timeout=2", "-e", "task_poll_delay=1")
    assert code != 0
    assert "no instance joined cluster lhta-aws-noinst-t" in output, output[-4000:]
    assert "Traceback" not in output
    teardown(moto_endpoint, "lhta-aws-noinst", "-e", "ecs_cluster_emulate_agent=false")


def looks_after_create(run: Run) -> int:
    """DescribeServices calls from CreateService on: the wait's looks at the deployment."""
    return run.ecs_actions[run.ecs_actions.index("CreateService"):].count("DescribeServices")


def test_the_wait_ends_when_the_rollout_fails(moto_endpoint, tmp_path):
    reason = "ECS deployment circuit breaker: tasks failed to start."
    run = deploy_with_rollout(moto_endpoint, tmp_path, "lhta-aws-failed", "FAILED", reason)
    assert run.code != 0, run.output[-6000:]
    assert f"FAILED (rolled back): {reason}" in run.output, run.output[-4000:]
    # Decided at the first look, not at the end of the timeout.
    assert looks_after_create(run) == 1
    teardown(moto_endpoint, run.project)


def test_the_wait_ends_when_the_rollout_completes(rolled_out):
    # The service was created once ECS could assume the new execution role
    # (issue 23, item 5): its first deployment did not fail on it.
    assert "ECS was unable to assume the role" not in rolled_out.output
    assert rolled_out.code == 0, rolled_out.output[-6000:]
    # Decided at the first look, not at the end of the timeout.
    assert looks_after_create(rolled_out) == 1
    # EC2 refused the instance profile once (ROLE_PROPAGATION): the
    # instance came on the retry.
    assert rolled_out.refused.get("RunInstances", 0) >= 1, rolled_out.refused


# --- issue 23, item 9: how long a rolling deploy may take ---------------------------------

DEFAULTS_PLAY = """\
    - hosts: localhost
      gather_facts: false
      tasks:
        - name: The task role's defaults
          ansible.builtin.include_vars: {{file: {defaults}}}
        - name: Show the timeout
          ansible.builtin.debug:
            msg: "timeout={{{{ task_stable_timeout | int }}}}"
    """


@pytest.mark.parametrize(("topology", "at_least"), [("single", 600), ("load_balanced", 600 + 300 + 60 + 30 + 60)])
def test_the_stable_timeout_leaves_room_for_new_instances_behind_the_load_balancer(tmp_path, topology, at_least):
    """Behind the load balancer a rolling deploy may need the capacity
    provider to add an instance first: its launch and join, its 300 s
    warm-up, the new task's grace period and health checks, the old task's
    draining and stop, before ECS's own placing and starting."""
    playbook = play(tmp_path, DEFAULTS_PLAY.format(defaults=ROOT / "roles/task/defaults/main.yml"))
    _, output = ansible_playbook("http://127.0.0.1:9", playbook, "-e", f"api_topology={topology}")
    timeout = int(re.search(r"timeout=(\d+)", output).group(1))
    assert timeout >= at_least


# --- item 12: what the READMEs tell the ops team to grant --------------------------------
# (The sections are generated from the actions recorded through the proxy:
# tests/support/iam_policy.py, tests/unit/test_iam_policy.py.)

@pytest.mark.parametrize(("role", "actions"), [
    ("ecs_cluster", ["ec2:DescribeSecurityGroups", "iam:CreateServiceLinkedRole", "iam:ListRoles",
                     "ec2:DescribeTags", "iam:ListInstanceProfilesForRole",
                     "ec2:ModifyInstanceMetadataOptions", "ec2:CreateLaunchTemplate",
                     "autoscaling:CreateAutoScalingGroup", "autoscaling:UpdateAutoScalingGroup",
                     "ecs:CreateCapacityProvider", "ecs:PutClusterCapacityProviders", "ec2:DeleteLaunchTemplate"]),
    ("task", ["kms:Decrypt", "kms:DescribeKey", "ecs:DescribeServices", "ecs:ListContainerInstances",
              "ecs:DescribeContainerInstances", "application-autoscaling:RegisterScalableTarget",
              "application-autoscaling:PutScalingPolicy", "application-autoscaling:DeregisterScalableTarget"]),
    ("load_balancer", ["elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateListener",
                       "elasticloadbalancing:DescribeTargetHealth",
                       "elasticloadbalancing:CreateTargetGroup", "elasticloadbalancing:ModifyTargetGroupAttributes",
                       "acm:ImportCertificate", "acm:RequestCertificate", "acm:DeleteCertificate",
                       "route53:ChangeResourceRecordSets", "ec2:CreateSecurityGroup"]),
    ("security_group", ["ec2:DescribeSecurityGroups"]),
    ("front", ["secretsmanager:GetSecretValue", "secretsmanager:CreateSecret", "secretsmanager:DeleteSecret"]),
    ("teardown", ["ec2:DescribeVolumes", "ssm:DescribeParameters", "logs:DescribeLogGroups",
                  "iam:GetInstanceProfile", "autoscaling:DescribeAutoScalingGroups", "ec2:DescribeLaunchTemplates",
                  "ecs:DescribeCapacityProviders", "application-autoscaling:DescribeScalableTargets",
                  "route53:ListResourceRecordSets", "iam:GetRole", "elasticloadbalancing:DescribeListeners"]),
])
def test_role_readmes_list_the_permissions_the_roles_use(role, actions):
    text = (ROOT / "roles" / role / "README.md").read_text()
    section = text.split("## IAM permissions", 1)[1].split("\n## ", 1)[0]
    assert [a for a in actions if f"`{a}`" not in section] == []


# --- item 17: the AWS connection, written once ----------------------------------------------

def test_the_aws_connection_is_written_once_per_inventory():
    """endpoint/credential settings appear only where aws_connection is defined
    (each inventory, the molecule base configuration), and every role sets
    its module_defaults from it."""
    places = []
    for path in [*ROOT.glob("*.yml"), *ROOT.glob("playbooks/*.yml"), *ROOT.glob("roles/**/*.yml"),
                 *ROOT.glob("inventory/**/*.yml"), ROOT / ".config/molecule/config.yml"]:
        if any(f"{k}:" in path.read_text() for k in ("endpoint_url", "access_key", "session_token")):
            places.append(str(path.relative_to(ROOT)))
    assert sorted(places) == [".config/molecule/config.yml", "inventory/local/group_vars/all.yml"]
    assert not list((ROOT / "roles").glob("*/library/*.py"))
    for role in ("ecr", "security_group", "ecs_cluster", "front", "task", "image", "load_balancer", "teardown"):
        assert 'group/living_hta.aws.aws: "{{ aws_connection }}"' in (ROOT / "roles" / role / "tasks/main.yml").read_text()
    assert not [p for p in ROOT.glob("roles/*/molecule/default/molecule.yml") if "driver:" in p.read_text()]
