#!/usr/bin/python
# -*- coding: utf-8 -*-
# community.aws.acm_certificate only imports (it cannot request a certificate
# with DNS validation), and decides whether to re-import by comparing the
# chain ACM hands back with the one given, which ACM fills in by itself when
# none was given: it re-imports on every run.  This module does the three
# things the load_balancer role needs, identified by the certificate's tags.

DOCUMENTATION = r"""
---
module: acm_certificate
short_description: An ACM certificate imported from PEM text, or requested with DNS validation; or their deletion
description:
  - The certificate is found by its tags (all of I(tags), which should hold a
    C(Name)), never by its domain alone, so certificates this module did not
    make are never touched.
  - I(source=imported), I(state=present) imports I(certificate) and
    I(private_key) (and I(certificate_chain)), tagged, with the SHA-256 of
    the certificate and chain text in the tag C(CertificateSha256). A later
    run re-imports (same ARN, so listeners keep it) only when that digest
    differs, i.e. when the files changed.
  - I(source=requested), I(state=present) requests a certificate for
    I(domain_name) with DNS validation (or finds the one requested before,
    pending or issued), waits until ACM names the validation record, and
    returns it. With I(wait=true) it then waits until the certificate is
    ISSUED, and fails with ACM's reason if validation failed or timed out.
  - I(state=absent) deletes every certificate carrying I(tags), trying again
    while ACM answers that a load balancer still uses it.
  - Supports check mode.
options:
  tags:
    description: Tags that identify the certificate (all of them must match) and that it is given.
    required: true
    type: dict
  source:
    description: Imported from PEM text or requested from ACM (I(state=present)).
    choices: [imported, requested]
    type: str
  certificate:
    description: PEM certificate (I(source=imported)).
    type: str
  private_key:
    description: PEM private key of I(certificate) (I(source=imported)). Never logged.
    type: str
  certificate_chain:
    description: PEM chain of the issuers (I(source=imported)); optional.
    type: str
  domain_name:
    description: Fully qualified name the certificate is for (I(source=requested)).
    type: str
  wait:
    description: With I(source=requested), wait until the certificate is ISSUED.
    type: bool
    default: false
  state:
    description: Present or absent.
    choices: [present, absent]
    default: present
    type: str
  retries:
    description: Looks at the certificate while waiting (or tries of a refused delete).
    type: int
    default: 60
  delay:
    description: Seconds between those looks or tries.
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
- name: Import the certificate from files
  living_hta.aws.acm_certificate:
    source: imported
    certificate: "{{ lookup('file', 'cert.pem') }}"
    private_key: "{{ lookup('file', 'key.pem') }}"
    tags: {Name: living-hta-dev, Project: living-hta, Environment: dev}
  no_log: true

- name: Request one for api.example.org and wait for it
  living_hta.aws.acm_certificate:
    source: requested
    domain_name: api.example.org
    wait: true
    tags: {Name: living-hta-dev, Project: living-hta, Environment: dev}
"""

RETURN = r"""
arn:
  description: The certificate's ARN (I(state=present)).
  returned: when state=present
  type: str
status:
  description: Its status (ISSUED, PENDING_VALIDATION, ...).
  returned: when state=present
  type: str
validation_records:
  description: The DNS records ACM looks for (I(source=requested)), each with C(name), C(type) and C(value).
  returned: when source=requested
  type: list
  elements: dict
deleted:
  description: ARNs deleted (I(state=absent)).
  returned: when state=absent
  type: list
  elements: str
"""

import hashlib
import time
import uuid

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.living_hta.aws.plugins.module_utils.ecs import error_code

# ListCertificates returns only RSA certificates unless told otherwise.
KEY_TYPES = ["RSA_1024", "RSA_2048", "RSA_3072", "RSA_4096", "EC_prime256v1", "EC_secp384r1", "EC_secp521r1"]
LIVE = ["PENDING_VALIDATION", "ISSUED"]
FAILED = {"FAILED", "VALIDATION_TIMED_OUT", "REVOKED", "EXPIRED", "INACTIVE"}
DIGEST_TAG = "CertificateSha256"


def tag_list(tags):
    return [{"Key": k, "Value": str(v)} for k, v in tags.items()]


def ours(acm, wanted, statuses=None):
    """(summary, tags) of every certificate carrying all the wanted tags."""
    found = []
    params = {"Includes": {"keyTypes": KEY_TYPES}}
    if statuses:
        params["CertificateStatuses"] = statuses
    for page in acm.get_paginator("list_certificates").paginate(**params):
        for summary in page["CertificateSummaryList"]:
            tags = {t["Key"]: t.get("Value", "") for t in
                    acm.list_tags_for_certificate(CertificateArn=summary["CertificateArn"])["Tags"]}
            if all(tags.get(k) == str(v) for k, v in wanted.items()):
                found.append((summary, tags))
    return found


def describe(acm, arn):
    return acm.describe_certificate(CertificateArn=arn)["Certificate"]


def digest(module):
    text = module.params["certificate"].strip() + "\n" + (module.params["certificate_chain"] or "").strip()
    return hashlib.sha256(text.encode()).hexdigest()


