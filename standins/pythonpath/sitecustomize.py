"""One botocore data loader per process, for the demo's and the tests'
Ansible runs (on PYTHONPATH through standins.common.mitogen_strategy).

Under Mitogen every module of a playbook run executes in one long-lived
interpreter, and each amazon.aws module makes a new boto3 session for its
client.  Every botocore session makes its own data loader, whose cache
lives and dies with it, so each client parses its service's JSON model,
endpoints.json, partitions.json and the retry and defaults files again:
1,676 JSON documents in a test of six playbook runs here
(tests/deploy/test_roles_aws_stack.py -k new_execution_role), whose
modules' interpreters took 44 s of CPU; 16 s with this.  The files do
not change while a process lives: sessions here share one loader per
search path, as all clients of one session always share theirs
(botocore never changes what its loader returns; it caches it).  Nothing
else differs: the modules make the same calls with the same models.

It waits for botocore.session to be imported (an import hook), so a process
that never imports botocore pays nothing.  Not for operators: a plain
`ansible-playbook` starts a new Python per task, where one session is all a
process makes.
"""

from __future__ import annotations

import functools
import importlib.abc
import sys


def share_loaders(session_module) -> None:
    """Make botocore.session's sessions share one loader per search path."""
    create = session_module.create_loader
    if not getattr(create, "shared_per_process", False):
        shared = functools.lru_cache(maxsize=None)(create)
        shared.shared_per_process = True
        session_module.create_loader = shared


class _AfterBotocoreSession(importlib.abc.MetaPathFinder):
    """Finds nothing itself; wraps botocore.session's loader to share loaders once it has run."""

    def find_spec(self, name, path, target=None):
        if name != "botocore.session":
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        run_module = spec.loader.exec_module

        def exec_module(module):
            run_module(module)
            share_loaders(module)

        spec.loader.exec_module = exec_module
        return spec


if "botocore.session" in sys.modules:
    share_loaders(sys.modules["botocore.session"])
else:
    sys.meta_path.insert(0, _AfterBotocoreSession())
