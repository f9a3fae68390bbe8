"""The load_balancer role alone, against the AWS emulator: the certificate
requested from ACM and validated through Route 53 (ACM's ISSUED answered
the way AWS answers it once the validation record exists, as moto keeps
every requested certificate PENDING_VALIDATION), records the project did
not make left alone, ACM's refusal in its own words, and an imported
certificate re-imported only when its file changes.  A moto server of this
module's own (tests/support/load_balanced.py); split from
tests/deploy/test_load_balanced.py so that the two run side by side.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.support.ansible import ansible_playbook
from tests.support.aws_proxy import AwsTimes, aws_like, aws_proxy, json_body, with_json
from tests.support.iam_policy import missing_from_policy
from tests.support.load_balanced import FAST, HTTPS_PORT, files, moto, tags_of  # noqa: F401  (fixtures)
from tests.support.moto import aws_client

pytestmark = pytest.mark.slow


BALANCER_PLAY = """\
    - hosts: localhost
      gather_facts: false
      roles:
        - load_balancer
    """


def balancer(endpoint: str, tmp_path: Path, project: str, *extra: str, check: bool = True) -> tuple[int, str]:
    play = tmp_path / "balancer.yml"
    play.write_text(textwrap.dedent(BALANCER_PLAY))
    return ansible_playbook(endpoint, str(play), "-e", f"project_name={project}", "-e", "deploy_env=t", *extra,
                            check=check)


def balancer_teardown(endpoint: str, project: str, *extra: str) -> str:
    """The whole teardown, with its final check (records and certificates included)."""
    _, output = ansible_playbook(endpoint, "playbooks/teardown.yml", "-e", f"project_name={project}",
                                 "-e", "deploy_env=t", *FAST, *extra)
    assert "Nothing tagged" in output
    return output


DELETE_PLAY = """\
    - hosts: localhost
      gather_facts: false
      module_defaults:
        group/living_hta.aws.aws: "{{ aws_connection }}"
      tasks:
        - name: The load_balancer role's delete only
          ansible.builtin.include_role:
            name: load_balancer
            tasks_from: delete
    """


def balancer_delete(endpoint: str, tmp_path: Path, project: str, *extra: str) -> None:
    play = tmp_path / "delete.yml"
    play.write_text(textwrap.dedent(DELETE_PLAY))
    ansible_playbook(endpoint, str(play), "-e", f"project_name={project}", "-e", "deploy_env=t",
                     "-e", "load_balancer_delete_delay=1", *extra)


ZONE, DOMAIN = "lhta-test.example.org", "api.lhta-test.example.org"
DOMAIN_ARGS = ["-e", "load_balancer_certificate=requested", "-e", f"api_domain_name={DOMAIN}",
               "-e", f"api_hosted_zone={ZONE}"]


def acm_validates_once_the_record_exists(moto: str, outcome: str = "ISSUED"):
    """DescribeCertificate as AWS answers it for a requested certificate:
    PENDING_VALIDATION until the validation record ACM named is in the
    hosted zone, then ISSUED (or FAILED).  (moto keeps it pending, then
    issues it by itself after a while, record or not.)"""
    state = {"looks": 0, "looks_with_record": 0}

    def handler(call, forward):
        response = forward()
        if call.action != "DescribeCertificate":
            return response
        data = json_body(response)
        certificate = data.get("Certificate", {})
        if certificate.get("Type") != "AMAZON_ISSUED":
            return response
        state["looks"] += 1
        wanted = certificate["DomainValidationOptions"][0]["ResourceRecord"]
        have = records(moto).get((wanted["Name"], wanted["Type"]))
        if have and [r["Value"] for r in have["ResourceRecords"]] == [wanted["Value"]]:
            state["looks_with_record"] += 1
            certificate["Status"] = outcome
            if outcome == "FAILED":
                certificate["FailureReason"] = "CAA_ERROR"
        else:
            certificate["Status"] = "PENDING_VALIDATION"
        return with_json(response, data)

    return handler, state


def records(moto: str) -> dict[tuple[str, str], dict]:
    route53 = aws_client("route53", moto)
    [zone] = [z for z in route53.list_hosted_zones()["HostedZones"] if z["Name"] == ZONE + "."]
    found = route53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]
    return {(r["Name"], r["Type"]): r for r in found if r["Type"] not in ("NS", "SOA")}


@pytest.fixture(scope="module")
def hosted_zone(moto):
    aws_client("route53", moto).create_hosted_zone(Name=ZONE, CallerReference="lhta-test")
    return ZONE


def test_a_requested_certificate_is_validated_in_route53_and_the_name_points_at_the_load_balancer(
        moto, hosted_zone, tmp_path):
    project = "lhta-lb-req"
    acm = aws_client("acm", moto)
    arns = []
    # Twice within the hour: the second request is a new one (issue 23, item
    # 3: ACM answers a token it saw within the hour with the earlier, deleted,
    # certificate).  Each time, ELB finds the certificate only a while after
    # ACM issued it (item 4).
    for _ in range(2):
        handler, state = acm_validates_once_the_record_exists(moto)
        try:
            with aws_proxy(moto, handler, times=AwsTimes(certificate=5)) as proxy:
                _, output = balancer(proxy.url, tmp_path, project, *DOMAIN_ARGS, "-e", "load_balancer_poll_delay=1")
            check_requested(moto, project, state, output)
            assert proxy.actions().count("CreateListener") >= 2, "ELB found the certificate at once"
            [summary] = [c for c in acm.list_certificates()["CertificateSummaryList"] if c["DomainName"] == DOMAIN]
            arns.append(summary["CertificateArn"])
        finally:
            balancer_teardown(moto, project, *DOMAIN_ARGS)
        assert records(moto) == {}
        assert [c for c in acm.list_certificates()["CertificateSummaryList"] if c["DomainName"] == DOMAIN] == []
    assert arns[0] != arns[1]


def test_a_validation_record_another_certificate_uses_stays(moto, hosted_zone, tmp_path):
    """ACM names the same validation CNAME for every certificate of a
    domain in the account: the teardown leaves it while another live
    certificate (not the project's) still uses it (issue 23, item 12)."""
    project = "lhta-lb-shared"
    acm = aws_client("acm", moto)
    handler, _ = acm_validates_once_the_record_exists(moto)
    other = None
    try:
        with aws_proxy(moto, handler) as proxy:
            balancer(proxy.url, tmp_path, project, *DOMAIN_ARGS, "-e", "load_balancer_poll_delay=1")
        other = acm.request_certificate(DomainName=DOMAIN, ValidationMethod="DNS")["CertificateArn"]
        cname = acm.describe_certificate(CertificateArn=other)["Certificate"]["DomainValidationOptions"][0][
            "ResourceRecord"]
        assert (cname["Name"], "CNAME") in records(moto)
    finally:
        balancer_teardown(moto, project, *DOMAIN_ARGS)
    assert list(records(moto)) == [(cname["Name"], "CNAME")], "the alias goes, the shared CNAME stays"
    acm.delete_certificate(CertificateArn=other)
    route53 = aws_client("route53", moto)
    [zone] = [z for z in route53.list_hosted_zones()["HostedZones"] if z["Name"] == ZONE + "."]
    route53.change_resource_record_sets(HostedZoneId=zone["Id"], ChangeBatch={"Changes": [
        {"Action": "DELETE", "ResourceRecordSet": records(moto)[(cname["Name"], "CNAME")]}]})


RECORDS_PLAY = """\
    - hosts: localhost
      gather_facts: false
      module_defaults:
        group/living_hta.aws.aws: "{{ aws_connection }}"
      tasks:
        - name: The alias, as the load_balancer role writes it
          living_hta.aws.route53_records:
            zone: %s
            records:
              - name: %s
                type: A
                value_regex: '(?i)^lhta-lb-own-t-[^.]+[.]'
                alias: {dns_name: lhta-lb-own-t-1.eu-west-2.elb.amazonaws.com, hosted_zone_id: ZHURV8PSTC4K8}
    """


def test_a_record_the_project_did_not_make_is_not_overwritten(moto, hosted_zone, tmp_path):
    """The domain already points elsewhere (a server of yours): the role
    stops, naming it, and leaves it (issue 23, item 12)."""
    route53 = aws_client("route53", moto)
    [zone] = [z for z in route53.list_hosted_zones()["HostedZones"] if z["Name"] == ZONE + "."]
    theirs = {"Name": DOMAIN + ".", "Type": "A", "TTL": 300, "ResourceRecords": [{"Value": "192.0.2.10"}]}
    route53.change_resource_record_sets(HostedZoneId=zone["Id"], ChangeBatch={"Changes": [
        {"Action": "CREATE", "ResourceRecordSet": theirs}]})
    try:
        path = tmp_path / "records.yml"
        path.write_text(textwrap.dedent(RECORDS_PLAY % (ZONE, DOMAIN)))
        code, output = ansible_playbook(moto, str(path), check=False)
        assert code != 0 and "Traceback" not in output
        assert f"{DOMAIN}. A already exists in {ZONE} and points at 192.0.2.10, which this project did not make" \
            in output, output[-3000:]
        assert records(moto)[(DOMAIN + ".", "A")]["ResourceRecords"] == [{"Value": "192.0.2.10"}]
    finally:
        route53.change_resource_record_sets(HostedZoneId=zone["Id"], ChangeBatch={"Changes": [
            {"Action": "DELETE", "ResourceRecordSet": theirs}]})


def check_requested(moto: str, project: str, state: dict, output: str) -> None:
    # Asked before the record existed (pending), and after (issued).
    assert state["looks"] > state["looks_with_record"] >= 1
    acm, elb = aws_client("acm", moto), aws_client("elbv2", moto)
    [summary] = [c for c in acm.list_certificates()["CertificateSummaryList"] if c["DomainName"] == DOMAIN]
    certificate = acm.describe_certificate(CertificateArn=summary["CertificateArn"])["Certificate"]
    assert certificate["Type"] == "AMAZON_ISSUED"
    validation = certificate["DomainValidationOptions"][0]["ResourceRecord"]
    found = records(moto)
    cname = found[(validation["Name"], "CNAME")]
    assert [r["Value"] for r in cname["ResourceRecords"]] == [validation["Value"]]
    [lb] = elb.describe_load_balancers(Names=[f"{project}-t"])["LoadBalancers"]
    alias = found[(DOMAIN + ".", "A")]["AliasTarget"]
    assert alias["DNSName"].rstrip(".") == lb["DNSName"] and alias["HostedZoneId"] == lb["CanonicalHostedZoneId"]
    listeners = {l["Port"]: l for l in elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]}
    assert listeners[HTTPS_PORT]["Certificates"][0]["CertificateArn"] == summary["CertificateArn"]
    assert f"https://{DOMAIN}:{HTTPS_PORT}" in output


