"""The deployer's IAM policy, generated from the AWS actions the roles make.

    .venv/bin/python -m tests.support.iam_policy           # write docs/iam-policy.json and the READMEs' sections
    .venv/bin/python -m tests.support.iam_policy --check   # exit 1 if either differs from what would be written
    make iam-policy                                        # record the actions again, then write

The record, docs/iam-actions.json, holds the actions each role made
through the tests' AWS proxy (tests/support/aws_proxy.py, which every
playbook of the tests goes through; ``LHTA_IAM_RECORD=<file>`` makes
tests/support/ansible.py add them to the file) in full deploys,
re-deploys and teardowns of both topologies and the certificate
variants.  To it this adds what AWS authorises without a call of its own
(``IMPLIED``: passing a role, the service-linked roles AWS creates on a
first use, the pushes of ``docker push`` to ECR, KMS behind SSM), and
leaves out what needs no permission (sts:GetCallerIdentity) and the
emulator-only calls (the ECS agent's part, recorded as "(emulator)").

The policy lists every action by name (no ``*`` in an action) and scopes
the resources where the service allows: the project's own names
(``PROJECT``-…) for changes, ``*`` for reads (the teardown's final check
reads every role's and repository's tags) and for the actions AWS
authorises on ``*`` only (ec2 creation, RegisterTaskDefinition, …).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from tests.support.generated import write_or_check

ROOT = Path(__file__).resolve().parents[2]
RECORD = ROOT / "docs" / "iam-actions.json"
POLICY = ROOT / "docs" / "iam-policy.json"
# The policy names the resources of the default project_name; with another
# project_name, replace it (README, "Deploying to AWS").
PROJECT = "living-hta"
ROLES = ("ecr", "image", "load_balancer", "security_group", "ecs_cluster", "front", "task", "teardown")

NEEDS_NO_PERMISSION = {"sts:GetCallerIdentity"}
SERVICE_LINKED = {
    "ecs.amazonaws.com": "AWSServiceRoleForECS",
    "autoscaling.amazonaws.com": "AWSServiceRoleForAutoScaling",
    "elasticloadbalancing.amazonaws.com": "AWSServiceRoleForElasticLoadBalancing",
    "ecs.application-autoscaling.amazonaws.com": "AWSServiceRoleForApplicationAutoScaling_ECSService",
}
# action made -> (actions AWS authorises with it, why)
IMPLIED = {
    "autoscaling:CreateAutoScalingGroup": (
        ["iam:CreateServiceLinkedRole", "iam:PassRole"],
        "Auto Scaling creates its service-linked role on first use; the launch template passes the instance role"),
    "ec2:RunInstances": (["iam:PassRole"], "the instance profile passes the instance role"),
    "ec2:CreateLaunchTemplate": (["iam:PassRole"], "the launch template names the instance role's profile"),
    "elasticloadbalancing:CreateLoadBalancer": (
        ["iam:CreateServiceLinkedRole"], "ELB creates its service-linked role on first use"),
    "application-autoscaling:RegisterScalableTarget": (
        ["iam:CreateServiceLinkedRole"], "Application Auto Scaling creates its ECS service-linked role on first use"),
    "ecs:RegisterTaskDefinition": (["iam:PassRole"], "the task definition passes the execution role"),
    "ecr:GetAuthorizationToken": (
        ["ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart",
         "ecr:CompleteLayerUpload", "ecr:PutImage", "ecr:BatchGetImage"],
        "docker push to ECR with the token (registry calls the proxy does not see)"),
    "application-autoscaling:PutScalingPolicy": (
        ["cloudwatch:DescribeAlarms", "cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms"],
        "a target tracking policy's CloudWatch alarms are made with the caller's permissions"),
    "application-autoscaling:DeleteScalingPolicy": (
        ["cloudwatch:DescribeAlarms", "cloudwatch:DeleteAlarms"],
        "deleting a target tracking policy deletes its CloudWatch alarms"),
    "kms:DescribeKey": (
        ["kms:Encrypt", "kms:GenerateDataKey", "kms:Decrypt"],
        "SSM encrypts and decrypts the SecureString with the customer key on the caller's behalf"),
}

# Calls on paths the recorded runs do not walk (a change of a setting the
# tests keep), read from the modules: role -> {action: when}.
UNRECORDED = {
    "ecs_cluster": {
        "autoscaling:UpdateAutoScalingGroup": "a changed group size, subnets or template version",
        "ecs:UpdateCapacityProvider": "a changed managed scaling or termination protection",
        "ec2:ModifyInstanceMetadataOptions": "an instance whose metadata options differ (single)",
        "ecs:PutClusterCapacityProviders": "FARGATE, or the Auto Scaling group's provider",
        "autoscaling:StartInstanceRefresh": "instances on an older launch template version than the group's",
        "autoscaling:DescribeInstanceRefreshes": "instances on an older launch template version than the group's",
        "ec2:CreateLaunchTemplateVersion": "a new AMI, instance type or user data",
        "ec2:ModifyLaunchTemplate": "a new AMI, instance type or user data (the new version made the default)",
    },
    "load_balancer": {
        "elasticloadbalancing:ModifyListener": "a changed certificate, TLS policy or port",
        "elasticloadbalancing:SetSecurityGroups": "a changed security group",
        "elasticloadbalancing:SetSubnets": "changed subnets",
        "elasticloadbalancing:ModifyTargetGroup": "a changed health check",
        "elasticloadbalancing:DescribeTargetHealth": "the target group's targets, read when the module manages them",
        "acm:AddTagsToCertificate": "a changed certificate file, imported again (ImportCertificate takes no tags then)",
    },
    "security_group": {
        "ec2:RevokeSecurityGroupIngress": "a port or range no longer wanted",
    },
    "front": {
        "secretsmanager:UpdateSecret": "a new self-signed certificate (the old one near its end, or a new name)",
    },
    # The final check reads back each ARN the tagging API still lists
    # (project_resources_info's READERS); which ones depends on what is left.
    "teardown": {
        **{a: "reading back an ARN the tagging API still lists" for a in (
            "ec2:DescribeInstances", "ec2:DescribeVolumes", "ec2:DescribeSecurityGroups",
            "ec2:DescribeNetworkInterfaces", "ecs:DescribeClusters", "ecs:DescribeServices", "ecs:DescribeTasks",
            "ecs:DescribeTaskDefinition", "ssm:DescribeParameters", "logs:DescribeLogGroups",
            "elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeTargetGroups",
            "acm:DescribeCertificate", "secretsmanager:DescribeSecret",
            "elasticloadbalancing:DescribeListeners", "ec2:DescribeLaunchTemplates",
            "ecs:DescribeCapacityProviders", "iam:GetRole", "iam:GetInstanceProfile",
            "autoscaling:DescribeAutoScalingGroups", "ecr:DescribeRepositories")},
    },
}
ARN = "arn:aws"
READ = re.compile(r"^(Describe|List|Get|BatchGet|BatchCheck)")
# Reads of secret values: scoped like changes.
SECRET_READS = {"ssm:GetParameter", "ssm:GetParameters", "secretsmanager:GetSecretValue"}
# Actions AWS authorises on "*" only (no resource-level permission).
ANY_RESOURCE = {"ecr:GetAuthorizationToken", "ecs:RegisterTaskDefinition", "ecs:DeregisterTaskDefinition",
                "ecs:CreateCapacityProvider", "iam:ListRoles", "iam:ListInstanceProfiles"}
SCOPES = {
    "iam": ("ProjectRolesAndInstanceProfiles", [f"{ARN}:iam::*:role/{PROJECT}-*",
                                                f"{ARN}:iam::*:instance-profile/{PROJECT}-*"]),
    "ecr": ("ProjectRepositories", [f"{ARN}:ecr:*:*:repository/{PROJECT}-*"]),
    "ssm": ("ProjectParametersAndTheEcsAmiParameter", [f"{ARN}:ssm:*:*:parameter/{PROJECT}/*",
                                                       f"{ARN}:ssm:*::parameter/aws/service/ecs/*"]),
    "secretsmanager": ("ProjectSecrets", [f"{ARN}:secretsmanager:*:*:secret:{PROJECT}/*"]),
    "logs": ("ProjectLogGroups", [f"{ARN}:logs:*:*:log-group:/ecs/{PROJECT}-*",
                                  f"{ARN}:logs:*:*:log-group:/ecs/{PROJECT}-*:*"]),
    "ecs": ("ProjectClustersServicesAndCapacityProviders", [
        f"{ARN}:ecs:*:*:cluster/{PROJECT}-*", f"{ARN}:ecs:*:*:service/{PROJECT}-*/*",
        f"{ARN}:ecs:*:*:capacity-provider/{PROJECT}-*", f"{ARN}:ecs:*:*:task-definition/{PROJECT}-*:*",
        f"{ARN}:ecs:*:*:container-instance/{PROJECT}-*/*"]),
    "elasticloadbalancing": ("ProjectLoadBalancer", [
        f"{ARN}:elasticloadbalancing:*:*:loadbalancer/app/{PROJECT}-*/*",
        f"{ARN}:elasticloadbalancing:*:*:listener/app/{PROJECT}-*/*/*",
        f"{ARN}:elasticloadbalancing:*:*:listener-rule/app/{PROJECT}-*/*/*/*",
        f"{ARN}:elasticloadbalancing:*:*:targetgroup/{PROJECT}-*/*"]),
    "autoscaling": ("ProjectAutoScalingGroup", [
        f"{ARN}:autoscaling:*:*:autoScalingGroup:*:autoScalingGroupName/{PROJECT}-*"]),
    "route53": ("RecordsInHostedZones", [f"{ARN}:route53:::hostedzone/*"]),
}


def load_record(path: Path = RECORD) -> dict[str, list[str]]:
    return json.loads(path.read_text())


def role_actions(record: dict[str, list[str]]) -> dict[str, dict[str, str]]:
    """Per role: action -> why (empty: a call the role makes)."""
    out: dict[str, dict[str, str]] = {}
    for role, actions in record.items():
        if role == "(emulator)":
            continue
        found = {a: "" for a in actions if a not in NEEDS_NO_PERMISSION and not a.endswith(":")}
        for action, when in UNRECORDED.get(role, {}).items():
            found.setdefault(action, f"not recorded: {when}")
        for action in list(found):
            implied, why = IMPLIED.get(action, ([], ""))
            for extra in implied:
                found.setdefault(extra, why)
        out[role] = dict(sorted(found.items()))
    return out


def _statement_key(action: str) -> tuple[str, tuple[str, ...], str]:
    service, name = action.split(":", 1)
    if action == "iam:PassRole":
        return "PassTheProjectsRolesToEc2AndEcsTasks", (f"{ARN}:iam::*:role/{PROJECT}-*",), "pass"
    if action == "iam:CreateServiceLinkedRole":
        return "CreateTheServiceLinkedRoles", tuple(
            f"{ARN}:iam::*:role/aws-service-role/{s}/{r}" for s, r in SERVICE_LINKED.items()), "slr"
    if action in ANY_RESOURCE or (READ.match(name) and action not in SECRET_READS) or service not in SCOPES:
        return "ReadsAndActionsOnAnyResource", ("*",), ""
    sid, resources = SCOPES[service]
    return sid, tuple(resources), ""


CONDITIONS = {
    "pass": {"StringEquals": {"iam:PassedToService": ["ec2.amazonaws.com", "ecs-tasks.amazonaws.com"]}},
    "slr": {"StringEquals": {"iam:AWSServiceName": sorted(SERVICE_LINKED)}},
}


def policy(record: dict[str, list[str]]) -> dict:
    """The deployer's policy document: every action of every role, scoped."""
    actions = sorted({a for found in role_actions(record).values() for a in found})
    statements: dict[tuple, list[str]] = {}
    for action in actions:
        statements.setdefault(_statement_key(action), []).append(action)
    out = []
    for (sid, resources, condition), found in sorted(statements.items()):
        statement = {"Sid": sid, "Effect": "Allow", "Action": found,
                     "Resource": list(resources) if len(resources) > 1 else resources[0]}
        if condition:
            statement["Condition"] = CONDITIONS[condition]
        out.append(statement)
    return {"Version": "2012-10-17", "Statement": out}


