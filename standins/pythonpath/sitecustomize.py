"""One botocore data loader per process, for the demo's and the tests'
Ansible runs (on PYTHONPATH through standins.common.mitogen_strategy), and
what every session and client would otherwise make again from it.

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
(botocore never changes what its loader returns; it caches it).

Two more things each module's session and client made from nothing, a
third of the interpreter's CPU in a teardown after the loader was shared
(py-spy): a session registers botocore's builtin event handlers one by
one (each name through the aliaser), and a client class gets one method
per operation of its service (ec2: 600).  Here a new session gets a copy
of the first session's builtin handlers, as each client gets a copy of
its session's, and a service's methods are made once per service model,
which the shared loader makes once: a session and four clients, 24-31 →
10-13 ms of CPU (bench/bench_strategy.py).
Each session still registers everything else itself (boto3's handlers,
its credentials and region), each client class is still made for its
session (with boto3's additions), and a session given its own event
hooks registers the builtins itself.

It waits for botocore.session to be imported (an import hook), so a process
that never imports botocore pays nothing.  Not for operators: a plain
`ansible-playbook` starts a new Python per task, where one session is all a
process makes.
"""

from __future__ import annotations

import copy
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


def share_per_process(session_module) -> None:
    """What every session and client of this process would make again: the
    data loader, the builtin event handlers, each service's client methods."""
    share_loaders(session_module)
    share_builtin_handlers(session_module)
    share_client_methods()


def share_builtin_handlers(session_module) -> None:
    """Give each new session a copy of the first one's builtin event
    handlers instead of registering them one by one again."""
    Session = session_module.Session
    register = Session._register_builtin_handlers
    if getattr(register, "shared_per_process", False):
        return
    from botocore.hooks import HierarchicalEmitter

    first: list = []

    def _register_builtin_handlers(self, events):
        emitter = getattr(self, "_original_handler", None)
        fresh = (type(emitter) is HierarchicalEmitter and not emitter._unique_id_handlers
                 and not emitter._handlers._root["children"])
        if not fresh:  # a session given its own event hooks
            return register(self, events)
        if not first:
            register(self, events)
            first.append(copy.copy(emitter))
            return None
        emitter.__dict__.update(copy.copy(first[0]).__dict__)
        emitter._lookup_cache = {}
        return None

    _register_builtin_handlers.shared_per_process = True
    Session._register_builtin_handlers = _register_builtin_handlers


def share_client_methods() -> None:
    """Make the API methods of a service's client class once per service
    model (which the shared loader makes once per process), not once per
    client."""
    import botocore.client

    creator = botocore.client.ClientCreator
    create = creator._create_methods
    if getattr(create, "shared_per_process", False):
        return
    made: dict = {}

    def _create_methods(self, service_model):
        key = (service_model.service_name, id(service_model._service_description))
        if key not in made:
            made[key] = (service_model._service_description, create(self, service_model))
        return dict(made[key][1])

    _create_methods.shared_per_process = True
    creator._create_methods = _create_methods


class _AfterBotocoreSession(importlib.abc.MetaPathFinder):
    """Finds nothing itself; wraps botocore.session's loader to share what it can once it has run."""

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
            share_per_process(module)

        spec.loader.exec_module = exec_module
        return spec


if "botocore.session" in sys.modules:
    share_per_process(sys.modules["botocore.session"])
else:
    sys.meta_path.insert(0, _AfterBotocoreSession())
