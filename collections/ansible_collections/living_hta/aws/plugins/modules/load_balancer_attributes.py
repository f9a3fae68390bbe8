#!/usr/bin/python
# Copyright: living-hta
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: load_balancer_attributes
short_description: Set attributes of an Elastic Load Balancing v2 load balancer
description:
  - Reads the load balancer's attributes (DescribeLoadBalancerAttributes) and
    sets those given that differ (ModifyLoadBalancerAttributes); an attribute
    the service does not report counts as different.
  - amazon.aws.elb_application_lb compares its attribute options with a
    report that must hold each one, and fails on a report without it (as the
    AWS emulator gives for C(routing.http.drop_invalid_header_fields.enabled));
    this module sets such attributes where that one cannot.
  - Supports check mode.
options:
  arn:
    description: The load balancer's ARN.
    type: str
    required: true
  attributes:
    description: Attribute keys (as ELB names them) and their values, as text.
    type: dict
    required: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - living-hta
"""

EXAMPLES = r"""
- name: Drop headers with invalid fields
  load_balancer_attributes:
    arn: "{{ alb.load_balancer_arn }}"
    attributes:
      routing.http.drop_invalid_header_fields.enabled: "true"
"""

RETURN = r"""
attributes:
  description: The load balancer's attributes after the call, as ELB reports them.
  returned: always
  type: dict
changed_attributes:
  description: The keys set (or that would be set, in check mode).
  returned: always
  type: list
"""

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports a missing botocore

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule


def _text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(arn=dict(type="str", required=True), attributes=dict(type="dict", required=True)),
        supports_check_mode=True,
    )
    elb = module.client("elbv2")
    arn = module.params["arn"]
    wanted = {key: _text(value) for key, value in module.params["attributes"].items()}
    try:
        current = {a["Key"]: a["Value"] for a in elb.describe_load_balancer_attributes(
            LoadBalancerArn=arn)["Attributes"]}
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Could not read the attributes of {arn}")
    changed = sorted(key for key, value in wanted.items() if current.get(key) != value)
    if changed and not module.check_mode:
        try:
            elb.modify_load_balancer_attributes(
                LoadBalancerArn=arn, Attributes=[{"Key": key, "Value": wanted[key]} for key in changed])
            current = {a["Key"]: a["Value"] for a in elb.describe_load_balancer_attributes(
                LoadBalancerArn=arn)["Attributes"]}
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            module.fail_json_aws(e, msg=f"Could not set {', '.join(changed)} on {arn}")
    module.exit_json(changed=bool(changed), attributes=current, changed_attributes=changed)


if __name__ == "__main__":
    main()
