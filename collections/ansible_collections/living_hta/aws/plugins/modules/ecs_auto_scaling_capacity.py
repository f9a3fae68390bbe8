#!/usr/bin/python
# -*- coding: utf-8 -*-
# An ECS cluster's EC2 capacity from an Auto Scaling group: the group and the
# capacity provider that lets ECS scale it.  No collection has a module for
# capacity providers, and amazon.aws.autoscaling_group cannot protect new
# instances from scale-in (which managed termination protection requires)
# and calls DisableMetricsCollection on every update.

DOCUMENTATION = r"""
---
module: ecs_auto_scaling_capacity
short_description: An Auto Scaling group as an ECS cluster's capacity, with its capacity provider
description:
  - I(state=present) creates the Auto Scaling group from I(launch_template)
    over I(subnet_ids) (its desired capacity starts at I(min_size); ECS sets
    it afterwards), or updates its template, subnets and sizes when they
    differ, tags it (tags propagated to its instances), and protects new
    instances from scale-in as managed termination protection requires.
    When its instances run another version of the launch template than the
    group's (a new default version: new AMI, instance type, user data),
    it starts an instance refresh that replaces them new-first (minimum
    healthy I(instance_refresh_min_healthy) %), unless one is running.
    While IAM propagates the template's new instance profile, Auto Scaling
    refuses the group; it is tried again for I(iam_timeout) seconds.
    Then it creates the ECS capacity provider over the group, or updates its
    managed scaling and termination protection when they differ. Before,
    it makes sure the ECS service-linked role exists (a fresh account has
    none). ECS then sets and lifts each instance's protection (lifted once
    no task runs there), which later runs leave alone.
  - I(state=absent) takes the provider out of I(cluster)'s providers (when
    the cluster exists and lists it), deletes it, then deletes the group
    with its instances (forced: they are protected from scale-in), waits
    until it is gone, and deletes I(launch_template) (DeleteLaunchTemplate
    removes every version at once; amazon.aws.ec2_launch_template deletes
    the versions first, a call the AWS emulator does not implement). Safe
    when they are gone.
  - Supports check mode.
options:
  name:
    description: Capacity provider name (not starting with aws, ecs or fargate).
    required: true
    type: str
  auto_scaling_group:
    description: Name of the Auto Scaling group.
    required: true
    type: str
  launch_template:
    description: Name of the launch template (I(state=present)); with I(state=absent), deleted too when given.
    type: str
  launch_template_version:
    description: Version of the template the group launches.
    type: str
    default: $Default
  subnet_ids:
    description: Subnets of the group (I(state=present)).
    type: list
    elements: str
  min_size:
    description: Fewest instances.
    type: int
  max_size:
    description: Most instances.
    type: int
  wait:
    description: On creation, wait until I(min_size) instances are in service.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for the instances (or, when deleting, for the group to go).
    type: int
    default: 600
  target_capacity:
    description: Percentage of the group's capacity ECS aims to use (1-100).
    type: int
    default: 100
  minimum_scaling_step_size:
    description: Fewest instances added or removed at a time.
    type: int
    default: 1
  maximum_scaling_step_size:
    description: Most instances added or removed at a time.
    type: int
    default: 2
  instance_warmup_period:
    description: Seconds a new instance takes before it counts.
    type: int
    default: 300
  managed_termination_protection:
    description: ECS keeps instances that run tasks from being scaled in.
    type: bool
    default: true
  cluster:
    description: With I(state=absent), the cluster to take the provider out of first.
    type: str
  tags:
    description: Tags of the group (propagated to its instances) and the provider.
    type: dict
    default: {}
  state:
    description: Present or absent.
    choices: [present, absent]
    default: present
    type: str
  retries:
    description: Tries of a call ECS refuses while IAM propagates the service-linked role.
    type: int
    default: 12
  delay:
    description: Seconds between those tries, and between looks while waiting.
    type: int
    default: 10
  instance_refresh:
    description:
      - When instances run another version of the launch template than the group's, start an
        instance refresh (rolling, new instances first) unless one is running.
    type: bool
    default: true
  instance_refresh_min_healthy:
    description: Percentage of the group's capacity kept in service during an instance refresh.
    type: int
    default: 100
  instance_refresh_max_healthy:
    description: Percentage of the group's capacity allowed during an instance refresh (above 100 to add first).
    type: int
    default: 200
  iam_timeout:
    description:
      - Seconds CreateAutoScalingGroup is tried again (every I(delay)) while Auto Scaling
        refuses the launch template's instance profile, which IAM has not propagated yet.
    type: int
    default: 180
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - living-hta
"""

