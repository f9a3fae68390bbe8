"""The load-balanced topology (issue 14) against the AWS emulator.

One stack deployed by site.yml with ``-e api_topology=load_balanced`` and a
certificate imported from files, on a moto server of this module's own:
the listeners, target group, security groups, Auto Scaling group and its
capacity provider, the service and its autoscaling, read back from the
emulator (and, for what moto accepts but does not keep, from the requests
it received); a re-deploy that changes nothing; a teardown, twice, that
leaves nothing; bad variable combinations stopped before any AWS call.
The load_balancer role's certificates alone (requested and validated in
Route 53, imported again when the file changes) are
tests/deploy/test_load_balancer_certificates.py's.
"""

from __future__ import annotations

import base64
import json
import time

import pytest

from tests.support.ansible import (ansible_playbook, assert_stopped_before_any_aws_call, changed_tasks, recap,
                                   stop_cases)
from tests.support.aws_proxy import AwsTimes, aws_like, aws_proxy, launch_template_tags_kept_apart
from tests.support.iam_policy import missing_from_policy
from tests.support.load_balanced import FAST, HTTP_PORT, HTTPS_PORT, files, moto, tags_of  # noqa: F401  (fixtures)
from tests.support.moto import aws_client, recorded_requests
from tests.support.registry import ecr_like_registry, local_registry  # noqa: F401  (fixtures)
from tests.support.secret_audit import TEST_KEY

pytestmark = pytest.mark.slow

NAME = "living-hta-local"
TAGS = {"Project": "living-hta", "Environment": "local"}
# AWS's propagation delays of the new instance profile and the imported
# certificate, counted from the first call each refuses: that call meets
# them however late it comes on a busy machine (from their creation, they
# had to be 45 s and 60 s: the group came some 20 s after the profile, the
# listener 15 s after the import), and the role tries again for 10 s.
PROPAGATING = AwsTimes(instance_profile=10, certificate=10, from_first_refusal=True)


def request_body(entry: dict) -> str:
    body = entry.get("body") or ""
    return base64.b64decode(body).decode() if entry.get("body_encoded") else body


def sent(requests: list[dict], target: str) -> list[dict]:
    """The JSON bodies of the recorded requests with this X-Amz-Target suffix."""
    return [json.loads(request_body(r)) for r in requests if r["headers"].get("X-Amz-Target", "").endswith(target)]


def site(endpoint: str, files: dict, registry: str, *extra: str, check: bool = True) -> tuple[int, str]:
    tls = files["tls"]
    return ansible_playbook(
        endpoint, "site.yml", "-e", "api_topology=load_balanced", "-e", "load_balancer_certificate=imported",
        "-e", f"load_balancer_certificate_file={tls['certificate']}", "-e", f"load_balancer_private_key_file={tls['key']}",
        "-e", f"load_balancer_certificate_chain_file={tls['ca']}", "-e", f"image_registry={registry}",
        "-e", f"front_ca_file={files['ca']}", "-e", "ecs_cluster_poll_delay=2", "-e", "load_balancer_poll_delay=2",
        *extra, check=check, DOCKER_CONFIG=str(files["docker_config"]))


@pytest.fixture(scope="module")
def deployed(moto, files, local_registry):  # noqa: F811
    start = time.monotonic()
    with recorded_requests(moto) as requests, aws_proxy(moto, times=PROPAGATING) as proxy:
        _, output = site(proxy.url, files, local_registry)
    return {"output": output, "requests": requests, "seconds": time.monotonic() - start,
            "refused": dict(proxy.aws.refused)}


def the_service(moto: str) -> dict:
    [service] = aws_client("ecs", moto).describe_services(cluster=NAME, services=[NAME])["services"]
    return service


# --- a first deploy in an account where IAM and ACM take their time (issue 23, items 2 and 4)

def test_the_first_deploy_waits_for_the_instance_profile_and_the_certificate(deployed):
    # Auto Scaling refused the group while the instance profile propagated,
    # ELB the HTTPS listener while the imported certificate did: both were
    # tried again until AWS took them.
    assert deployed["refused"].get("CreateAutoScalingGroup", 0) >= 1, deployed["refused"]
    assert deployed["refused"].get("CreateListener", 0) >= 1, deployed["refused"]
    assert "Invalid IAM Instance Profile" not in deployed["output"].split("PLAY RECAP")[-1]


