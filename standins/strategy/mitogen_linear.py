"""Mitogen's mitogen_linear strategy, listing the installed collections once
per playbook run instead of once per task.

Before each task whose module comes from a collection (every amazon.aws
module), ansible_mitogen's planner lists every installed collection
(`ansible.collections.list.list_collection_dirs`: the `ansible` package's
92 of them, each one's metadata read) to give the module's interpreter
their paths.  It runs in the worker Ansible forks for the task, so nothing it
learns outlives the task: 0.14 s of CPU a task here, a third of a small
stack's deploy.  The collections do not change during a run: this lists them
once, in the controller before the first worker forks, and every worker
inherits the list.

Each worker also compiled every Jinja template it met from nothing:
ansible-core keeps no compiled template, so a task's arguments, its
`when` and every variable they use were parsed and turned into Python
again in each worker (a quarter of the workers' CPU: cProfile of every
worker of a deploy, re-deploy and teardown here, 9.3 of 35 s).
Their compiled code is kept on disk (`TEMPLATE_CACHE`, under the
checkout's .cache/), keyed by everything the compilation reads: the
source, the environment's settings, the versions of Python, Jinja and
ansible-core; every run after the first loads it instead
(`cache_compiled_templates`).

Mitogen's own process compiled every module and module_utils file it
scanned for imports, in each run anew: about half its CPU (acct(2), a
re-deploy here: that process 2.2 s of the run's 17 s, 1.0 s with the cache).
Their code objects are kept on disk too (`CODE_CACHE`, `cached_compile`).

Otherwise this is mitogen_linear itself
(ansible_mitogen/plugins/strategy/mitogen_linear.py).
"""

from __future__ import annotations

import hashlib
import marshal
import os
import sys
import tempfile
import threading
from pathlib import Path

import ansible
import ansible.collections.list
import jinja2
import jinja2.nodes
from ansible._internal._templating import _jinja_bits
import ansible_mitogen.loaders
import ansible_mitogen.module_finder
import ansible_mitogen.planner
import ansible_mitogen.strategy
import mitogen.master

_collection_dirs: list[str] | None = None


def collection_dirs() -> list[str]:
    """The installed collections' paths, listed on the first call."""
    global _collection_dirs
    if _collection_dirs is None:
        _collection_dirs = [path.decode("utf-8") for path in ansible.collections.list.list_collection_dirs()]
    return _collection_dirs


def _load_collections(invocation) -> None:
    """ansible_mitogen.planner._load_collections, from the list made once."""
    invocation._extra_sys_paths.update(collection_dirs())


ansible_mitogen.planner._load_collections = _load_collections

# The checkout's (or clone's) own, beside what `make` keeps there.
TEMPLATE_CACHE = Path(__file__).resolve().parents[2] / ".cache" / "ansible-templates"
_expression = threading.local()


def kept(path: Path, make):
    """The code object marshalled at `path`, else `make()`'s, written there
    whole (a temporary file renamed) for the next process."""
    try:
        return marshal.loads(path.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        pass
    code = make()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".", delete=False) as part:
            part.write(marshal.dumps(code))
        os.replace(part.name, path)
    except OSError:
        pass  # a cache that cannot be written is only slower
    return code


def cache_compiled_templates(folder: Path = TEMPLATE_CACHE) -> None:
    """Keep each template's compiled code in `folder`, one file per key.

    Jinja compiles a template (`Environment.compile`: parse, generate
    Python, compile it) from its source and the environment's settings
    alone; Ansible's lexer also reads whether backslashes are escaped, and
    its code generator whether embedded templates are allowed.
    An expression (a `when`) comes to `compile` as a parsed tree: its key
    is the expression's text, which `compile_expression` notes first."""
    environment = _jinja_bits.AnsibleEnvironment
    if getattr(environment.compile, "cached_on_disk", False):
        return
    compile_, compile_expression = environment.compile, environment.compile_expression
    versions = (sys.version, jinja2.__version__, ansible.__version__)

    def key_of(env, source, name, filename, defer_init) -> str | None:
        if isinstance(source, str):
            text = ("template", str(source))
        elif isinstance(source, jinja2.nodes.Template) and getattr(_expression, "source", None) is not None:
            text = ("expression", *_expression.source)
        else:
            return None
        context = _jinja_bits._TemplateCompileContext.current(optional=True)
        settings = (type(env).__qualname__, *(getattr(env, field) for field in _jinja_bits._TEMPLATE_OVERRIDE_FIELD_NAMES),
                    env.trim_blocks, env.lstrip_blocks, env.keep_trailing_newline, env.newline_sequence,
                    env.optimized, env.is_async, env.autoescape, sorted(env.extensions),
                    bool(context and context.escape_backslashes), _jinja_bits._TemplateConfig.allow_embedded_templates)
        return hashlib.sha256(repr((versions, settings, text, name, filename, defer_init)).encode()).hexdigest()

    def compile(self, source, name=None, filename=None, raw=False, defer_init=False):
        key = None if raw or self._debuggable_template_source else key_of(self, source, name, filename, defer_init)
        if key is None:
            return compile_(self, source, name, filename, raw, defer_init)
        return kept(folder / key, lambda: compile_(self, source, name, filename, raw, defer_init))

    def compile_expression_noted(self, source, *args, **kwargs):
        outer = getattr(_expression, "source", None)
        _expression.source = (str(source), repr(args), repr(sorted(kwargs.items())))
        try:
            return compile_expression(self, source, *args, **kwargs)
        finally:
            _expression.source = outer

    compile.cached_on_disk = True
    environment.compile = compile
    environment.compile_expression = compile_expression_noted


CODE_CACHE = TEMPLATE_CACHE.parent / "python-code"


def cached_compile(source, filename, mode, flags=0, dont_inherit=False, optimize=-1, folder: Path = CODE_CACHE):
    """`compile`, its code objects kept in `folder`, one file per key: the
    source and every argument, and the Python that compiles.

    Mitogen compiles each Python file it looks into only to read its
    imports: to find the module_utils a module uses
    (ansible_mitogen.module_finder.scan) and the modules to send with one
    the modules' interpreter asks for (mitogen.master.ModuleFinder), in
    every playbook run anew."""
    text = source.encode() if isinstance(source, str) else bytes(source)
    key = hashlib.sha256(repr((sys.version, str(filename), mode, flags, bool(dont_inherit), optimize)).encode()
                         + b"\0" + text).hexdigest()
    return kept(folder / key, lambda: compile(source, filename, mode, flags, dont_inherit, optimize))


# Their module-level name `compile` (the builtin until now) is this one.
ansible_mitogen.module_finder.compile = cached_compile
mitogen.master.compile = cached_compile

Base = ansible_mitogen.loaders.strategy_loader.get("linear", class_only=True)


class StrategyModule(ansible_mitogen.strategy.StrategyMixin, Base):
    def run(self, iterator, play_context):
        collection_dirs()  # in the controller: the workers forked from here inherit it
        cache_compiled_templates()
        return super().run(iterator, play_context)
