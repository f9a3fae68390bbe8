# Tells the AWS proxy in front of the emulator (tests/support/aws_proxy.py)
# which role's task is running, so that it can record the AWS actions each
# role makes.  Enabled by tests/support/ansible.py only.
DOCUMENTATION = r"""
name: proxy_role
type: aggregate
short_description: Tell the tests' AWS proxy which role's task runs
description:
  - On each task start, POSTs the task's role name to
    C($AWS_ENDPOINT_URL/__proxy__/task) (the tests' proxy, on 127.0.0.1).
"""

import json
import os
import urllib.request

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "proxy_role"
    CALLBACK_NEEDS_ENABLED = True

    def _tell(self, role):
        url = os.environ.get("AWS_ENDPOINT_URL", "").rstrip("/")
        if not url.startswith("http://127.0.0.1:"):
            return
        request = urllib.request.Request(url + "/__proxy__/task", data=json.dumps({"role": role}).encode(),
                                         method="POST", headers={"Content-Type": "application/json"})
        try:
            urllib.request.urlopen(request, timeout=5).close()
        except OSError:
            pass

    def v2_playbook_on_task_start(self, task, is_conditional):
        # The ECS agent's part, done by boto3 in the emulator only, is no
        # call the role makes on AWS.
        emulated = "emulate_agent" in (task.get_path() or "")
        self._tell("(emulator)" if emulated else task._role.get_name() if task._role else "")

    def v2_playbook_on_handler_task_start(self, task):
        self.v2_playbook_on_task_start(task, False)
