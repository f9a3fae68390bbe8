"""docs/iam-policy.json: the deployer's least-privilege policy, generated
from the AWS actions the roles made through the tests' AWS proxy
(docs/iam-actions.json, tests/support/iam_policy.py).  That every call of a
full deploy, re-deploy and teardown is granted is checked where those run:
tests/e2e/test_deploy.py (single) and tests/deploy/test_load_balanced.py."""

from __future__ import annotations

import json
import re

from tests.support.iam_policy import (ANY_RESOURCE, POLICY, READ, RECORD, SECRET_READS, main,
                                      missing_from_policy, policy, policy_actions)


def document() -> dict:
    return json.loads(POLICY.read_text())


def test_the_policy_and_the_readmes_are_generated_from_the_record():
    assert main(["--check"]) == 0
    assert document() == policy(json.loads(RECORD.read_text()))


def test_every_action_is_named_one_by_one():
    for statement in document()["Statement"]:
        assert statement["Effect"] == "Allow"
        for action in statement["Action"]:
            assert re.fullmatch(r"[a-z0-9-]+:[A-Za-z0-9]+", action), action


def test_changes_are_scoped_to_the_projects_resources():
    scoped = ("iam", "ecr", "ssm", "secretsmanager", "logs", "ecs", "elasticloadbalancing", "autoscaling")
    on_any = [a for s in document()["Statement"] if s["Resource"] == "*" for a in s["Action"]]
    changes = [a for a in on_any if a.split(":")[0] in scoped and not READ.match(a.split(":")[1])]
    assert set(changes) <= ANY_RESOURCE, sorted(set(changes) - ANY_RESOURCE)
    # Reading a secret's value is scoped like a change.
    assert not SECRET_READS & set(on_any)
    [passing] = [s for s in document()["Statement"] if "iam:PassRole" in s["Action"]]
    assert passing["Action"] == ["iam:PassRole"] and "iam:PassedToService" in json.dumps(passing["Condition"])
    [linked] = [s for s in document()["Statement"] if "iam:CreateServiceLinkedRole" in s["Action"]]
    assert "autoscaling.amazonaws.com" in linked["Condition"]["StringEquals"]["iam:AWSServiceName"]


def test_the_policy_grants_what_the_review_found_missing():
    granted = policy_actions(document())
    assert {"iam:CreateServiceLinkedRole", "ec2:DescribeTags", "elasticloadbalancing:DescribeTargetHealth",
            "iam:ListInstanceProfilesForRole"} <= granted


def test_a_call_the_policy_lacks_is_reported_with_its_role():
    lacking = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["ecs:CreateCluster"], "Resource": "*"}]}
    assert missing_from_policy({"ecs_cluster": {"ecs:CreateCluster", "ec2:DescribeTags"}}, lacking) == {
        "ecs_cluster": ["ec2:DescribeTags"]}
