#!/usr/bin/python
# -*- coding: utf-8 -*-
# amazon.aws.route53 has an option named `region` (latency routing) that the
# roles' module_defaults fill with the connection's region, which it then
# refuses without a latency `identifier`.  This module does what the
# load_balancer role needs of Route 53: a few records in one public zone.

DOCUMENTATION = r"""
---
module: route53_records
short_description: Records in a Route 53 public hosted zone, found by the zone's name
description:
  - I(state=present) creates each record, or replaces it when its values or
    alias target differ (UPSERT); a record already as wanted is left alone.
    A record that exists with other values is overwritten only when it
    gives no I(value_regex) or its values (or alias target) match it: one
    this project did not make stops the run, left as it is.
  - I(state=absent) deletes each record named (by name and type) when it
    exists and, if the record gives I(value_regex), only when its values (or
    its alias target's DNS name) match it, so a record someone else changed
    is left alone.
  - Supports check mode.
options:
  zone:
    description: Name of the public hosted zone (e.g. example.org).
    required: true
    type: str
  records:
    description: The records.
    required: true
    type: list
    elements: dict
    suboptions:
      name:
        description: Fully qualified record name.
        type: str
        required: true
      type:
        description: Record type (A, AAAA, CNAME, ...).
        type: str
        required: true
      ttl:
        description: TTL of a record that is not an alias.
        type: int
        default: 300
      values:
        description: Values of a record that is not an alias.
        type: list
        elements: str
      value:
        description: The value, when there is one only (as ACM names a validation record).
        type: str
      alias:
        description: Alias target (I(dns_name), I(hosted_zone_id), I(evaluate_target_health)).
        type: dict
      value_regex:
        description:
          - What the project's record points at (its values, or its alias target's DNS name).
          - With I(state=absent), delete only when they match it; with I(state=present), overwrite an
            existing record with other values only when they match it (otherwise fail).
        type: str
  state:
    description: Present or absent.
    choices: [present, absent]
    default: present
    type: str
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - living-hta
"""

EXAMPLES = r"""
- name: Point api.example.org at the load balancer
  living_hta.aws.route53_records:
    zone: example.org
    records:
      - name: api.example.org
        type: A
        alias: {dns_name: my-lb-1.eu-west-2.elb.amazonaws.com, hosted_zone_id: ZHURV8PSTC4K8, evaluate_target_health: true}
"""

RETURN = r"""
zone_id:
  description: Id of the hosted zone (empty when there is no such zone and I(state=absent)).
  returned: always
  type: str
changes:
  description: The changes sent (action, name, type).
  returned: always
  type: list
  elements: dict
"""

import re

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule


def fqdn(name):
    return name.rstrip(".").lower() + "."


def find_zone(route53, name):
    """Id of the public hosted zone called `name`, or None."""
    for zone in route53.list_hosted_zones_by_name(DNSName=fqdn(name))["HostedZones"]:
        if zone["Name"].lower() == fqdn(name) and not zone.get("Config", {}).get("PrivateZone"):
            return zone["Id"].split("/")[-1]
    return None


def current(route53, zone_id, name, kind):
    """The record set called `name` of type `kind`, or None."""
    answer = route53.list_resource_record_sets(HostedZoneId=zone_id, StartRecordName=fqdn(name),
                                               StartRecordType=kind, MaxItems="1")
    for record in answer["ResourceRecordSets"]:
        if fqdn(record["Name"]) == fqdn(name) and record["Type"] == kind:
            return record
    return None


def wanted_set(record):
    out = {"Name": fqdn(record["name"]), "Type": record["type"]}
    if record.get("alias"):
        alias = record["alias"]
        out["AliasTarget"] = {"HostedZoneId": alias["hosted_zone_id"], "DNSName": fqdn(alias["dns_name"]),
                              "EvaluateTargetHealth": bool(alias.get("evaluate_target_health", False))}
    else:
        out["TTL"] = record["ttl"]
        values = record.get("values") or ([record["value"]] if record.get("value") else [])
        out["ResourceRecords"] = [{"Value": v} for v in values]
    return out


def same(have, want):
    if "AliasTarget" in want:
        a, b = have.get("AliasTarget", {}), want["AliasTarget"]
        return (fqdn(a.get("DNSName", "")) == b["DNSName"] and a.get("HostedZoneId") == b["HostedZoneId"]
                and bool(a.get("EvaluateTargetHealth")) == b["EvaluateTargetHealth"])
    return ("AliasTarget" not in have and have.get("TTL") == want["TTL"]
            and sorted(r["Value"] for r in have.get("ResourceRecords", []))
            == sorted(r["Value"] for r in want["ResourceRecords"]))


def targets(record_set):
    """What a record set points at: its values, or its alias target's name."""
    if "AliasTarget" in record_set:
        return [record_set["AliasTarget"]["DNSName"]]
    return [r["Value"] for r in record_set.get("ResourceRecords", [])]


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            zone=dict(type="str", required=True),
            records=dict(type="list", elements="dict", required=True, options=dict(
                name=dict(type="str", required=True),
                type=dict(type="str", required=True),
                ttl=dict(type="int", default=300),
                values=dict(type="list", elements="str"),
                value=dict(type="str"),
                alias=dict(type="dict"),
                value_regex=dict(type="str"),
            )),
            state=dict(type="str", default="present", choices=["present", "absent"]),
        ),
        supports_check_mode=True,
    )
    route53 = module.client("route53")
    present = module.params["state"] == "present"
    changes = []
    try:
        zone_id = find_zone(route53, module.params["zone"])
        if zone_id is None:
            if present:
                module.fail_json(msg=f"no public hosted zone called {module.params['zone']}: "
                                 "create it (and delegate the domain to its name servers) first")
            module.exit_json(changed=False, zone_id="", changes=[])
        for record in module.params["records"]:
            have = current(route53, zone_id, record["name"], record["type"])
            if present:
                want = wanted_set(record)
                if have is None or not same(have, want):
                    regex = record.get("value_regex")
                    if have is not None and regex and not any(re.search(regex, t) for t in targets(have)):
                        module.fail_json(msg=f"{have['Name']} {have['Type']} already exists in {module.params['zone']} "
                                         f"and points at {', '.join(targets(have))}, which this project did not "
                                         "make: nothing was changed; delete or change that record yourself first")
                    changes.append({"Action": "UPSERT", "ResourceRecordSet": want})
            elif have is not None:
                regex = record.get("value_regex")
                if not regex or any(re.search(regex, t) for t in targets(have)):
                    changes.append({"Action": "DELETE", "ResourceRecordSet": have})
        if changes and not module.check_mode:
            route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Route 53 records in {module.params['zone']}")
    module.exit_json(changed=bool(changes), zone_id=zone_id, changes=[
        {"action": c["Action"], "name": c["ResourceRecordSet"]["Name"], "type": c["ResourceRecordSet"]["Type"]}
        for c in changes])


if __name__ == "__main__":
    main()
