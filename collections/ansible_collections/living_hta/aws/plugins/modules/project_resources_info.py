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
    given tags in the region, adds what that API does not list (everywhere,
    or in the emulator) by asking each service - ECR repositories, IAM roles
    and instance profiles, Auto Scaling groups, EC2 launch templates - and
    drops resources that are already on their way
    out and cost nothing (terminated instances, INACTIVE clusters, services
    and task definition revisions, STOPPED tasks).
  - Things that carry no tags, or that cannot be listed everywhere, are
    checked by name when given - I(capacity_providers) (ECS capacity
    providers carrying the tags), I(scalable_targets) (Application Auto
    Scaling targets and their policies) and I(dns_names) (the alias records
    to a load balancer and the ACM validation records of a name in a Route
    53 zone).
options:
  tags:
    description: Tags a resource must carry (all of them) to be listed.
    required: true
    type: dict
  capacity_providers:
    description: ECS capacity provider names that would be left (when ACTIVE and carrying the tags).
    type: list
    elements: str
    default: []
  scalable_targets:
    description: ECS resource ids (C(service/<cluster>/<service>)) whose scalable target or scaling policies would be left.
    type: list
    elements: str
    default: []
  dns_names:
    description:
      - Names whose records would be left, each C({zone, name}) - A/AAAA alias
        records of the name pointing at an Elastic Load Balancing name, and
        CNAME records C(_*.<name>) pointing into acm-validations.aws.
    type: list
    elements: dict
    default: []
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

import re

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


# The boto3 client of each service an ARN names (its third field): mostly the
# same word, but Elastic Load Balancing's ARNs say "elasticloadbalancing" where
# boto3's client for application load balancers is "elbv2".  Every service of
# READERS below is here; a service missing from both has no reader.
CLIENTS = {
    "acm": "acm",
    "autoscaling": "autoscaling",
    "ec2": "ec2",
    "ecr": "ecr",
    "ecs": "ecs",
    "elasticloadbalancing": "elbv2",
    "iam": "iam",
    "logs": "logs",
    "secretsmanager": "secretsmanager",
    "ssm": "ssm",
}

# (ARN service, resource type) -> how to read the resource's state from its
# own service: the tagging API keeps listing deleted resources for a while
# (terminated instances' root volumes, deleted groups, parameters ...), so
# every ARN it reports is checked where it lives.  Each reader gets the
# client (CLIENTS[service]), the ARN and the resource part after the type.
# One reader for every kind of resource the roles create.
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
    ("ec2", "launch-template"): lambda c, arn, rid: first_or_deleted(
        c.describe_launch_templates(LaunchTemplateIds=[rid])["LaunchTemplates"], lambda t: "present"),
    ("ecs", "cluster"): lambda c, arn, rid: first_or_deleted(
        c.describe_clusters(clusters=[arn])["clusters"], lambda x: x["status"]),
    ("ecs", "service"): lambda c, arn, rid: first_or_deleted(
        c.describe_services(cluster=rid.split("/")[0], services=[arn])["services"], lambda x: x["status"]),
    ("ecs", "task"): lambda c, arn, rid: first_or_deleted(
        c.describe_tasks(cluster=rid.split("/")[0], tasks=[arn])["tasks"], lambda x: x["lastStatus"]),
    ("ecs", "task-definition"): lambda c, arn, rid: c.describe_task_definition(
        taskDefinition=arn)["taskDefinition"]["status"],
    ("ecs", "capacity-provider"): lambda c, arn, rid: first_or_deleted(
        c.describe_capacity_providers(capacityProviders=[rid])["capacityProviders"], lambda p: p["status"]),
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
    ("elasticloadbalancing", "listener"): lambda c, arn, rid: first_or_deleted(
        c.describe_listeners(ListenerArns=[arn])["Listeners"], lambda listener: "present"),
    ("acm", "certificate"): lambda c, arn, rid: c.describe_certificate(
        CertificateArn=arn)["Certificate"]["Status"],
    ("secretsmanager", "secret"): lambda c, arn, rid: "DELETED" if c.describe_secret(
        SecretId=arn).get("DeletedDate") else "present",
    # IAM names may carry a path (role/path/name): the name is the last part.
    ("iam", "role"): lambda c, arn, rid: c.get_role(RoleName=rid.split("/")[-1]) and "present",
    ("iam", "instance-profile"): lambda c, arn, rid: c.get_instance_profile(
        InstanceProfileName=rid.split("/")[-1]) and "present",
    # autoScalingGroup:<uuid>:autoScalingGroupName/<name>
    ("autoscaling", "autoScalingGroup"): lambda c, arn, rid: first_or_deleted(
        c.describe_auto_scaling_groups(AutoScalingGroupNames=[rid.split("autoScalingGroupName/")[-1]])[
            "AutoScalingGroups"],
        lambda g: "deleting" if g.get("Status") == "Delete in progress" else "present"),
}


def tagged_asgs(module, wanted):
    """Auto Scaling groups carrying the tags (the tagging API never lists them)."""
    autoscaling = module.client("autoscaling")
    for page in autoscaling.get_paginator("describe_auto_scaling_groups").paginate():
        for group in page["AutoScalingGroups"]:
            if tagged(group.get("Tags"), wanted):
                state = "deleting" if group.get("Status") == "Delete in progress" else "present"
                yield group["AutoScalingGroupARN"], state


