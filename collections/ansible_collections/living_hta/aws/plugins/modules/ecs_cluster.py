#!/usr/bin/python
# -*- coding: utf-8 -*-
# community.aws.ecs_cluster reads capacityProviders/defaultCapacityProviderStrategy
# back as mandatory keys (an API that leaves empty lists out, as moto does,
# makes it fail on the second run, so it cannot create a cluster without
# providers idempotently), turns a refused DeleteCluster into a traceback,
# and its has_instances wait reports a change and says nothing of the
# instances.  This module does the three things the ecs_cluster and task
# roles need, the way AWS wants them.

DOCUMENTATION = r"""
---
module: ecs_cluster
short_description: An ECS cluster, its deletion, and the wait for its first container instance
description:
  - I(state=present) creates the cluster, with capacity providers only when
    I(capacity_providers) lists some (an EC2 cluster of one instance needs
    none). When it lists some (FARGATE, FARGATE_SPOT, or an Auto Scaling
    group's provider), the ECS service-linked role (AWSServiceRoleForECS) is
    created first if the account has none, and the create is retried while
    IAM has not yet propagated it ("Unable to assume the service linked
    role").
  - I(state=absent) deletes the cluster, retrying while ECS still counts
    services, tasks or container instances in it (a DRAINING service, an
    instance whose agent has not yet left), then fails with one clear line.
  - I(state=has_instances) waits until at least one ACTIVE container instance
    with a connected agent has joined, and returns the container instances
    with their registered and remaining memory and CPU. Changes nothing.
  - Supports check mode.
options:
  name:
    description: Cluster name.
    required: true
    type: str
  state:
    description: What to ensure.
    choices: [present, absent, has_instances]
    default: present
    type: str
  capacity_providers:
    description: Capacity providers of the cluster (I(state=present)); empty for none.
    type: list
    elements: str
    default: []
  capacity_provider_strategy:
    description: Default capacity provider strategy (I(state=present)).
    type: list
    elements: dict
    default: []
    suboptions:
      capacity_provider:
        type: str
        required: true
        description: Provider name.
      weight:
        type: int
        default: 0
        description: Relative share.
      base:
        type: int
        default: 0
        description: Tasks placed on this provider first.
  retries:
    description: How many times a refused create or delete is tried again, or the instance count read again.
    type: int
    default: 30
  delay:
    description: Seconds between tries.
    type: int
    default: 10
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - living-hta
"""

EXAMPLES = r"""
- name: An EC2 cluster (no capacity providers)
  living_hta.aws.ecs_cluster:
    name: living-hta-dev

- name: Wait for the instance to join
  living_hta.aws.ecs_cluster:
    name: living-hta-dev
    state: has_instances
    retries: 30
    delay: 10
  register: joined

- name: Delete it once its services are gone
  living_hta.aws.ecs_cluster:
    name: living-hta-dev
    state: absent
"""

RETURN = r"""
cluster:
  description: The cluster as DescribeClusters returns it (absent when there is none).
  returned: when the cluster exists
  type: dict
service_linked_role_created:
  description: Whether the ECS service-linked role was created.
  returned: always
  type: bool
container_instances:
  description: ACTIVE container instances (I(state=has_instances)).
  returned: when state=has_instances
  type: list
  elements: dict
  contains:
    ec2_instance_id:
      type: str
      description: The EC2 instance.
    agent_connected:
      type: bool
      description: Whether its ECS agent is connected.
    registered_memory:
      type: int
      description: Memory the agent registered, MiB (what tasks can reserve in all).
    remaining_memory:
      type: int
      description: Memory not reserved by running tasks, MiB.
    registered_cpu:
      type: int
      description: CPU units registered.
"""

import time

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.living_hta.aws.plugins.module_utils.ecs import SLR_NOT_READY
from ansible_collections.living_hta.aws.plugins.module_utils.ecs import ensure_ecs_service_linked_role
from ansible_collections.living_hta.aws.plugins.module_utils.ecs import error_code
from ansible_collections.living_hta.aws.plugins.module_utils.ecs import retried

# DeleteCluster's answers while something is still leaving the cluster.
STILL_IN_USE = (
    "ClusterContainsServicesException",
    "ClusterContainsTasksException",
    "ClusterContainsContainerInstancesException",
    "UpdateInProgressException",
)


def describe(ecs, name):
    found = ecs.describe_clusters(clusters=[name])["clusters"]
    return found[0] if found and found[0]["status"] != "INACTIVE" else None