EXAMPLES = r"""
- name: Two instances or more over the zones, scaled by ECS
  living_hta.aws.ecs_auto_scaling_capacity:
    name: living-hta-dev
    auto_scaling_group: living-hta-dev-asg
    launch_template: living-hta-dev-ecs
    subnet_ids: [subnet-0aaa, subnet-0bbb]
    min_size: 2
    max_size: 6
    tags: {Project: living-hta, Environment: dev}
"""

RETURN = r"""
auto_scaling_group:
  description: The group (C(arn), C(instances), the instance ids, and C(availability_zones)).
  returned: when state=present
  type: dict
instance_refresh:
  description: The id of the instance refresh started, or running, or null.
  returned: when state=present
  type: str
capacity_provider:
  description: The provider as DescribeCapacityProviders returns it.
  returned: when state=present and not in check mode
  type: dict
"""

import time

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.living_hta.aws.plugins.module_utils.ecs import SLR_NOT_READY
from ansible_collections.living_hta.aws.plugins.module_utils.ecs import ensure_ecs_service_linked_role
from ansible_collections.living_hta.aws.plugins.module_utils.ecs import retried


def describe_group(autoscaling, name):
    groups = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
    return groups[0] if groups and groups[0].get("Status") != "Delete in progress" else None


def describe_provider(ecs, name):
    found = ecs.describe_capacity_providers(capacityProviders=[name], include=["TAGS"])["capacityProviders"]
    return found[0] if found and found[0].get("status") == "ACTIVE" else None


def group_tags(params):
    return [{"ResourceId": params["auto_scaling_group"], "ResourceType": "auto-scaling-group",
             "Key": k, "Value": str(v), "PropagateAtLaunch": True} for k, v in params["tags"].items()]


def ensure_group(module, autoscaling):
    """The group as wanted; (changed, group)."""
    params = module.params
    template = {"LaunchTemplateName": params["launch_template"], "Version": params["launch_template_version"]}
    zone_identifier = ",".join(params["subnet_ids"])
    group = describe_group(autoscaling, params["auto_scaling_group"])
    if group is None:
        if module.check_mode:
            return True, {}
        create = lambda: autoscaling.create_auto_scaling_group(  # noqa: E731
            AutoScalingGroupName=params["auto_scaling_group"], LaunchTemplate=template,
            MinSize=params["min_size"], MaxSize=params["max_size"], DesiredCapacity=params["min_size"],
            VPCZoneIdentifier=zone_identifier, HealthCheckType="EC2",
            NewInstancesProtectedFromScaleIn=params["managed_termination_protection"], Tags=group_tags(params))
        until_profile_propagates(module, create)
        return True, wait_for_instances(module, autoscaling)
    changed = False
    update = {}
    have_template = group.get("LaunchTemplate", {})
    if (have_template.get("LaunchTemplateName"), have_template.get("Version")) != (template["LaunchTemplateName"],
                                                                                  template["Version"]):
        update["LaunchTemplate"] = template
    if group["MinSize"] != params["min_size"]:
        update["MinSize"] = params["min_size"]
    if group["MaxSize"] != params["max_size"]:
        update["MaxSize"] = params["max_size"]
    if set(filter(None, group.get("VPCZoneIdentifier", "").split(","))) != set(params["subnet_ids"]):
        update["VPCZoneIdentifier"] = zone_identifier
    if params["managed_termination_protection"] and not group.get("NewInstancesProtectedFromScaleIn"):
        update["NewInstancesProtectedFromScaleIn"] = True
    if update:
        changed = True
        if not module.check_mode:
            autoscaling.update_auto_scaling_group(AutoScalingGroupName=params["auto_scaling_group"], **update)
    # Tags of ours that are missing or differ (ECS adds AmazonECSManaged: kept).
    have_tags = {(t["Key"], t["Value"], t.get("PropagateAtLaunch")) for t in group.get("Tags", [])}
    missing = [t for t in group_tags(params) if (t["Key"], t["Value"], True) not in have_tags]
    if missing:
        changed = True
        if not module.check_mode:
            autoscaling.create_or_update_tags(Tags=missing)
    return changed, describe_group(autoscaling, params["auto_scaling_group"]) or group


