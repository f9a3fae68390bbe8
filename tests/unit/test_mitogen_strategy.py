"""The tests' and the demo's Ansible strategy (standins/strategy/mitogen_linear.py):
Mitogen's, with the installed collections listed once per playbook run and
compiled templates kept on disk; and its modules' interpreter
(standins/pythonpath/sitecustomize.py), whose sessions share a loader, the
builtin event handlers and each service's client methods."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from types import SimpleNamespace

import ansible.collections.list
import pytest

from standins.common import ROOT, mitogen_strategy

STRATEGY = ROOT / "standins" / "strategy" / "mitogen_linear.py"


def load_strategy():
    spec = importlib.util.spec_from_file_location("lhta_test_mitogen_linear", STRATEGY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_runs_use_this_strategy():
    env = mitogen_strategy()
    assert (env["ANSIBLE_STRATEGY_PLUGINS"], env["ANSIBLE_STRATEGY"]) == (str(STRATEGY.parent), "mitogen_linear")


def test_the_collections_are_listed_once_for_every_task(monkeypatch):
    """Mitogen's planner lists every installed collection before each task of
    a collection's module; the strategy's planner lists them once."""
    import ansible_mitogen.planner

    # Loading the strategy replaces the planner's function: put it back afterwards.
    monkeypatch.setattr(ansible_mitogen.planner, "_load_collections", ansible_mitogen.planner._load_collections)
    strategy = load_strategy()
    listings = []

    def list_collection_dirs():
        listings.append(1)
        return iter([b"/c/ansible_collections/amazon/aws", b"/c/ansible_collections/community/aws"])

    monkeypatch.setattr(ansible.collections.list, "list_collection_dirs", list_collection_dirs)
    monkeypatch.setattr(strategy, "_collection_dirs", None)
    tasks = [SimpleNamespace(_extra_sys_paths=set()) for _ in range(3)]
    strategy.collection_dirs()  # what StrategyModule.run does in the controller, before the workers fork
    for task in tasks:
        ansible_mitogen.planner._load_collections(task)
    assert len(listings) == 1
    assert all(task._extra_sys_paths == {"/c/ansible_collections/amazon/aws", "/c/ansible_collections/community/aws"}
               for task in tasks)
    assert issubclass(strategy.StrategyModule, strategy.Base) and strategy.Base.__module__.endswith(".linear")


SESSIONS = """
import json
import boto3
import botocore.loaders
parsed = []
loads = json.loads
botocore.loaders.json.loads = lambda *a, **k: parsed.append(1) or loads(*a, **k)
loaders, regions = set(), set()
for _ in range(3):  # three modules' sessions, as amazon.aws makes one per module
    session = boto3.Session(region_name="eu-west-2", aws_access_key_id="x", aws_secret_access_key="y")
    client = session.client("ecs")
    loaders.add(id(session._session.get_component("data_loader")))
    regions.add(client.meta.region_name)
    assert client.meta.service_model.operation_model("CreateService").name == "CreateService"
print(json.dumps({"loaders": len(loaders), "parsed": len(parsed), "regions": sorted(regions)}))
"""


def _sessions(env: dict) -> dict:
    proc = subprocess.run([sys.executable, "-c", SESSIONS], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=120, check=True)
    return json.loads(proc.stdout)


def test_the_modules_interpreter_shares_one_botocore_loader_among_its_sessions():
    """Under Mitogen every module runs in one interpreter and each makes its
    own boto3 session: with the runs' PYTHONPATH, the sessions share one
    data loader and the JSON models are parsed once, not once a session."""
    shared = _sessions({"PYTHONPATH": mitogen_strategy()["PYTHONPATH"]})
    plain = _sessions({})
    assert shared["loaders"] == 1 and plain["loaders"] == 3
    assert shared["regions"] == plain["regions"] == ["eu-west-2"]
    assert 0 < shared["parsed"] and 3 * shared["parsed"] <= plain["parsed"], (shared, plain)


CLIENTS = """
import json
import boto3
found = []
for region in ("eu-west-2", "us-east-1", "eu-west-2"):  # three modules' sessions
    session = boto3.Session(region_name=region, aws_access_key_id="x", aws_secret_access_key="y")
    emitter = session._session._original_handler
    handlers = {event: [getattr(h, "__qualname__", repr(h)) for h in emitter._handlers.prefix_search(event)]
                for event in ("before-parameter-build.ec2.RunInstances", "needs-retry.s3.PutObject",
                              "creating-client-class.s3", "after-call.ecs.DescribeServices")}
    clients = {name: session.client(name, endpoint_url="http://127.0.0.1:9") for name in ("s3", "ecs")}
    found.append({"handlers": handlers, "region": clients["ecs"].meta.region_name,
                  "methods": {name: sorted(m for m in dir(c) if not m.startswith("_")) for name, c in clients.items()},
                  "names": {name: c._PY_TO_OP_NAME for name, c in clients.items()}})
