"""The role READMEs' variable tables are generated from the roles'
meta/argument_specs.yml and defaults/main.yml (tests/support/role_docs.py,
`make role-docs`), and argument_specs is where each range is stated."""

from __future__ import annotations

import re
import shutil

import pytest
import yaml

from tests.support import role_docs
from tests.support.paths import ROOT

ROLES = sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "meta" / "argument_specs.yml").exists())


def test_every_readme_table_is_the_generated_one():
    assert role_docs.main(["--check"]) == 0


def test_a_stale_table_is_found_and_rewritten(tmp_path, monkeypatch, capsys):
    for role in ("ecr", "common"):
        shutil.copytree(ROOT / "roles" / role, tmp_path / "roles" / role)
    monkeypatch.setattr(role_docs, "ROOT", tmp_path)
    monkeypatch.setattr(role_docs, "ROLES", tmp_path / "roles")
    specs = tmp_path / "roles/ecr/meta/argument_specs.yml"
    specs.write_text(specs.read_text().replace("(1-1000)", "(1-999)"))
    assert role_docs.main(["--check"]) == 1
    assert capsys.readouterr().err.endswith(": roles/ecr/README.md\n")
    iam = (ROOT / "roles/ecr/README.md").read_text().split("## IAM permissions", 1)[1].split("\n## ", 1)[0]
    assert role_docs.main([]) == 0 and role_docs.main(["--check"]) == 0
    readme = (tmp_path / "roles/ecr/README.md").read_text()
    assert "(1-999)" in readme and "(1-1000)" not in readme
    # Only the block between the markers changed: the IAM section
    # (tests/support/iam_policy.py's) and the example are as they were.
    assert iam in readme and "## Example" in readme


@pytest.mark.parametrize("role", ROLES)
def test_every_default_is_in_the_argument_specs(role):
    folder = ROOT / "roles" / role
    defaults = yaml.safe_load((folder / "defaults/main.yml").read_text()) or {}
    assert set(defaults) - set(role_docs.specs(folder)) == set()


RANGE = re.compile(r"\b([a-z_]+) \| int >= (\d+) and \1 \| int <= (\d+)")
# Each range a tasks/validate.yml checks: (role, variable, low, high).
CHECKED = [(role, *found) for role in ROLES if (ROOT / "roles" / role / "tasks/validate.yml").exists()
           for found in RANGE.findall((ROOT / "roles" / role / "tasks/validate.yml").read_text())]


def test_the_ranges_are_found():
    assert len(CHECKED) >= 20 and {role for role, *_ in CHECKED} >= {"ecr", "task", "load_balancer"}


@pytest.mark.parametrize(("role", "name", "low", "high"), CHECKED)
def test_each_range_validate_checks_is_the_one_argument_specs_states(role, name, low, high):
    description = role_docs._description(role_docs.specs(ROOT / "roles" / role)[name])
    assert f"{low}-{high}" in description, description