# What Auto Scaling answers while IAM has not yet propagated the launch
# template's new instance profile (CreateLaunchTemplate does not check it).
PROFILE_NOT_READY = "Invalid IAM Instance Profile"


def until_profile_propagates(module, call):
    """call(), tried again every module.params['delay'] seconds for
    module.params['iam_timeout'] seconds while Auto Scaling refuses the
    launch template's instance profile (IAM propagation, up to a few
    minutes after CreateInstanceProfile; Terraform waits the same way)."""
    deadline = time.monotonic() + module.params["iam_timeout"]
    while True:
        try:
            return call()
        except botocore.exceptions.ClientError as e:
            if PROFILE_NOT_READY not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(module.params["delay"])


def wait_for_instances(module, autoscaling):
    params = module.params
    deadline = time.monotonic() + params["wait_timeout"]
    while True:
        group = describe_group(autoscaling, params["auto_scaling_group"])
        in_service = [i for i in (group or {}).get("Instances", []) if i.get("LifecycleState") == "InService"]
        if not params["wait"] or len(in_service) >= params["min_size"]:
            return group or {}
        if time.monotonic() > deadline:
            module.fail_json(msg=f"Auto Scaling group {params['auto_scaling_group']} has {len(in_service)} "
                             f"instance(s) in service after {params['wait_timeout']} s, {params['min_size']} wanted: "
                             "see its activity history (DescribeScalingActivities) for why")
        time.sleep(params["delay"])


# An instance refresh still running: another is neither needed nor accepted.
REFRESH_RUNNING = {"Pending", "InProgress", "Cancelling", "RollbackInProgress", "Baking"}


def refresh_instances(module, autoscaling, ec2):
    """Start an instance refresh when the group's instances run another
    version of the launch template than the group's (a new AMI, instance
    type or user data makes a new default version; Auto Scaling launches
    only new instances from it).  (changed, refresh id or None)."""
    params = module.params
    name = params["auto_scaling_group"]
    if not params["instance_refresh"]:
        return False, None
    [template] = ec2.describe_launch_templates(LaunchTemplateNames=[params["launch_template"]])["LaunchTemplates"]
    version = params["launch_template_version"]
    wanted = str({"$Default": template["DefaultVersionNumber"],
                  "$Latest": template["LatestVersionNumber"]}.get(version, version))

    def stale_instances():
        group = describe_group(autoscaling, name)
        return [i["InstanceId"] for i in (group or {}).get("Instances", [])
                if i.get("LifecycleState") in ("Pending", "InService")
                and str(i.get("LaunchTemplate", {}).get("Version")) != wanted]

    if not stale_instances():
        return False, None
    # Asked only when there is something to refresh (a first deploy or a
    # re-run with nothing new makes no refresh call at all).
    latest = autoscaling.describe_instance_refreshes(AutoScalingGroupName=name, MaxRecords=1)["InstanceRefreshes"]
    if latest and latest[0]["Status"] in REFRESH_RUNNING:
        return False, latest[0]["InstanceRefreshId"]
    # A refresh that ended since the group was read may have replaced them.
    if latest and not stale_instances():
        return False, None
    if module.check_mode:
        return True, None
    # New instances first, old ones out once the new are in service and
    # warmed up: never fewer than the running instances (minimum healthy
    # 100 %, up to twice as many meanwhile).  Instances ECS protects from
    # scale-in because they run tasks are replaced too; ECS drains their
    # tasks first (the capacity provider's managed draining).
    refresh = autoscaling.start_instance_refresh(
        AutoScalingGroupName=name, Strategy="Rolling",
        Preferences={"MinHealthyPercentage": params["instance_refresh_min_healthy"],
                     "MaxHealthyPercentage": params["instance_refresh_max_healthy"],
                     "InstanceWarmup": params["instance_warmup_period"], "SkipMatching": True,
                     "ScaleInProtectedInstances": "Refresh", "StandbyInstances": "Terminate"})
    return True, refresh["InstanceRefreshId"]


