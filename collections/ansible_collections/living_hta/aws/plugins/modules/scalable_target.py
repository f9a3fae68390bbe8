#!/usr/bin/python
# -*- coding: utf-8 -*-
# community.aws.application_autoscaling_policy registers the scalable target
# with its policy, but its state=absent deletes the policy only: the target
# stays registered.  This module removes the target (and with it, as
# Application Auto Scaling does, every policy on it).

DOCUMENTATION = r"""
---
module: scalable_target
short_description: Deregister an Application Auto Scaling scalable target and its policies
description:
  - I(state=absent) deletes the scaling policies of I(resource_id), then
    deregisters its scalable target (AWS would delete the policies with the
    target; deleting them first does not depend on it). Safe when there is
    none.
  - I(state=present) registers it between I(min_capacity) and I(max_capacity)
    when it is missing or its bounds differ.
  - Supports check mode.
options:
  service_namespace:
    description: The target's service (ecs for an ECS service).
    type: str
    default: ecs
  resource_id:
    description: The resource, for ECS C(service/<cluster>/<service>).
    required: true
    type: str
  scalable_dimension:
    description: What is scaled.
    type: str
    default: ecs:service:DesiredCount
  min_capacity:
    description: Lowest capacity (I(state=present)).
    type: int
  max_capacity:
    description: Highest capacity (I(state=present)).
    type: int
  state:
    description: Present or absent.
    choices: [present, absent]
    default: absent
    type: str
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - living-hta
"""

EXAMPLES = r"""
- name: Stop scaling the service (its policies go too)
  living_hta.aws.scalable_target:
    resource_id: service/living-hta-dev/living-hta-dev
    state: absent
"""

RETURN = r"""
scalable_target:
  description: The target as DescribeScalableTargets returned it before the change (absent when there was none).
  returned: when there was one
  type: dict
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            service_namespace=dict(type="str", default="ecs"),
            resource_id=dict(type="str", required=True),
            scalable_dimension=dict(type="str", default="ecs:service:DesiredCount"),
            min_capacity=dict(type="int"),
            max_capacity=dict(type="int"),
            state=dict(type="str", default="absent", choices=["present", "absent"]),
        ),
        required_if=[("state", "present", ["min_capacity", "max_capacity"])],
        supports_check_mode=True,
    )
    params = module.params
    client = module.client("application-autoscaling")
    key = dict(ServiceNamespace=params["service_namespace"], ResourceId=params["resource_id"],
               ScalableDimension=params["scalable_dimension"])
    result = {"changed": False}
    try:
        found = client.describe_scalable_targets(ServiceNamespace=params["service_namespace"],
                                                 ResourceIds=[params["resource_id"]],
                                                 ScalableDimension=params["scalable_dimension"])["ScalableTargets"]
        if found:
            result["scalable_target"] = found[0]
        if params["state"] == "absent":
            policies = client.describe_scaling_policies(ServiceNamespace=params["service_namespace"],
                                                        ResourceId=params["resource_id"],
                                                        ScalableDimension=params["scalable_dimension"])["ScalingPolicies"]
            if found or policies:
                result["changed"] = True
            if not module.check_mode:
                for policy in policies:
                    client.delete_scaling_policy(PolicyName=policy["PolicyName"], **key)
                if found:
                    client.deregister_scalable_target(**key)
        elif params["state"] == "present" and (
                not found or (found[0]["MinCapacity"], found[0]["MaxCapacity"])
                != (params["min_capacity"], params["max_capacity"])):
            result["changed"] = True
            if not module.check_mode:
                client.register_scalable_target(MinCapacity=params["min_capacity"],
                                                MaxCapacity=params["max_capacity"], **key)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"scalable target {params['resource_id']}: {params['state']} failed")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