def tagged_launch_templates(module, wanted):
    ec2 = module.client("ec2")
    for page in ec2.get_paginator("describe_launch_templates").paginate():
        for template in page["LaunchTemplates"]:
            if tagged(template.get("Tags"), wanted):
                yield f"arn:aws:ec2:{module.region}::launch-template/{template['LaunchTemplateId']}", "present"


def tagged_capacity_providers(module, wanted, names):
    """The named ECS capacity providers still ACTIVE and carrying the tags
    (asked by name: the emulator cannot list them all)."""
    if not names:
        return
    ecs = module.client("ecs")
    for provider in ecs.describe_capacity_providers(capacityProviders=names, include=["TAGS"])["capacityProviders"]:
        if provider.get("status") == "ACTIVE" and tagged(provider.get("tags"), wanted, "key", "value"):
            yield provider["capacityProviderArn"], "present"


def left_scaling(module, resource_ids):
    """Scalable targets and scaling policies of the given ECS resources."""
    client = module.client("application-autoscaling")
    for resource_id in resource_ids:
        for target in client.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[resource_id])[
                "ScalableTargets"]:
            yield target.get("ScalableTargetARN") or f"scalable-target:ecs:{resource_id}", "present"
        for policy in client.describe_scaling_policies(ServiceNamespace="ecs", ResourceId=resource_id)[
                "ScalingPolicies"]:
            yield policy["PolicyARN"], "present"


def validation_names_in_use(module):
    """The validation CNAMEs live ACM certificates still name: ACM names the
    same one for every certificate of a domain in the account, so one the
    project made may now serve another certificate (it stays)."""
    acm = module.client("acm")
    names = set()
    for page in acm.get_paginator("list_certificates").paginate(
            CertificateStatuses=["PENDING_VALIDATION", "ISSUED"]):
        for summary in page["CertificateSummaryList"]:
            certificate = acm.describe_certificate(CertificateArn=summary["CertificateArn"])["Certificate"]
            names |= {o["ResourceRecord"]["Name"].lower() for o in certificate.get("DomainValidationOptions", [])
                      if "ResourceRecord" in o}
    return names


def left_dns_records(module, dns_names):
    """A/AAAA aliases of each name to a load balancer, and its ACM validation
    CNAMEs (but those another live certificate still uses)."""
    route53 = module.client("route53")
    in_use = validation_names_in_use(module) if dns_names else set()
    for entry in dns_names:
        zone, name = entry["zone"].rstrip(".").lower() + ".", entry["name"].rstrip(".").lower() + "."
        zones = [z for z in route53.list_hosted_zones_by_name(DNSName=zone)["HostedZones"] if z["Name"].lower() == zone]
        for hosted_zone in zones:
            zone_id = hosted_zone["Id"].split("/")[-1]
            for page in route53.get_paginator("list_resource_record_sets").paginate(HostedZoneId=zone_id):
                for record in page["ResourceRecordSets"]:
                    record_name = record["Name"].lower()
                    alias_to_lb = (record_name == name and record["Type"] in ("A", "AAAA")
                                   and re.search(r"\.elb\.amazonaws\.com\.?$", record.get("AliasTarget", {}).get("DNSName", "")))
                    validation = (record["Type"] == "CNAME" and record_name.startswith("_") and record_name.endswith("." + name)
                                  and any(r["Value"].rstrip(".").endswith("acm-validations.aws")
                                          for r in record.get("ResourceRecords", []))
                                  and record_name not in in_use)
                    if alias_to_lb or validation:
                        yield f"arn:aws:route53:::hostedzone/{zone_id}/{record['Type']}/{record['Name']}", "present"


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
    client = module.client(CLIENTS[service], region=arn.split(":")[3] or None)
    try:
        return reader(client, arn, rest)
    except botocore.exceptions.ClientError as e:
        code = e.response.get("Error", {}).get("Code", "")
        if code in MISSING or code.endswith("NotFound"):
            return "DELETED"
        raise


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            tags=dict(type="dict", required=True),
            capacity_providers=dict(type="list", elements="str", default=[]),
            scalable_targets=dict(type="list", elements="str", default=[]),
            dns_names=dict(type="list", elements="dict", default=[]),
        ),
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
        # ListInstanceProfiles leaves tags out (AWS says so); GetInstanceProfile
        # carries them (ListInstanceProfileTags would too, but the emulator
        # does not implement it).
        for page in iam.get_paginator("list_instance_profiles").paginate():
            for profile in page["InstanceProfiles"]:
                tags = iam.get_instance_profile(InstanceProfileName=profile["InstanceProfileName"])[
                    "InstanceProfile"].get("Tags", [])
                if tagged(tags, wanted):
                    found[profile["Arn"]] = "present"

        for listed in (tagged_asgs(module, wanted), tagged_launch_templates(module, wanted),
                       tagged_capacity_providers(module, wanted, module.params["capacity_providers"]),
                       left_scaling(module, module.params["scalable_targets"]),
                       left_dns_records(module, module.params["dns_names"])):
            for arn, state in listed:
                found[arn] = state

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
