#!/usr/bin/python
# -*- coding: utf-8 -*-
# Lists what is still alive of a project: the teardown's final check.
# Connection settings come from module_defaults like any amazon.aws module
# (list it beside group/amazon.aws.aws, see roles/teardown/README.md).

DOCUMENTATION = r"""
---
module: project_resources_info
short_description: List the live AWS resources carrying a project's tags
description:
  - Asks the Resource Groups Tagging API for every resource tagged with the
    given tags in the region, adds ECR repositories and IAM roles and instance
    profiles (which that API does not cover everywhere), and drops resources
    that are already on their way out and cost nothing (terminated instances,
    INACTIVE clusters, services and task definition revisions, STOPPED tasks).
options:
  tags:
    description: Tags a resource must carry (all of them) to be listed.
    required: true
    type: dict
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - living-hta
"""

EXAMPLES = r"""
- name: List what is left of the project
  project_resources_info:
    tags:
      Project: living-hta
      Environment: dev
  register: leftovers
"""

RETURN = r"""
resources:
  description: Live resources carrying the tags.
  returned: always
  type: list
  elements: dict
  contains:
    arn:
      description: ARN of the resource.
      type: str
    state:
      description: Its state where the service reports one, else "present".
      type: str
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

# States in which a resource is gone for every practical purpose although the
# service still lists it for a while (or, for task definitions, forever).
GONE = {"terminated", "shutting-down", "INACTIVE", "STOPPED", "DELETED"}


def tagged(tag_list, wanted, key="Key", value="Value"):
    tags = {t[key]: t[value] for t in tag_list or []}
    return all(tags.get(k) == v for k, v in wanted.items())


def state_of(module, arn):
    """The resource's state, for the kinds of resource that linger after deletion."""
    parts = arn.split(":", 5)
    service, region, resource = parts[2], parts[3], parts[5]
    kind, _, name = resource.partition("/")
    client = module.client(service, region=region) if service in ("ec2", "ecs") else None
    if service == "ec2" and kind == "instance":
        found = client.describe_instances(Filters=[{"Name": "instance-id", "Values": [name]}])["Reservations"]
        return found[0]["Instances"][0]["State"]["Name"] if found else "DELETED"
    if service == "ecs" and kind == "cluster":
        found = client.describe_clusters(clusters=[arn])["clusters"]
        return found[0]["status"] if found else "DELETED"
    if service == "ecs" and kind == "service":
        cluster = name.split("/")[0] if "/" in name else None
        kwargs = {"cluster": cluster} if cluster else {}
        try:
            found = client.describe_services(services=[arn], **kwargs)["services"]
        except botocore.exceptions.ClientError:
            return "DELETED"
        return found[0]["status"] if found else "DELETED"
    if service == "ecs" and kind == "task":
        cluster = name.split("/")[0]
        try:
            found = client.describe_tasks(cluster=cluster, tasks=[arn])["tasks"]
        except botocore.exceptions.ClientError:
            return "DELETED"
        return found[0]["lastStatus"] if found else "DELETED"
    if service == "ecs" and kind == "task-definition":
        try:
            return client.describe_task_definition(taskDefinition=arn)["taskDefinition"]["status"]
        except botocore.exceptions.ClientError:
            return "DELETED"
    return "present"


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(tags=dict(type="dict", required=True)),
        supports_check_mode=True,
    )
    wanted = {k: str(v) for k, v in module.params["tags"].items()}
    found = {}
    try:
        tagging = module.client("resourcegroupstaggingapi")
        filters = [{"Key": k, "Values": [v]} for k, v in wanted.items()]
        for page in tagging.get_paginator("get_resources").paginate(TagFilters=filters):
            for item in page["ResourceTagMappingList"]:
                found[item["ResourceARN"]] = None

        ecr = module.client("ecr")
        for page in ecr.get_paginator("describe_repositories").paginate():
            for repo in page["repositories"]:
                tags = ecr.list_tags_for_resource(resourceArn=repo["repositoryArn"])["tags"]
                if tagged(tags, wanted):
                    found[repo["repositoryArn"]] = "present"

        iam = module.client("iam")
        for page in iam.get_paginator("list_roles").paginate():
            for role in page["Roles"]:
                if tagged(iam.list_role_tags(RoleName=role["RoleName"])["Tags"], wanted):
                    found[role["Arn"]] = "present"
        for page in iam.get_paginator("list_instance_profiles").paginate():
            for profile in page["InstanceProfiles"]:
                tags = iam.list_instance_profile_tags(InstanceProfileName=profile["InstanceProfileName"])["Tags"]
                if tagged(tags, wanted):
                    found[profile["Arn"]] = "present"

        resources = []
        for arn, state in sorted(found.items()):
            state = state or state_of(module, arn)
            if state not in GONE:
                resources.append({"arn": arn, "state": state})
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg="cannot list the project's resources")
    module.exit_json(changed=False, resources=resources)


if __name__ == "__main__":
    main()
