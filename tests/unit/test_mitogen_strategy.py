"""The tests' and the demo's Ansible strategy (standins/strategy/mitogen_linear.py):
Mitogen's, with the installed collections listed once per playbook run."""

from __future__ import annotations

import importlib.util
from types import SimpleNamespace

import ansible.collections.list

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