def test_a_certificate_acm_refuses_stops_with_acms_reason(moto, hosted_zone, tmp_path):
    project = "lhta-lb-fail"
    handler, _ = acm_validates_once_the_record_exists(moto, "FAILED")
    try:
        with aws_proxy(moto, handler) as proxy:
            code, output = balancer(proxy.url, tmp_path, project, *DOMAIN_ARGS, "-e", "load_balancer_poll_delay=1",
                                    check=False)
        assert code != 0 and "Traceback" not in output
        assert f"the certificate for {DOMAIN} is FAILED: CAA_ERROR" in output, output[-3000:]
        assert "CreateLoadBalancer" not in proxy.actions()
    finally:
        balancer_delete(moto, tmp_path, project, *DOMAIN_ARGS)


def test_an_imported_certificate_is_imported_again_only_when_its_file_changes(moto, files, tmp_path):
    project = "lhta-lb-imp"
    tls, other = files["tls"], files["other_tls"]
    imported = ["-e", "load_balancer_certificate=imported", "-e", f"load_balancer_private_key_file={tls['key']}"]
    # (An unchanged file is not imported again: test_redeploy_changes_nothing_and_imports_nothing.)
    balancer(moto, tmp_path, project, *imported, "-e", f"load_balancer_certificate_file={tls['certificate']}")
    acm = aws_client("acm", moto)
    [first] = [c["CertificateArn"] for c in acm.list_certificates(Includes={"keyTypes": ["EC_prime256v1"]})[
        "CertificateSummaryList"] if tags_of(acm.list_tags_for_certificate(CertificateArn=c["CertificateArn"])[
            "Tags"]).get("Project") == project]

    # A new certificate file (its own key): imported again into the same ARN.
    replaced = ["-e", "load_balancer_certificate=imported", "-e", f"load_balancer_private_key_file={other['key']}",
                "-e", f"load_balancer_certificate_file={other['certificate']}"]
    with aws_proxy(moto, lambda call, forward: forward()) as proxy:
        _, output = balancer(proxy.url, tmp_path, project, *replaced)
    [reimport] = [c for c in proxy.calls if c.action == "ImportCertificate"]
    assert reimport.params["CertificateArn"] == first
    assert acm.get_certificate(CertificateArn=first)["Certificate"].strip() == other["certificate"].read_text().strip()
    assert "PRIVATE KEY" not in output
    balancer_delete(moto, tmp_path, project)
    with pytest.raises(acm.exceptions.ResourceNotFoundException):
        acm.describe_certificate(CertificateArn=first)


# --- bad combinations stop before any AWS call ----------------------------------------



def test_every_call_of_the_certificate_runs_is_in_the_iam_policy(moto):
    """The load_balancer role's runs above and their teardowns went through
    the proxy, which recorded each role's actions: docs/iam-policy.json
    grants them all."""
    recorded = aws_like(moto).actions
    assert {"load_balancer", "teardown"} <= set(recorded)
    assert missing_from_policy(recorded) == {}