# --- what the demo reads back: everything from the ECS service -------------------

def test_everything_is_discoverable_from_the_service(deployed, moto, files):
    elb, acm = aws_client("elbv2", moto), aws_client("acm", moto)
    [binding] = the_service(moto)["loadBalancers"]
    assert (binding["containerName"], binding["containerPort"]) == ("front", 8443)
    [group] = elb.describe_target_groups(TargetGroupArns=[binding["targetGroupArn"]])["TargetGroups"]
    [balancer_arn] = group["LoadBalancerArns"]
    listeners = {l["Port"]: l for l in elb.describe_listeners(LoadBalancerArn=balancer_arn)["Listeners"]}
    [certificate] = listeners[HTTPS_PORT]["Certificates"]
    pem = acm.get_certificate(CertificateArn=certificate["CertificateArn"])
    assert pem["Certificate"].strip() == files["tls"]["certificate"].read_text().strip()


def test_https_listener_has_the_certificate_and_policy_and_http_only_redirects(deployed, moto, files):
    elb, acm = aws_client("elbv2", moto), aws_client("acm", moto)
    [balancer] = elb.describe_load_balancers(Names=[NAME])["LoadBalancers"]
    assert balancer["Scheme"] == "internet-facing" and balancer["Type"] == "application"
    assert len({zone["ZoneName"] for zone in balancer["AvailabilityZones"]}) >= 2
    listeners = {l["Port"]: l for l in elb.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])["Listeners"]}
    assert sorted(listeners) == [HTTP_PORT, HTTPS_PORT]
    https = listeners[HTTPS_PORT]
    assert https["Protocol"] == "HTTPS" and https["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    [action] = https["DefaultActions"]
    assert action["Type"] == "forward" and action["TargetGroupArn"] == the_service(moto)["loadBalancers"][0]["targetGroupArn"]
    arn = https["Certificates"][0]["CertificateArn"]
    assert tags_of(acm.list_tags_for_certificate(CertificateArn=arn)["Tags"]).items() >= {**TAGS, "Name": NAME}.items()
    assert acm.describe_certificate(CertificateArn=arn)["Certificate"]["Type"] == "IMPORTED"
    http = listeners[HTTP_PORT]
    assert http["Protocol"] == "HTTP"
    [redirect] = http["DefaultActions"]
    assert redirect["Type"] == "redirect"
    assert redirect["RedirectConfig"] == {"Protocol": "HTTPS", "Port": str(HTTPS_PORT), "Host": "#{host}",
                                          "Path": "/#{path}", "Query": "#{query}", "StatusCode": "HTTP_301"}


def test_the_load_balancer_drops_invalid_headers_and_refuses_deletion(deployed, moto):
    # Security Hub ELB.4 and ELB.6 (issue 23, item 10); access logs (ELB.5)
    # only to a bucket given (load_balancer_access_logs_bucket).  The proxy
    # refuses to delete a protected load balancer, as AWS does: the teardown
    # test below lifts the protection first.
    elb = aws_client("elbv2", moto)
    [balancer] = elb.describe_load_balancers(Names=[NAME])["LoadBalancers"]
    attributes = {a["Key"]: a["Value"] for a in elb.describe_load_balancer_attributes(
        LoadBalancerArn=balancer["LoadBalancerArn"])["Attributes"]}
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert attributes["deletion_protection.enabled"] == "true"
    assert attributes.get("access_logs.s3.enabled", "false") == "false"


def test_target_group_checks_health_over_https_and_drains_as_long_as_a_stop(deployed, moto):
    elb = aws_client("elbv2", moto)
    [group] = elb.describe_target_groups(Names=[NAME])["TargetGroups"]
    assert (group["TargetType"], group["Protocol"], group["Port"]) == ("instance", "HTTPS", 8443)
    assert (group["HealthCheckProtocol"], group["HealthCheckPath"], group["HealthCheckPort"]) == (
        "HTTPS", "/health", "traffic-port")
    assert group["Matcher"] == {"HttpCode": "200"}
    assert (group["HealthCheckIntervalSeconds"], group["HealthCheckTimeoutSeconds"],
            group["HealthyThresholdCount"], group["UnhealthyThresholdCount"]) == (15, 5, 2, 3)
    attributes = {a["Key"]: a["Value"] for a in
                  elb.describe_target_group_attributes(TargetGroupArn=group["TargetGroupArn"])["Attributes"]}
    # The task's stop timeout (30 s): longer than any request can run.
    assert attributes["deregistration_delay.timeout_seconds"] == "30"


def test_only_the_load_balancer_reaches_the_instances(deployed, moto):
    ec2, elb = aws_client("ec2", moto), aws_client("elbv2", moto)
    groups = {g["GroupName"]: g for g in ec2.describe_security_groups(
        Filters=[{"Name": "tag:Project", "Values": ["living-hta"]}])["SecurityGroups"]}
    front_door, instances = groups[f"{NAME}-lb"], groups[NAME]
    [balancer] = elb.describe_load_balancers(Names=[NAME])["LoadBalancers"]
    assert balancer["SecurityGroups"] == [front_door["GroupId"]]
    assert sorted((r["FromPort"], r["ToPort"]) for r in front_door["IpPermissions"]) == [(HTTP_PORT, HTTP_PORT),
                                                                                        (HTTPS_PORT, HTTPS_PORT)]
    for rule in front_door["IpPermissions"]:
        assert [r["CidrIp"] for r in rule["IpRanges"]] == ["0.0.0.0/0"]
        assert [r["CidrIpv6"] for r in rule["Ipv6Ranges"]] == ["::/0"]
    [rule] = instances["IpPermissions"]
    assert (rule["IpProtocol"], rule["FromPort"], rule["ToPort"]) == ("tcp", 32768, 65535)
    assert [p["GroupId"] for p in rule["UserIdGroupPairs"]] == [front_door["GroupId"]]
    assert rule["IpRanges"] == [] and rule["Ipv6Ranges"] == []
    template = ec2.describe_launch_template_versions(LaunchTemplateName=f"{NAME}-ecs",
                                                     Versions=["$Default"])["LaunchTemplateVersions"][0]
    [interface] = template["LaunchTemplateData"]["NetworkInterfaces"]
    assert interface["Groups"] == [instances["GroupId"]]


def test_instances_come_from_an_auto_scaling_group_ecs_scales(deployed, moto):
    ec2, autoscaling, ecs = aws_client("ec2", moto), aws_client("autoscaling", moto), aws_client("ecs", moto)
    [group] = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[f"{NAME}-asg"])["AutoScalingGroups"]
    subnets = ec2.describe_subnets(SubnetIds=group["VPCZoneIdentifier"].split(","))["Subnets"]
    assert len({s["AvailabilityZone"] for s in subnets}) >= 2
    [balancer] = aws_client("elbv2", moto).describe_load_balancers(Names=[NAME])["LoadBalancers"]
    assert {s["SubnetId"] for s in subnets} == {z["SubnetId"] for z in balancer["AvailabilityZones"]}
    assert (group["MinSize"], group["MaxSize"]) == (2, 6) and len(group["Instances"]) == 2
    assert group["LaunchTemplate"]["LaunchTemplateName"] == f"{NAME}-ecs"
    assert group["LaunchTemplate"]["Version"] == "$Default"
    # Managed termination protection needs new instances protected from scale-in.
    assert group["NewInstancesProtectedFromScaleIn"] is True
    assert tags_of(group["Tags"]).items() >= TAGS.items()
    assert all(t["PropagateAtLaunch"] for t in group["Tags"])

    data = ec2.describe_launch_template_versions(LaunchTemplateName=f"{NAME}-ecs",
                                                 Versions=["$Default"])["LaunchTemplateVersions"][0]["LaunchTemplateData"]
    # IMDSv2 only; one hop: the agent (host network) reaches it, a bridge-mode container does not.
    metadata = data["MetadataOptions"]
    assert (metadata["HttpTokens"], metadata["HttpPutResponseHopLimit"], metadata["HttpEndpoint"]) == (
        "required", 1, "enabled")
    assert data["InstanceType"] == "t3.small"
    assert data["IamInstanceProfile"]["Arn"].endswith(f":instance-profile/{NAME}-ecs-instance")
    assert f"ECS_CLUSTER={NAME}" in base64.b64decode(data["UserData"]).decode()
    ami = aws_client("ssm", moto).get_parameter(Name="/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id")
    assert data["ImageId"] == ami["Parameter"]["Value"]

    [provider] = ecs.describe_capacity_providers(capacityProviders=[NAME], include=["TAGS"])["capacityProviders"]
    settings = provider["autoScalingGroupProvider"]
    assert settings["autoScalingGroupArn"] == group["AutoScalingGroupARN"]
    assert settings["managedScaling"]["status"] == "ENABLED" and settings["managedScaling"]["targetCapacity"] == 100
    assert settings["managedTerminationProtection"] == "ENABLED"
    assert tags_of(provider["tags"], "key", "value").items() >= TAGS.items()
    [cluster] = ecs.describe_clusters(clusters=[NAME])["clusters"]
    assert cluster["capacityProviders"] == [NAME]
    assert cluster["defaultCapacityProviderStrategy"] == [{"capacityProvider": NAME, "weight": 1, "base": 0}]
    # The emulated agent registered the group's instances.
    arns = ecs.list_container_instances(cluster=NAME)["containerInstanceArns"]
    registered = ecs.describe_container_instances(cluster=NAME, containerInstances=arns)["containerInstances"]
    assert sorted(ci["ec2InstanceId"] for ci in registered) == sorted(i["InstanceId"] for i in group["Instances"])