def wanted_provider_settings(params):
    return {"managedScaling": {"status": "ENABLED", "targetCapacity": params["target_capacity"],
                               "minimumScalingStepSize": params["minimum_scaling_step_size"],
                               "maximumScalingStepSize": params["maximum_scaling_step_size"],
                               "instanceWarmupPeriod": params["instance_warmup_period"]},
            "managedTerminationProtection": "ENABLED" if params["managed_termination_protection"] else "DISABLED"}


def ensure_provider(module, ecs, group_arn):
    """The capacity provider as wanted; (changed, provider)."""
    params = module.params
    want = wanted_provider_settings(params)
    provider = describe_provider(ecs, params["name"])
    retry = lambda e: SLR_NOT_READY in str(e)  # noqa: E731  (IAM propagation)
    if provider is None:
        if not module.check_mode:
            provider = retried(module, lambda: ecs.create_capacity_provider(
                name=params["name"], tags=[{"key": k, "value": str(v)} for k, v in params["tags"].items()],
                autoScalingGroupProvider={"autoScalingGroupArn": group_arn, **want})["capacityProvider"], retry)
        return True, provider or {}
    changed = False
    have = provider.get("autoScalingGroupProvider", {})
    if have.get("autoScalingGroupArn") != group_arn:
        module.fail_json(msg=f"capacity provider {params['name']} is tied to another Auto Scaling group "
                         f"({have.get('autoScalingGroupArn')}); a provider's group cannot change: delete it first")
    scaling = have.get("managedScaling", {})
    if (any(scaling.get(k) != v for k, v in want["managedScaling"].items())
            or have.get("managedTerminationProtection") != want["managedTerminationProtection"]):
        changed = True
        if not module.check_mode:
            provider = ecs.update_capacity_provider(name=params["name"], autoScalingGroupProvider=want)[
                "capacityProvider"]
    tags = {t["key"]: t["value"] for t in provider.get("tags", [])}
    missing = {k: str(v) for k, v in params["tags"].items() if tags.get(k) != str(v)}
    if missing:
        changed = True
        if not module.check_mode:
            ecs.tag_resource(resourceArn=provider["capacityProviderArn"],
                             tags=[{"key": k, "value": v} for k, v in missing.items()])
    return changed, provider


def present(module, ecs):
    autoscaling = module.client("autoscaling")
    changed = ensure_ecs_service_linked_role(module)
    group_changed, group = ensure_group(module, autoscaling)
    changed |= group_changed
    if module.check_mode and not group:
        return {"changed": True, "auto_scaling_group": {}}
    provider_changed, provider = ensure_provider(module, ecs, group["AutoScalingGroupARN"])
    changed |= provider_changed
    refresh_changed, refresh = refresh_instances(module, autoscaling, module.client("ec2"))
    changed |= refresh_changed
    return {"changed": changed, "capacity_provider": provider, "instance_refresh": refresh, "auto_scaling_group": {
        "arn": group["AutoScalingGroupARN"],
        "instances": [i["InstanceId"] for i in group.get("Instances", [])],
        "availability_zones": sorted(group.get("AvailabilityZones", [])),
    }}