def imported(module, acm):
    tags = module.params["tags"]
    wanted_digest = digest(module)
    found = [(s, t) for s, t in ours(acm, tags) if describe(acm, s["CertificateArn"]).get("Type") == "IMPORTED"]
    if len(found) > 1:
        module.fail_json(msg=f"{len(found)} imported certificates carry the tags {tags}: delete all but one",
                         arns=[s["CertificateArn"] for s, _ in found])
    arn = found[0][0]["CertificateArn"] if found else None
    if found and found[0][1].get(DIGEST_TAG) == wanted_digest:
        return {"changed": False, "arn": arn, "status": describe(acm, arn)["Status"]}
    if module.check_mode:
        return {"changed": True, "arn": arn or "", "status": "ISSUED"}
    params = {"Certificate": module.params["certificate"].encode(), "PrivateKey": module.params["private_key"].encode()}
    if module.params["certificate_chain"]:
        params["CertificateChain"] = module.params["certificate_chain"].encode()
    all_tags = tag_list({**tags, DIGEST_TAG: wanted_digest})
    if arn:  # a re-import keeps the ARN (and the listeners using it); tags are not accepted then
        acm.import_certificate(CertificateArn=arn, **params)
        acm.add_tags_to_certificate(CertificateArn=arn, Tags=all_tags)
    else:
        arn = acm.import_certificate(Tags=all_tags, **params)["CertificateArn"]
    return {"changed": True, "arn": arn, "status": describe(acm, arn)["Status"]}


def validation_records(certificate):
    return [{"name": o["ResourceRecord"]["Name"], "type": o["ResourceRecord"]["Type"],
             "value": o["ResourceRecord"]["Value"]}
            for o in certificate.get("DomainValidationOptions", []) if "ResourceRecord" in o]


def requested(module, acm):
    tags, domain = module.params["tags"], module.params["domain_name"].rstrip(".").lower()
    found = [s["CertificateArn"] for s, _ in ours(acm, tags, LIVE) if s.get("DomainName", "").lower() == domain]
    changed = False
    if found:
        arn = found[0]
    elif module.check_mode:
        return {"changed": True, "arn": "", "status": "PENDING_VALIDATION", "validation_records": []}
    else:
        # A token of this request only: ACM answers a token it saw within the
        # hour with that request's certificate, even one deleted since (a
        # re-deploy within the hour of a teardown, or after deleting a
        # FAILED request).  The tags above find a live request again.
        token = uuid.uuid4().hex
        arn = acm.request_certificate(DomainName=domain, ValidationMethod="DNS", IdempotencyToken=token,
                                      Tags=tag_list(tags))["CertificateArn"]
        changed = True
    # ACM names the validation record a few seconds after the request.
    for attempt in range(module.params["retries"] + 1):
        certificate = describe(acm, arn)
        records = validation_records(certificate)
        status = certificate["Status"]
        if status in FAILED:
            module.fail_json(msg=f"the certificate for {domain} is {status}: "
                             f"{certificate.get('FailureReason', 'no reason given')} ({arn}); "
                             "check the validation record in the hosted zone, or delete the certificate to start again",
                             arn=arn)
        done = status == "ISSUED" if module.params["wait"] else bool(records)
        if done:
            return {"changed": changed, "arn": arn, "status": status, "validation_records": records}
        if attempt < module.params["retries"]:
            time.sleep(module.params["delay"])
    waited = module.params["retries"] * module.params["delay"]
    module.fail_json(msg=f"the certificate for {domain} is still {status} after {waited} s"
                     + (": ACM has not seen the validation record "
                        + ", ".join(f"{r['name']} {r['type']} {r['value']}" for r in records)
                        + " yet (is the hosted zone the domain's public, delegated zone?)"
                        if module.params["wait"] else ": ACM named no validation record"),
                     arn=arn, validation_records=records)


def absent(module, acm):
    deleted = []
    for summary, _ in ours(acm, module.params["tags"]):
        arn = summary["CertificateArn"]
        deleted.append(arn)
        if module.check_mode:
            continue
        # A load balancer just deleted keeps its certificate "in use" for a while.
        for attempt in range(module.params["retries"] + 1):
            try:
                acm.delete_certificate(CertificateArn=arn)
                break
            except botocore.exceptions.ClientError as e:
                if error_code(e) == "ResourceNotFoundException":
                    break
                if error_code(e) != "ResourceInUseException" or attempt == module.params["retries"]:
                    raise
                time.sleep(module.params["delay"])
    return {"changed": bool(deleted), "deleted": deleted}


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            tags=dict(type="dict", required=True),
            source=dict(type="str", choices=["imported", "requested"]),
            certificate=dict(type="str"),
            private_key=dict(type="str", no_log=True),
            certificate_chain=dict(type="str"),
            domain_name=dict(type="str"),
            wait=dict(type="bool", default=False),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            retries=dict(type="int", default=60),
            delay=dict(type="int", default=10),
        ),
        required_if=[
            ("state", "present", ["source"]),
            ("source", "imported", ["certificate", "private_key"]),
            ("source", "requested", ["domain_name"]),
        ],
        supports_check_mode=True,
    )
    acm = module.client("acm")
    try:
        if module.params["state"] == "absent":
            result = absent(module, acm)
        elif module.params["source"] == "imported":
            result = imported(module, acm)
        else:
            result = requested(module, acm)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg="ACM certificate: " + module.params["state"] + " failed")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