def test_the_service_runs_two_tasks_spread_and_rolls_without_dropping_below_them(deployed, moto):
    # moto keeps neither the placement, the grace period, nor the deployment
    # configuration: what was sent is what AWS would keep.
    [create] = sent(deployed["requests"], "CreateService")
    assert create["desiredCount"] == 2
    assert "launchType" not in create and "capacityProviderStrategy" not in create  # the cluster's default provider
    assert create["loadBalancers"] == the_service(moto)["loadBalancers"]
    assert create["placementStrategy"] == [{"type": "spread", "field": "attribute:ecs.availability-zone"},
                                           {"type": "spread", "field": "instanceId"}]
    assert create["healthCheckGracePeriodSeconds"] == 60
    assert create["deploymentConfiguration"] == {"minimumHealthyPercent": 100, "maximumPercent": 200,
                                                 "deploymentCircuitBreaker": {"enable": True, "rollback": True}}


def test_the_task_maps_the_front_to_a_dynamic_port_and_trusts_the_load_balancer(deployed, moto):
    ec2, ecs = aws_client("ec2", moto), aws_client("ecs", moto)
    definition = ecs.describe_task_definition(taskDefinition=the_service(moto)["taskDefinition"])["taskDefinition"]
    api, front = definition["containerDefinitions"]
    assert front["portMappings"] == [{"containerPort": 8443, "hostPort": 0, "protocol": "tcp"}]
    assert api["portMappings"] == [] and api["cpu"] == 1024
    front_env = {e["name"]: e["value"] for e in front["environment"]}
    assert (front_env["FRONT_FORWARDED_FOR"], front_env["FRONT_PUBLIC_HTTPS_PORT"],
            front_env["FRONT_KEEPALIVE_TIMEOUT"]) == ("append", str(HTTPS_PORT), "75")
    [balancer] = aws_client("elbv2", moto).describe_load_balancers(Names=[NAME])["LoadBalancers"]
    subnets = ec2.describe_subnets(SubnetIds=[z["SubnetId"] for z in balancer["AvailabilityZones"]])["Subnets"]
    proxies = {e["name"]: e["value"] for e in api["environment"]}["TRUSTED_PROXIES"].split(",")
    assert proxies[0] == "172.17.0.0/16"
    # The front's limits count the client the load balancer names: the same proxies trusted.
    assert front_env["TRUSTED_PROXIES"].split(",") == proxies
    assert sorted(proxies[1:]) == sorted(s["CidrBlock"] for s in subnets)