def policy_actions(document: dict) -> set[str]:
    return {a for s in document["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}


def readme_section(role: str, found: dict[str, str]) -> str:
    """The body of a role README's "## IAM permissions" section."""
    lines = [
        "<!-- Generated by tests/support/iam_policy.py from docs/iam-actions.json: do not edit by hand. -->",
        "",
        "Recorded from the calls the role made through the tests' AWS proxy in full",
        "deploys, re-deploys and teardowns of both topologies (`make iam-policy`",
        "records them again); the whole deployer policy, resources scoped to the",
        "project's names, is [docs/iam-policy.json](../../docs/iam-policy.json).",
        "",
    ]
    by_service: dict[str, list[str]] = {}
    for action in found:
        by_service.setdefault(action.split(":")[0], []).append(action)
    for service, actions in sorted(by_service.items()):
        lines.append(f"- {service}: " + ", ".join(f"`{a}`" for a in actions))
    implied = {why: [a for a, w in found.items() if w == why] for why in found.values()
               if why and not why.startswith("not recorded: ")}
    if implied:
        lines += ["", "Authorised without a call of their own:"]
        lines += [f"- {', '.join(f'`{a}`' for a in actions)}: {why}" for why, actions in sorted(implied.items())]
    unrecorded = [(a, w.split(": ", 1)[1]) for a, w in found.items() if w.startswith("not recorded: ")]
    if unrecorded:
        lines += ["", "Made only on paths the recorded runs do not walk (read from the modules):"]
        lines += [f"- `{a}`: {when}" for a, when in unrecorded]
    return "\n".join(lines) + "\n"


def readme_with_section(text: str, section: str) -> str:
    head, marker, rest = text.partition("## IAM permissions\n")
    if not marker:
        return text.rstrip("\n") + "\n\n## IAM permissions\n\n" + section
    tail = rest[rest.index("\n## "):] if "\n## " in rest else ""
    return head + marker + "\n" + section + tail


def outputs(record: dict[str, list[str]]) -> dict[Path, str]:
    files = {POLICY: json.dumps(policy(record), indent=2) + "\n"}
    for role, found in role_actions(record).items():
        readme = ROOT / "roles" / role / "README.md"
        if role in ROLES and readme.exists():
            files[readme] = readme_with_section(readme.read_text(), readme_section(role, found))
    return files


def missing_from_policy(recorded: dict[str, set[str]], document: dict | None = None) -> dict[str, list[str]]:
    """Per role, the actions recorded (by the proxy) that the committed
    policy does not grant."""
    granted = policy_actions(document or json.loads(POLICY.read_text()))
    needed = {role: {a for a, why in found.items() if not why.startswith("not recorded: ")}
              for role, found in role_actions({role: sorted(found) for role, found in recorded.items()}).items()}
    return {role: sorted(found - granted) for role, found in needed.items() if found - granted}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when a file differs from what would be written")
    args = parser.parse_args(argv)
    return write_or_check(outputs(load_record()), args.check, "python -m tests.support.iam_policy", ROOT)


if __name__ == "__main__":
    sys.exit(main())

