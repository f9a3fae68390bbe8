"""How the bad-variable cases (one inventory host each, one site.yml run:
tests/support/ansible.py's run_per_host) tell that a case's host stopped
while its variables were checked, from the results the host_results
callback recorded."""

from __future__ import annotations

from tests.support.ansible import HostRun, changed_tasks, stopped_while_checking, task_names
from tests.support.paths import ROOT


def result(task: str, path: str, status: str = "ok", action: str = "ansible.builtin.assert") -> dict:
    return {"task": task, "path": str(ROOT / path), "action": action, "status": status,
            "msg": "", "errors": [], "exception": ""}


CHECKS = [
    result("Check api_topology names a topology", "playbooks/deploy.yml:27"),
    result("Check every role's variables before any AWS call", "playbooks/deploy.yml:33",
           action="ansible.builtin.include_role"),
    result("ecr : Validating arguments against arg spec 'validate'", "playbooks/deploy.yml:17",
           action="ansible.builtin.validate_argument_spec"),
]


def test_a_host_that_failed_a_check_stopped_while_checking():
    host = HostRun(CHECKS + [result("ecr : Check ecr_keep_images", "roles/ecr/tasks/validate.yml:2", "failed")])
    assert stopped_while_checking(host)
    assert "TASK [ecr : Check ecr_keep_images] failed" in host.text


def test_a_host_that_failed_nothing_did_not_stop():
    assert not stopped_while_checking(HostRun(CHECKS))


def test_a_host_that_went_past_the_checks_did_not_stop_while_checking():
    went_on = CHECKS + [result("Create the image repository", "roles/ecr/tasks/create.yml:2"),
                        result("Build the image", "roles/image/tasks/build.yml:9", "failed")]
    assert not stopped_while_checking(HostRun(went_on))
    # deploy.yml's own tasks after the checks are not checks either.
    included = CHECKS + [result("Put the load balancer in front (load_balanced)", "playbooks/deploy.yml:55",
                                "failed", "ansible.builtin.include_role")]
    assert not stopped_while_checking(HostRun(included))


def test_task_names_are_read_whole_from_the_headers():
    """A name holding "]" (the image role's "host[:port]") is read whole,
    by task_names and by changed_tasks."""
    output = ("TASK [image : Check image_registry is a host[:port], not a URL] *****\nok: [localhost]\n"
              "TASK [image : Tag it [again]] *****\nchanged: [localhost]\n")
    assert task_names(output) == ["image : Check image_registry is a host[:port], not a URL",
                                  "image : Tag it [again]"]
    assert changed_tasks(output) == ["image : Tag it [again]"]