def test_the_service_scales_on_cpu_between_two_and_four(deployed, moto):
    scaling = aws_client("application-autoscaling", moto)
    resource = f"service/{NAME}/{NAME}"
    [target] = scaling.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[resource])["ScalableTargets"]
    assert (target["MinCapacity"], target["MaxCapacity"], target["ScalableDimension"]) == (
        2, 4, "ecs:service:DesiredCount")
    [policy] = scaling.describe_scaling_policies(ServiceNamespace="ecs", ResourceId=resource)["ScalingPolicies"]
    assert policy["PolicyType"] == "TargetTrackingScaling"
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["PredefinedMetricSpecification"]["PredefinedMetricType"] == "ECSServiceAverageCPUUtilization"
    assert tracking["TargetValue"] == 60


def test_the_url_is_the_load_balancers_and_no_key_is_printed(deployed, moto, files):
    [balancer] = aws_client("elbv2", moto).describe_load_balancers(Names=[NAME])["LoadBalancers"]
    assert f"The API answers at https://{balancer['DNSName']}:{HTTPS_PORT}" in deployed["output"]
    assert TEST_KEY not in deployed["output"]
    key_body = "".join(line for line in files["tls"]["key"].read_text().splitlines() if "PRIVATE KEY" not in line)
    assert key_body[:40] not in deployed["output"]


