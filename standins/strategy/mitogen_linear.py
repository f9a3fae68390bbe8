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
inherits the list.  Otherwise this is mitogen_linear itself
(ansible_mitogen/plugins/strategy/mitogen_linear.py).
"""

from __future__ import annotations

import ansible.collections.list
import ansible_mitogen.loaders
import ansible_mitogen.planner
import ansible_mitogen.strategy

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

Base = ansible_mitogen.loaders.strategy_loader.get("linear", class_only=True)


class StrategyModule(ansible_mitogen.strategy.StrategyMixin, Base):
    def run(self, iterator, play_context):
        collection_dirs()  # in the controller: the workers forked from here inherit it
        return super().run(iterator, play_context)
