#!/usr/bin/python
# -*- coding: utf-8 -*-
# community.aws.ecs_ecr and ecs_cluster/ecs_taskdefinition cannot tag, and
# community.aws.ecs_tag fails on a resource that has no tags yet when the API
# leaves out the empty list (moto does).  This module only sets tags, by ARN.

DOCUMENTATION = r"""
---
module: resource_tags
short_description: Set the tags of an ECR or ECS resource
description:
  - Adds the given tags to an ECR repository or an ECS resource (cluster,
    service, task definition) given by ARN, and removes others when
    I(purge_tags=true).
  - Reports C(changed) only when the tags differ; supports check mode.
options:
  service:
    description: The AWS service that owns the resource.
    required: true
    choices: [ecr, ecs]
    type: str
  resource_arn:
    description: ARN of the resource.
    required: true
    type: str
  tags:
    description: Tags the resource must carry.
    required: true
    type: dict
  purge_tags:
    description: Remove tags not listed in I(tags).
    type: bool
    default: false
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - living-hta
"""

EXAMPLES = r"""
- name: Tag the repository
  living_hta.aws.resource_tags:
    service: ecr
    resource_arn: arn:aws:ecr:eu-west-2:123456789012:repository/living-hta-dev
    tags:
      Project: living-hta
      Environment: dev
"""

RETURN = r"""
tags:
  description: The resource's tags after the change.
  returned: always
  type: dict
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
    boto3_tag_list_to_ansible_dict,
    compare_aws_tags,
)

# ECR spells tag keys Key/Value, ECS key/value.
TAG_KEYS = {"ecr": ("Key", "Value"), "ecs": ("key", "value")}


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            service=dict(type="str", required=True, choices=["ecr", "ecs"]),
            resource_arn=dict(type="str", required=True),
            tags=dict(type="dict", required=True),
            purge_tags=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    service, arn = module.params["service"], module.params["resource_arn"]
    key, value = TAG_KEYS[service]
    client = module.client(service)
    try:
        listed = client.list_tags_for_resource(resourceArn=arn).get("tags") or []
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"cannot read the tags of {arn}")
    current = boto3_tag_list_to_ansible_dict(listed, key, value)
    wanted = {k: str(v) for k, v in module.params["tags"].items()}
    to_set, to_remove = compare_aws_tags(current, wanted, module.params["purge_tags"])
    if not module.check_mode:
        try:
            if to_set:
                client.tag_resource(resourceArn=arn, tags=ansible_dict_to_boto3_tag_list(to_set, key, value))
            if to_remove:
                client.untag_resource(resourceArn=arn, tagKeys=to_remove)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            module.fail_json_aws(e, msg=f"cannot tag {arn}")
    result = {k: v for k, v in current.items() if k not in to_remove}
    result.update(to_set)
    module.exit_json(changed=bool(to_set or to_remove), tags=result)


if __name__ == "__main__":
    main()