def test_redeploy_changes_nothing_and_imports_nothing(deployed, moto, files, local_registry):  # noqa: F811
    with aws_proxy(moto, launch_template_tags_kept_apart) as proxy:
        _, output = site(proxy.url, files, local_registry)
    assert recap(output)["changed"] == 0, changed_tasks(output)
    assert "ImportCertificate" not in proxy.actions()
    assert "CreateLaunchTemplateVersion" not in proxy.actions()


def front_certificate_secrets(moto: str) -> dict[str, str]:
    ecs = aws_client("ecs", moto)
    definition = ecs.describe_task_definition(taskDefinition=the_service(moto)["taskDefinition"])["taskDefinition"]
    [front] = [c for c in definition["containerDefinitions"] if c["name"] == "front"]
    return {s["name"]: s["valueFrom"] for s in front["secrets"]}


def test_a_redeploy_applies_a_new_range_instance_type_and_front_certificate(deployed, moto, files,
                                                                           local_registry):  # noqa: F811
    """Issue 23: the scalable target's new range (item 6), a new launch
    template version rolled onto the running instances (7), a new front
    certificate in a new task definition revision (8)."""
    before = the_service(moto)["taskDefinition"]
    old_secrets = front_certificate_secrets(moto)
    changes = ["-e", "task_autoscaling_min_capacity=3", "-e", "task_autoscaling_max_capacity=5",
               "-e", "ecs_cluster_instance_type=t3.medium",
               "-e", '{"front_certificate_names": ["127.0.0.1", "localhost", "api.local"]}']
    with aws_proxy(moto, launch_template_tags_kept_apart) as proxy:
        _, output = site(proxy.url, files, local_registry, *changes)

    scaling = aws_client("application-autoscaling", moto)
    [target] = scaling.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[f"service/{NAME}/{NAME}"])[
        "ScalableTargets"]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (3, 5)
    assert the_service(moto)["desiredCount"] == 3

    [refresh] = [c for c in proxy.calls if c.action == "StartInstanceRefresh"]
    assert refresh.params["AutoScalingGroupName"] == f"{NAME}-asg"
    assert refresh.params["Preferences.MinHealthyPercentage"] == "100"
    assert int(refresh.params["Preferences.MaxHealthyPercentage"]) > 100

    new_secrets = front_certificate_secrets(moto)
    assert the_service(moto)["taskDefinition"] != before
    assert new_secrets != old_secrets, (changed_tasks(output), new_secrets)
    # The secret's version that holds the new certificate, named in the task definition.
    secrets = aws_client("secretsmanager", moto)
    arn, version = new_secrets["TLS_CERTIFICATE"].rsplit("::", 1)
    current = secrets.get_secret_value(SecretId=arn.rsplit(":", 1)[0])
    assert current["VersionId"] == version and "AWSCURRENT" in current["VersionStages"]

    # The refresh is done by then (AwsTimes.instance_refresh): the same run
    # again starts none and makes no revision.
    with aws_proxy(moto, launch_template_tags_kept_apart) as proxy:
        site(proxy.url, files, local_registry, *changes)
    assert "StartInstanceRefresh" not in proxy.actions()
    assert "RegisterTaskDefinition" not in proxy.actions()
    assert "CreateLaunchTemplateVersion" not in proxy.actions()