def strategy(items):
    return [{"capacityProvider": s["capacity_provider"], "weight": s["weight"], "base": s["base"]} for s in items]


def present(module, ecs):
    name = module.params["name"]
    providers = module.params["capacity_providers"]
    wanted_strategy = strategy(module.params["capacity_provider_strategy"])
    result = {"changed": False, "service_linked_role_created": False}
    if providers:
        result["service_linked_role_created"] = ensure_ecs_service_linked_role(module)
        result["changed"] = result["service_linked_role_created"]
    cluster = describe(ecs, name)
    providers_only = {"capacityProviders": providers, "defaultCapacityProviderStrategy": wanted_strategy}
    retry = lambda e: SLR_NOT_READY in str(e)  # noqa: E731  (IAM propagation)
    if cluster is None:
        result["changed"] = True
        if not module.check_mode:
            params = {"clusterName": name, **({k: v for k, v in providers_only.items() if v})}
            cluster = retried(module, lambda: ecs.create_cluster(**params)["cluster"], retry)
    elif (sorted(cluster.get("capacityProviders", [])) != sorted(providers)
          or cluster.get("defaultCapacityProviderStrategy", []) != wanted_strategy):
        result["changed"] = True
        if not module.check_mode:
            cluster = retried(
                module, lambda: ecs.put_cluster_capacity_providers(cluster=name, **providers_only)["cluster"], retry)
    if cluster:
        result["cluster"] = cluster
    return result


def absent(module, ecs):
    name = module.params["name"]
    cluster = describe(ecs, name)
    if cluster is None:
        return {"changed": False, "service_linked_role_created": False}
    if not module.check_mode:
        try:
            retried(module, lambda: ecs.delete_cluster(cluster=name), lambda e: error_code(e) in STILL_IN_USE)
        except is_boto3_error_code(STILL_IN_USE) as e:
            module.fail_json(
                msg=f"cluster {name} still holds services, tasks or instances after "
                f"{module.params['retries']} tries {module.params['delay']} s apart: "
                f"{e.response['Error']['Message']}")
    return {"changed": True, "cluster": cluster, "service_linked_role_created": False}


def has_instances(module, ecs):
    name = module.params["name"]
    for attempt in range(module.params["retries"] + 1):
        cluster = describe(ecs, name)
        if cluster is None:
            module.fail_json(msg=f"cluster {name} does not exist")
        arns = ecs.list_container_instances(cluster=name, status="ACTIVE")["containerInstanceArns"]
        described = ecs.describe_container_instances(cluster=name, containerInstances=arns)["containerInstances"] \
            if arns else []
        instances = [summary(ci) for ci in described]
        if any(i["agent_connected"] for i in instances):
            return {"changed": False, "cluster": cluster, "container_instances": instances,
                    "service_linked_role_created": False}
        if attempt < module.params["retries"]:
            time.sleep(module.params["delay"])
    module.fail_json(
        msg=f"no instance joined cluster {name} within {module.params['retries'] * module.params['delay']} s: "
        "check the instance's user data (ECS_CLUSTER=<cluster> in /etc/ecs/ecs.config), its instance role "
        "(AmazonEC2ContainerServiceforEC2Role) and that it reaches the ECS endpoint (public IP or NAT)")


def summary(container_instance):
    def resource(resources, key):
        return next((r.get("integerValue", 0) for r in resources if r["name"] == key), 0)

    registered = container_instance.get("registeredResources", [])
    remaining = container_instance.get("remainingResources", [])
    return {
        "ec2_instance_id": container_instance.get("ec2InstanceId"),
        "agent_connected": container_instance.get("agentConnected", False),
        "registered_memory": resource(registered, "MEMORY"),
        "remaining_memory": resource(remaining, "MEMORY"),
        "registered_cpu": resource(registered, "CPU"),
    }


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            state=dict(type="str", default="present", choices=["present", "absent", "has_instances"]),
            capacity_providers=dict(type="list", elements="str", default=[]),
            capacity_provider_strategy=dict(
                type="list", elements="dict", default=[],
                options=dict(capacity_provider=dict(type="str", required=True),
                             weight=dict(type="int", default=0), base=dict(type="int", default=0)),
            ),
            retries=dict(type="int", default=30),
            delay=dict(type="int", default=10),
        ),
        supports_check_mode=True,
    )
    ecs = module.client("ecs")
    action = {"present": present, "absent": absent, "has_instances": has_instances}[module.params["state"]]
    try:
        result = action(module, ecs)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"ECS cluster {module.params['name']}: {module.params['state']} failed")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
