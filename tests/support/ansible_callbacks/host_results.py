# Writes each task result, host by host, to the JSON-lines file
# $LHTA_HOST_RESULTS: what tests/support/ansible.py's run_per_host reads
# back when one ansible-playbook run plays one case per inventory host.
# Enabled by tests/support/ansible.py only.
DOCUMENTATION = r"""
name: host_results
type: aggregate
short_description: Record every task result per host for the tests
description:
  - Appends one JSON line per task result to C($LHTA_HOST_RESULTS) - host,
    task name, its file, its action, its status, its message (none when
    the task is no_log) and its error's (as Ansible prints it).
"""

import json
import os

from ansible.plugins.callback import CallbackBase


def _error_text(summary):
    """The messages (and traceback, if any) of a failure's error summary."""
    if summary is None:
        return ""
    if isinstance(summary, str):
        return summary
    parts, event = [], getattr(summary, "event", None)
    while event is not None:
        parts += [event.msg, event.formatted_traceback or ""]
        event = event.chain.event if event.chain else None
    return " ".join(p for p in parts if p)


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "host_results"
    CALLBACK_NEEDS_ENABLED = True

    def _record(self, result, status):
        path = os.environ.get("LHTA_HOST_RESULTS")
        if not path:
            return
        task, found = result._task, result._result
        hidden = bool(task.no_log or found.get("_ansible_no_log"))
        line = {
            "host": result._host.get_name(),
            "task": task.get_name(),
            "path": task.get_path() or "",
            "action": task.action,
            "status": status,
            "msg": "" if hidden else str(found.get("msg", "")),
            "errors": [] if hidden else [str(e) for e in found.get("argument_errors", [])],
            # What Ansible prints of a failure even for a no_log task (an
            # assert's fail_msg, never the values it looked at).
            "exception": _error_text(getattr(result, "exception", None) or found.get("exception")),
        }
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(line) + "\n")

    def v2_runner_on_ok(self, result):
        self._record(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "ignored" if ignore_errors else "failed")

    def v2_runner_on_skipped(self, result):
        self._record(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._record(result, "unreachable")
