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
GONE = {"terminated", "shutting-down", "deleting", "deleted", "INACTIVE", "STOPPED", "DELETED"}
# Error codes by which a service says the resource does not exist (any code
# ending in NotFound, e.g. InvalidVolume.NotFound, counts too).
MISSING = {"NoSuchEntity", "ParameterNotFound", "RepositoryNotFoundException", "ResourceNotFoundException",
           "ClusterNotFoundException", "ServiceNotFoundException", "LoadBalancerNotFound", "TargetGroupNotFound",
           "ListenerNotFound", "ClientException"}


def tagged(tag_list, wanted, key="Key", value="Value"):
    tags = {t[key]: t[value] for t in tag_list or []}
    return all(tags.get(k) == v for k, v in wanted.items())


def first_or_deleted(items, state):
    return state(items[0]) if items else "DELETED"


# (service, resource type) -> how to read the resource's state from its own
# service: the tagging API keeps listing deleted resources for a while
# (terminated instances' root volumes, deleted groups, parameters ...), so
# every ARN it reports is checked where it lives.  Each reader gets the
# client, the ARN and the resource part after the type.
READERS = {
    ("ec2", "instance"): lambda c, arn, rid: first_or_deleted(
        [i for r in c.describe_instances(InstanceIds=[rid])["Reservations"] for i in r["Instances"]],
        lambda i: i["State"]["Name"]),
    ("ec2", "volume"): lambda c, arn, rid: first_or_deleted(
        c.describe_volumes(VolumeIds=[rid])["Volumes"], lambda v: v["State"]),
    ("ec2", "security-group"): lambda c, arn, rid: first_or_deleted(
        c.describe_security_groups(GroupIds=[rid])["SecurityGroups"], lambda g: "present"),
    ("ec2", "network-interface"): lambda c, arn, rid: first_or_deleted(
        c.describe_network_interfaces(NetworkInterfaceIds=[rid])["NetworkInterfaces"], lambda n: n["Status"]),
    ("ecs", "cluster"): lambda c, arn, rid: first_or_deleted(
        c.describe_clusters(clusters=[arn])["clusters"], lambda x: x["status"]),
    ("ecs", "service"): lambda c, arn, rid: first_or_deleted(
        c.describe_services(cluster=rid.split("/")[0], services=[arn])["services"], lambda x: x["status"]),
    ("ecs", "task"): lambda c, arn, rid: first_or_deleted(
        c.describe_tasks(cluster=rid.split("/")[0], tasks=[arn])["tasks"], lambda x: x["lastStatus"]),
    ("ecs", "task-definition"): lambda c, arn, rid: c.describe_task_definition(
        taskDefinition=arn)["taskDefinition"]["status"],
    ("ssm", "parameter"): lambda c, arn, rid: parameter_state(c, rid),
    ("logs", "log-group"): lambda c, arn, rid: first_or_deleted(
        [g for g in c.describe_log_groups(logGroupNamePrefix=rid.rstrip(":*"))["logGroups"]
         if g["logGroupName"] == rid.rstrip(":*")], lambda g: "present"),
    ("ecr", "repository"): lambda c, arn, rid: first_or_deleted(
        c.describe_repositories(repositoryNames=[rid])["repositories"], lambda r: "present"),
    ("elasticloadbalancing", "loadbalancer"): lambda c, arn, rid: first_or_deleted(
        c.describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"], lambda lb: lb["State"]["Code"]),
    ("elasticloadbalancing", "targetgroup"): lambda c, arn, rid: first_or_deleted(
        c.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"], lambda tg: "present"),
    ("acm", "certificate"): lambda c, arn, rid: c.describe_certificate(
        CertificateArn=arn)["Certificate"]["Status"],
    ("secretsmanager", "secret"): lambda c, arn, rid: "DELETED" if c.describe_secret(
        SecretId=arn).get("DeletedDate") else "present",
}


def parameter_state(ssm, name):
    """A parameter's ARN drops the leading "/" of its name: try both spellings."""
    for candidate in ("/" + name, name):
        found = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [candidate]}])["Parameters"]
        if found:
            return "present"
    return "DELETED"


def split_arn(arn):
    """(service, resource type, the rest) of an ARN: arn:aws:ec2:r:a:volume/vol-1
    gives ("ec2", "volume", "vol-1"); log groups and parameters use ':' or '/'."""
    service, resource = arn.split(":", 5)[2], arn.split(":", 5)[5]
    kind, _, rest = resource.replace(":", "/", 1).partition("/")
    return service, kind, rest


def state_of(module, arn):
    """The resource's state as its own service reports it; "DELETED" when the
    service says it does not exist, "present" for kinds with no reader."""
    service, kind, rest = split_arn(arn)
    reader = READERS.get((service, kind))
    if reader is None:
        return "present"
    client = module.client(service, region=arn.split(":")[3] or None)
    try:
        return reader(client, arn, rest)
    except botocore.exceptions.ClientError as e:
        code = e.response.get("Error", {}).get("Code", "")
        if code in MISSING or code.endswith("NotFound"):
            return "DELETED"
        raise


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