print(json.dumps(found))
"""


def _clients(env: dict) -> list[dict]:
    proc = subprocess.run([sys.executable, "-c", CLIENTS], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=120, check=True)
    return json.loads(proc.stdout)


def test_the_modules_sessions_and_clients_are_those_botocore_makes():
    """With the runs' PYTHONPATH a new session copies the first one's
    builtin event handlers, and a service's client methods are made once:
    each session has the handlers, each client the region, methods and
    operations (boto3's own S3 methods included) that botocore gives it
    without."""
    shared = _clients({"PYTHONPATH": mitogen_strategy()["PYTHONPATH"]})
    plain = _clients({})
    assert shared == plain
    assert [found["region"] for found in shared] == ["eu-west-2", "us-east-1", "eu-west-2"]
    assert all(found["handlers"]["before-parameter-build.ec2.RunInstances"] for found in shared)
    assert "upload_file" in shared[2]["methods"]["s3"] and "describe_services" in shared[2]["methods"]["ecs"]


def test_a_process_that_never_imports_botocore_does_not_import_it():
    proc = subprocess.run([sys.executable, "-c", "import sys; print('botocore' in sys.modules)"],
                          env={**os.environ, "PYTHONPATH": mitogen_strategy()["PYTHONPATH"]},
                          capture_output=True, text=True, timeout=60, check=True)
    assert proc.stdout.strip() == "False"


@pytest.fixture
def template_cache(monkeypatch, tmp_path):
    """The strategy's template cache in `tmp_path`, on AnsibleEnvironment
    for this test only; the calls that reached Jinja's own compilation."""
    from ansible._internal._templating import _jinja_bits

    environment = _jinja_bits.AnsibleEnvironment
    compiled = []
    compile_ = environment.compile

    def counting_compile(self, source, *args, **kwargs):
        compiled.append(str(source) if isinstance(source, str) else type(source).__name__)
        return compile_(self, source, *args, **kwargs)

    monkeypatch.setattr(environment, "compile", counting_compile)
    monkeypatch.setattr(environment, "compile_expression", environment.compile_expression)
    load_strategy().cache_compiled_templates(tmp_path)
    return SimpleNamespace(folder=tmp_path, compiled=compiled)


def _render(variables: dict, template: str, **options):
    from ansible.template import Templar, trust_as_template

    return Templar(variables=variables).template(trust_as_template(template), **options)


def _condition(variables: dict, expression: str) -> bool:
    from ansible.template import Templar, trust_as_template

    return Templar(variables=variables).evaluate_conditional(trust_as_template(expression))


def test_a_template_is_compiled_once_and_loaded_from_the_cache_after(template_cache):
    """What a worker compiled, the next worker (a new process: nothing in
    memory) loads from the cache, and renders the same."""
    assert _render({"x": 2}, "{{ x * 21 }}") == 42
    assert _render({"x": 3}, "{{ x * 21 }}") == 63
    assert _condition({"x": 2}, "x == 2") is True
    assert _condition({"x": 3}, "x == 2") is False
    assert _condition({"x": 2}, "x == 3") is False
    # An expression reaches `compile` parsed; it is keyed by its text.
    assert template_cache.compiled == ["{{ x * 21 }}", "Template", "Template"]
    assert len(list(template_cache.folder.iterdir())) == 3


def test_what_changes_the_compiled_code_is_in_the_key(template_cache):
    """Ansible's lexer escapes backslashes in expressions unless told not
    to, and an override changes the delimiters: each is compiled for its
    own, and renders what it renders without the cache."""
    text = '{{ "a\\\\1" }} <<"b\\\\1">>'
    plain = _render({}, text)
    unescaped = _render({}, text, escape_backslashes=False)
    angled = _render({}, text, overrides={"variable_start_string": "<<", "variable_end_string": ">>"})
    assert (plain, unescaped) == ('a\\\\1 <<"b\\\\1">>', 'a\\1 <<"b\\\\1">>')
    assert angled == '{{ "a\\\\1" }} b\\\\1'
    assert template_cache.compiled == [text] * 3
    assert (_render({}, text), _render({}, text, escape_backslashes=False)) == (plain, unescaped)
    assert len(template_cache.compiled) == 3 and len(list(template_cache.folder.iterdir())) == 3


def test_a_template_that_does_not_compile_fails_as_without_the_cache(template_cache):
    from ansible.errors import AnsibleTemplateError

    with pytest.raises(AnsibleTemplateError, match="unexpected"):
        _render({}, "{{ x + }}")
    assert list(template_cache.folder.iterdir()) == []


@pytest.fixture
def code_cache(monkeypatch, tmp_path):
    """The strategy's cached `compile` on a folder of its own, counting what
    it compiled; Mitogen's modules get their own `compile` back after."""
    import ansible_mitogen.module_finder
    import mitogen.master

    for module in (ansible_mitogen.module_finder, mitogen.master):
        monkeypatch.setattr(module, "compile", compile, raising=False)
    strategy = load_strategy()
    compiled = []

    def counting_compile(source, filename, *args):
        compiled.append(str(filename))
        return compile(source, filename, *args)

    monkeypatch.setattr(strategy, "compile", counting_compile, raising=False)
    return SimpleNamespace(strategy=strategy, folder=tmp_path, compiled=compiled,
                           compile=lambda *args: strategy.cached_compile(*args, folder=tmp_path))


def test_mitogen_compiles_with_the_code_cache(code_cache):
    import ansible_mitogen.module_finder
    import mitogen.master

    assert ansible_mitogen.module_finder.compile is code_cache.strategy.cached_compile
    assert mitogen.master.compile is code_cache.strategy.cached_compile
    assert code_cache.strategy.CODE_CACHE == ROOT / ".cache" / "python-code"


def test_a_file_is_compiled_once_and_its_code_loaded_after(code_cache):
    source = "import os\nfrom json import dumps as d\nX = d(os.sep)\n"
    first = code_cache.compile(source, "m.py", "exec")
    again = code_cache.compile(source.encode(), "m.py", "exec")
    assert first == again == compile(source, "m.py", "exec")
    namespace = {}
    exec(again, namespace)
    assert namespace["X"] == '"/"'
    assert code_cache.compiled == ["m.py"] and len(list(code_cache.folder.iterdir())) == 1
    # Another name, mode or source is compiled for itself.
    assert code_cache.compile(source, "n.py", "exec").co_filename == "n.py"
    assert code_cache.compile("1 + 1", "m.py", "eval") != code_cache.compile("1 + 1", "m.py", "exec")
    assert code_cache.compile(source + "Y = 1\n", "m.py", "exec") != first
    assert code_cache.compiled == ["m.py", "n.py", "m.py", "m.py", "m.py"]
    assert len(list(code_cache.folder.iterdir())) == 5


def test_a_file_that_does_not_compile_fails_as_without_the_cache(code_cache):
    with pytest.raises(SyntaxError, match="m.py") as raised:
        code_cache.compile("def (:\n", "m.py", "exec")
    assert raised.value.lineno == 1 and list(code_cache.folder.iterdir()) == []


def test_the_module_utils_mitogen_finds_are_the_same_from_the_cache(code_cache, monkeypatch):
    """ansible_mitogen.module_finder.scan, as Mitogen's process runs it for
    an amazon.aws module: with the cache, cold and warm, what it finds
    without it."""
    import ansible.executor.module_common
    import ansible_collections.amazon.aws.plugins.modules.ec2_security_group as module
    import ansible_mitogen.module_finder as finder

    arguments = dict(module_name="ansible_module_ec2_security_group", module_path=module.__file__,
                     search_path=(ansible.executor.module_common._MODULE_UTILS_PATH,))
    monkeypatch.setattr(finder, "compile", compile)
    without = finder.scan(**arguments)
    assert any(name.startswith("ansible.module_utils.") for name, _, _ in without)
    monkeypatch.setattr(finder, "compile", code_cache.compile)
    assert finder.scan(**arguments) == without
    cold = len(code_cache.compiled)
    assert cold > 1 and finder.scan(**arguments) == without
    assert len(code_cache.compiled) == cold, "the second scan compiled nothing"