def absent(module, ecs):
    params = module.params
    changed = False
    if params["cluster"]:
        clusters = ecs.describe_clusters(clusters=[params["cluster"]])["clusters"]
        cluster = clusters[0] if clusters and clusters[0]["status"] == "ACTIVE" else None
        if cluster and params["name"] in cluster.get("capacityProviders", []):
            changed = True
            if not module.check_mode:
                ecs.put_cluster_capacity_providers(
                    cluster=params["cluster"],
                    capacityProviders=[p for p in cluster["capacityProviders"] if p != params["name"]],
                    defaultCapacityProviderStrategy=[s for s in cluster.get("defaultCapacityProviderStrategy", [])
                                                     if s["capacityProvider"] != params["name"]])
    if describe_provider(ecs, params["name"]) is not None:
        changed = True
        if not module.check_mode:
            ecs.delete_capacity_provider(capacityProvider=params["name"])
    autoscaling = module.client("autoscaling")
    if describe_group(autoscaling, params["auto_scaling_group"]) is not None:
        changed = True
        if not module.check_mode:
            autoscaling.delete_auto_scaling_group(AutoScalingGroupName=params["auto_scaling_group"], ForceDelete=True)
            deadline = time.monotonic() + params["wait_timeout"]
            while autoscaling.describe_auto_scaling_groups(
                    AutoScalingGroupNames=[params["auto_scaling_group"]])["AutoScalingGroups"]:
                if time.monotonic() > deadline:
                    module.fail_json(msg=f"Auto Scaling group {params['auto_scaling_group']} is still being "
                                     f"deleted after {params['wait_timeout']} s")
                time.sleep(params["delay"])
    if params["launch_template"]:
        ec2 = module.client("ec2")
        found = ec2.describe_launch_templates(
            Filters=[{"Name": "launch-template-name", "Values": [params["launch_template"]]}])["LaunchTemplates"]
        if found:
            changed = True
            if not module.check_mode:
                ec2.delete_launch_template(LaunchTemplateId=found[0]["LaunchTemplateId"])
    return {"changed": changed}


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            auto_scaling_group=dict(type="str", required=True),
            launch_template=dict(type="str"),
            launch_template_version=dict(type="str", default="$Default"),
            subnet_ids=dict(type="list", elements="str"),
            min_size=dict(type="int"),
            max_size=dict(type="int"),
            wait=dict(type="bool", default=True),
            wait_timeout=dict(type="int", default=600),
            target_capacity=dict(type="int", default=100),
            minimum_scaling_step_size=dict(type="int", default=1),
            maximum_scaling_step_size=dict(type="int", default=2),
            instance_warmup_period=dict(type="int", default=300),
            managed_termination_protection=dict(type="bool", default=True),
            cluster=dict(type="str"),
            tags=dict(type="dict", default={}),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            retries=dict(type="int", default=12),
            delay=dict(type="int", default=10),
            iam_timeout=dict(type="int", default=180),
            instance_refresh=dict(type="bool", default=True),
            instance_refresh_min_healthy=dict(type="int", default=100),
            instance_refresh_max_healthy=dict(type="int", default=200),
        ),
        required_if=[("state", "present", ["launch_template", "subnet_ids", "min_size", "max_size"])],
        supports_check_mode=True,
    )
    ecs = module.client("ecs")
    try:
        result = (present if module.params["state"] == "present" else absent)(module, ecs)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"ECS capacity {module.params['name']}: {module.params['state']} failed")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
