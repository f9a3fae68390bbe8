"""The stand-ins' control plane without Docker: the endpoint's target
groups (tests/support/aws_proxy.py's TargetGroupTargets: keyed by (Id,
Port), draining, health, as ELB answers where moto 5.2 keys by Id only),
the ECS agent's admission of container instances (standins/ecs.py), and
roles/ecs_cluster creating the cluster before the instances that join it.
"""

from __future__ import annotations

import base64
import threading
import time
from types import SimpleNamespace

import pytest

from standins.common import Emulator
from standins.control import Endpoint, LoadBalancerStandIn
from standins.elb import TargetFollower
from standins.ecs import InstanceAgent
from tests.support.ansible import ansible_playbook
from tests.support.aws_proxy import AwsTimes, TargetGroupTargets, aws_proxy
from tests.support.moto import aws_client, reset
from tests.support.paths import ROOT


@pytest.fixture
def clean_moto(moto_endpoint):
    reset(moto_endpoint)
    yield moto_endpoint
    reset(moto_endpoint)


def _group(endpoint: str, delay: int) -> tuple[str, str]:
    """A target group (deregistration delay `delay` s) and a running instance: (group ARN, instance id)."""
    ec2, elbv2 = aws_client("ec2", endpoint), aws_client("elbv2", endpoint)
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    group = elbv2.create_target_group(Name="tg-standins", Protocol="HTTPS", Port=8443, VpcId=vpc,
                                      TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
    elbv2.modify_target_group_attributes(TargetGroupArn=group, Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": str(delay)}])
    image = ec2.describe_images()["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    return group, instance


def _targets(elbv2, group: str) -> dict[tuple[str, int], str]:
    return {(h["Target"]["Id"], h["Target"]["Port"]): h["TargetHealth"]["State"]
            for h in elbv2.describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"]}


def test_two_tasks_on_one_instance_are_two_targets_and_one_drains_alone(clean_moto):
    """With dynamic host ports, two tasks on one instance are (i, 32768) and
    (i, 32769): ELB keeps both, and deregistering one drains only it (moto
    alone keeps one target per instance and drops both)."""
    targets = TargetGroupTargets(clean_moto)
    with aws_proxy(clean_moto, targets.handler) as proxy:
        group, instance = _group(proxy.url, delay=2)
        elbv2 = aws_client("elbv2", proxy.url)
        elbv2.register_targets(TargetGroupArn=group, Targets=[{"Id": instance, "Port": 32768},
                                                               {"Id": instance, "Port": 32769}])
        assert _targets(elbv2, group) == {(instance, 32768): "initial", (instance, 32769): "initial"}
        targets.report_health(group, instance, 32768, True)     # what the load balancer's checks found
        targets.report_health(group, instance, 32769, False, "timeout")
        assert _targets(elbv2, group) == {(instance, 32768): "healthy", (instance, 32769): "unhealthy"}

        elbv2.deregister_targets(TargetGroupArn=group, Targets=[{"Id": instance, "Port": 32768}])
        assert _targets(elbv2, group) == {(instance, 32768): "draining", (instance, 32769): "unhealthy"}
        time.sleep(2.2)      # the deregistration delay, with nobody to end the drain earlier
        assert _targets(elbv2, group) == {(instance, 32769): "unhealthy"}

        # The load balancer ends a drain as soon as no request is left.
        elbv2.deregister_targets(TargetGroupArn=group, Targets=[{"Id": instance, "Port": 32769}])
        targets.drained(group, instance, 32769)
        assert _targets(elbv2, group) == {}


def test_registering_an_instance_that_does_not_run_is_refused(clean_moto):
    targets = TargetGroupTargets(clean_moto)
    with aws_proxy(clean_moto, targets.handler) as proxy:
        group, _ = _group(proxy.url, delay=0)
        elbv2 = aws_client("elbv2", proxy.url)
        with pytest.raises(elbv2.exceptions.InvalidTargetException):
            elbv2.register_targets(TargetGroupArn=group, Targets=[{"Id": "i-0123456789abcdef0", "Port": 1}])
        assert _targets(elbv2, group) == {}


def _auto_scaling_group(endpoint: str, name: str, cluster: str) -> list[str]:
    """A launch template whose user data joins `cluster`, and a group of two from it: the instance ids."""
    ec2, autoscaling = aws_client("ec2", endpoint), aws_client("autoscaling", endpoint)
    user_data = base64.b64encode(f"#!/bin/bash\necho ECS_CLUSTER={cluster} >> /etc/ecs/ecs.config\n".encode())
    ec2.create_launch_template(LaunchTemplateName=f"{name}-lt", LaunchTemplateData={
        "ImageId": ec2.describe_images()["Images"][0]["ImageId"], "InstanceType": "t3.small",
        "UserData": user_data.decode()})
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]][:2]
    autoscaling.create_auto_scaling_group(AutoScalingGroupName=name, MinSize=2, MaxSize=2,
                                          LaunchTemplate={"LaunchTemplateName": f"{name}-lt"},
                                          VPCZoneIdentifier=",".join(subnets))
    return [i["InstanceId"] for i in autoscaling.describe_auto_scaling_groups(
        AutoScalingGroupNames=[name])["AutoScalingGroups"][0]["Instances"]]


def _joined(endpoint: str, cluster: str) -> set[str]:
    ecs = aws_client("ecs", endpoint)
    arns = ecs.list_container_instances(cluster=cluster)["containerInstanceArns"]
    return {ci["ec2InstanceId"] for ci in ecs.describe_container_instances(
        cluster=cluster, containerInstances=arns)["containerInstances"]} if arns else set()


def test_the_agent_refuses_an_instance_that_booted_before_its_cluster(clean_moto):
    endpoint = Endpoint(clean_moto, port=0)
    said: list[str] = []
    agent = InstanceAgent(Emulator(endpoint.url), said.append, endpoint.cluster_created)
    try:
        early = _auto_scaling_group(endpoint.url, "early", "c-standins")
        time.sleep(1.1)     # LaunchTime has whole seconds
        aws_client("ecs", endpoint.url).create_cluster(clusterName="c-standins")
        agent.pass_once()
        late = _auto_scaling_group(endpoint.url, "late", "c-standins")
        agent.pass_once()
    finally:
        endpoint.proxy.server.shutdown()
    assert _joined(clean_moto, "c-standins") == set(late)
    assert agent.refused() == {i: "Cluster not found: c-standins" for i in early}
    assert sum("ECS agent: Cluster not found" in line for line in said) == 2, said


def test_ecs_cluster_creates_the_cluster_before_the_instances_that_join_it(clean_moto, tmp_path):
    """roles/ecs_cluster (load_balanced) with the ECS agent of the stand-ins
    watching: both instances of the Auto Scaling group join."""
    endpoint = Endpoint(clean_moto, port=0)
    agent = InstanceAgent(Emulator(endpoint.url), lambda text: None, endpoint.cluster_created)
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(0.3):
            try:
                agent.pass_once()
            except Exception:  # noqa: BLE001,S110 - the emulator half set up: next pass
                pass

    ec2 = aws_client("ec2", clean_moto)
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    group = ec2.create_security_group(GroupName="standins-test", Description="t", VpcId=vpc)["GroupId"]
    playbook = tmp_path / "cluster.yml"
    playbook.write_text("- hosts: localhost\n  gather_facts: false\n  roles:\n    - ecs_cluster\n")
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        ansible_playbook(endpoint.url, str(playbook), "-e", "api_topology=load_balanced",
                         "-e", f"ecs_cluster_security_group_id={group}", "-e", "ecs_cluster_emulate_agent=false",
                         "-e", "ecs_cluster_asg_wait_timeout=60",
                         ANSIBLE_ROLES_PATH=str(ROOT / "roles"))
        time.sleep(1)
    finally:
        stop.set()
        watcher.join(10)
        endpoint.proxy.server.shutdown()
    instances = [i["InstanceId"] for r in ec2.describe_instances(
        Filters=[{"Name": "instance-state-name", "Values": ["running"]}])["Reservations"] for i in r["Instances"]]
    assert agent.refused() == {}
    assert _joined(clean_moto, "living-hta-local") == set(instances) and len(instances) == 2


def test_the_load_balancer_stops_without_a_traceback_when_the_teardown_deletes_its_target_group(
        clean_moto, capsys):
    """The teardown deletes the load balancer, then its target group: the
    stand-in's next look finds no group (TargetGroupNotFound) and stops
    HAProxy, saying so in one line (it printed a traceback, and kept trying)."""
    group, _ = _group(clean_moto, 5)
    stopped = []

    class HAProxyStandIn:  # the container's part of standins.elb.HAProxy
        def servers(self) -> dict:
            return {}

        def stop(self) -> None:
            stopped.append(True)

    aws = Emulator(clean_moto)
    balancer = LoadBalancerStandIn(aws, None, SimpleNamespace(folder="."))
    balancer.alb = SimpleNamespace(name="lb-standins")
    balancer.follower = TargetFollower(aws, HAProxyStandIn(), SimpleNamespace(arn=group), None, print)
    balancer.pass_once()
    assert balancer.follower is not None and not stopped
    aws_client("elbv2", clean_moto).delete_target_group(TargetGroupArn=group)
    balancer.pass_once()
    assert stopped == [True] and balancer.follower is None
    out = capsys.readouterr().out
    assert "load balancer lb-standins: its target group is deleted: HAProxy stopped" in out
    assert "Traceback" not in out
    balancer.pass_once()  # no service, no load balancer: nothing to follow, nothing said
    assert stopped == [True] and capsys.readouterr().out == ""


def test_the_state_snapshot_never_asks_a_haproxy_that_is_stopping(clean_moto):
    """The control loop writes the stand-ins' state (a snapshot with
    HAProxy's servers) while the load balancer's own loop stops HAProxy: a
    snapshot taken during the stop found its socket gone, and the control
    process died of ConnectionRefusedError (make demo-down then failed)."""
    group, _ = _group(clean_moto, 5)
    snapshots, errors = [], []
    aws = Emulator(clean_moto)
    balancer = LoadBalancerStandIn(aws, None, SimpleNamespace(folder="."))

    class HAProxyStandIn:
        stopping = False

        def servers(self) -> dict:
            if self.stopping:
                raise ConnectionRefusedError(111, "Connection refused")
            return {}

        def stop(self) -> None:
            self.stopping = True

            def snapshot() -> None:
                try:
                    snapshots.append(balancer.snapshot())
                except OSError as error:
                    errors.append(error)

            thread = threading.Thread(target=snapshot)
            thread.start()
            thread.join(0.5)  # the snapshot comes while HAProxy stops

    balancer.alb = SimpleNamespace(name="lb-standins", target_group=SimpleNamespace(arn=group, deregistration_delay=5))
    balancer.follower = TargetFollower(aws, HAProxyStandIn(), SimpleNamespace(arn=group), None, print)
    aws_client("elbv2", clean_moto).delete_target_group(TargetGroupArn=group)
    balancer.pass_once()
    deadline = time.monotonic() + 5
    while not (snapshots or errors) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert errors == [] and snapshots == [{"running": False, "waiting_for": ""}]



@pytest.mark.parametrize("from_first_refusal", [False, True])
def test_an_instance_profile_propagates_from_its_creation_or_from_the_first_refusal(clean_moto, from_first_refusal):
    """The proxy's IAM propagation (AwsTimes.instance_profile): RunInstances
    naming a new instance profile is refused for that long.  Counted from
    the profile's creation, a call that comes later is taken at once;
    counted from the first refusal, the late call is refused and the next
    ones too, until the time has passed since that refusal."""
    times = AwsTimes(instance_profile=1.5, from_first_refusal=from_first_refusal)
    with aws_proxy(clean_moto, times=times) as proxy:
        iam, ec2 = aws_client("iam", proxy.url), aws_client("ec2", proxy.url)
        iam.create_instance_profile(InstanceProfileName="lhta-propagating")
        image = ec2.describe_images()["Images"][0]["ImageId"]
        before = proxy.aws.refused["RunInstances"]  # kept per emulator, for the session

        def run() -> bool:
            try:
                ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1,
                                  IamInstanceProfile={"Name": "lhta-propagating"})
            except ec2.exceptions.ClientError as error:
                assert "Invalid IAM Instance Profile name" in str(error)
                return False
            return True

        time.sleep(2)  # longer than the propagation, since the creation
        if not from_first_refusal:
            assert run()
            assert proxy.aws.refused["RunInstances"] == before
            return
        refused_at = time.monotonic()
        assert not run()
        time.sleep(1)
        assert not run()
        time.sleep(max(0.0, refused_at + 1.6 - time.monotonic()))
        assert run()
        assert proxy.aws.refused["RunInstances"] == before + 2
        # A profile made again (a teardown, then a deploy) propagates again.
        iam.delete_instance_profile(InstanceProfileName="lhta-propagating")
        iam.create_instance_profile(InstanceProfileName="lhta-propagating")
        time.sleep(2)
        assert not run()