def live(moto: str) -> dict[str, list]:
    """What of the stack is left, asked of each service."""
    ecs, elb, acm = aws_client("ecs", moto), aws_client("elbv2", moto), aws_client("acm", moto)
    autoscaling, ec2 = aws_client("autoscaling", moto), aws_client("ec2", moto)
    scaling = aws_client("application-autoscaling", moto)
    return {
        "load balancers": elb.describe_load_balancers()["LoadBalancers"],
        "target groups": elb.describe_target_groups()["TargetGroups"],
        "certificates": acm.list_certificates(Includes={"keyTypes": ["EC_prime256v1", "RSA_2048"]})[
            "CertificateSummaryList"],
        "groups": autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"],
        "launch templates": ec2.describe_launch_templates()["LaunchTemplates"],
        "capacity providers": ecs.describe_capacity_providers(capacityProviders=[NAME])["capacityProviders"],
        "scalable targets": scaling.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"],
        "scaling policies": scaling.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"],
        "security groups": ec2.describe_security_groups(
            Filters=[{"Name": "tag:Project", "Values": ["living-hta"]}])["SecurityGroups"],
        "running instances": [i for r in ec2.describe_instances(
            Filters=[{"Name": "instance-state-name", "Values": ["pending", "running"]}])["Reservations"]
            for i in r["Instances"]],
    }


def test_teardown_removes_it_all_twice(deployed, moto):
    assert all(live(moto).values()), "the stack should be there before the teardown"
    # Another stack's instance profile: the final check reads its tags (moto
    # has no ListInstanceProfileTags) and leaves it out.
    aws_client("iam", moto).create_instance_profile(InstanceProfileName="lhta-other-profile",
                                                    Tags=[{"Key": "Project", "Value": "other"}])
    _, first = ansible_playbook(moto, "playbooks/teardown.yml", *FAST)
    assert recap(first)["changed"] > 0 and "Nothing tagged" in first
    assert {kind: found for kind, found in live(moto).items() if found} == {}
    _, second = ansible_playbook(moto, "playbooks/teardown.yml", *FAST)
    assert recap(second)["changed"] == 0, second[-6000:]
    assert "Nothing tagged" in second
    aws_client("iam", moto).delete_instance_profile(InstanceProfileName="lhta-other-profile")


def test_every_call_of_the_deploys_and_teardowns_is_in_the_iam_policy(moto):
    """The deploy, re-deploys and teardowns above went through the proxy,
    which recorded each role's actions: docs/iam-policy.json grants them
    all (tests/deploy/test_load_balancer_certificates.py checks its own)."""
    recorded = aws_like(moto).actions
    assert {"load_balancer", "ecs_cluster", "task", "teardown"} <= set(recorded)
    assert missing_from_policy(recorded) == {}


# --- bad combinations stop before any AWS call ----------------------------------------

# Each case: variables on top of a load-balanced deploy with an imported
# certificate, and what the failure must name.  All of them play in one run
# of site.yml, one inventory host per case (tests/deploy/test_deploy_checks.py
# does the same for both topologies' single variables).
BAD_COMBINATIONS = [
    ({"api_topology": "blue_green"}, "api_topology"),
    ({"load_balancer_certificate": "arn"}, "load_balancer_certificate_arn"),
    ({"load_balancer_certificate": "requested", "api_domain_name": "api.example.org"}, "api_hosted_zone"),
    ({"load_balancer_certificate": "imported", "load_balancer_certificate_file": "/nonexistent.pem",
      "load_balancer_private_key_file": "/nonexistent.key"}, "load_balancer_certificate_file"),
    ({"load_balancer_certificate": "requested", "api_domain_name": "api.example.org",
      "api_hosted_zone": "example.com"}, "api_domain_name"),
    ({"task_desired_count": "1"}, "task_desired_count"),
    ({"task_desired_count": "5"}, "task_autoscaling_max_capacity"),
    ({"ecs_cluster_launch_type": "FARGATE"}, "ecs_cluster_launch_type"),
    ({"load_balancer_health_check_timeout": "30"}, "load_balancer_health_check_timeout"),
    ({"project_name": "a-project-name-far-too-long-for-an-alb"}, "load_balancer_name"),
]


@pytest.fixture(scope="module")
def stopped(moto, files, tmp_path_factory):
    tls = files["tls"]
    imported = {"api_topology": "load_balanced", "load_balancer_certificate": "imported",
                "load_balancer_certificate_file": str(tls["certificate"]), "load_balancer_private_key_file": str(tls["key"])}
    cases = {f"case-{i}": imported | variables for i, (variables, _) in enumerate(BAD_COMBINATIONS)}
    return stop_cases(moto, cases, tmp_path_factory.mktemp("bad-combinations"))


@pytest.mark.parametrize(("variables", "named"), BAD_COMBINATIONS)
def test_bad_combinations_stop_before_any_aws_call(stopped, variables, named):
    assert_stopped_before_any_aws_call(stopped, f"case-{BAD_COMBINATIONS.index((variables, named))}", named)
