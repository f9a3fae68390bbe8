"""`make demo-down` stops everything the demo started even when its
teardown playbook fails (it stopped nothing, so the next `make demo` found
the emulator's and the registry's ports taken), and says the failure."""

from __future__ import annotations

import importlib.util
from types import SimpleNamespace

from standins.common import DemoError
from tests.support.paths import ROOT


def load_demo():
    spec = importlib.util.spec_from_file_location("demo_script", ROOT / "scripts" / "demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def running_demo(tmp_path, stopped: list[str]):
    """The demo's settings as `down` uses them, each stop noted in `stopped`."""
    return SimpleNamespace(
        aws_env=lambda: {}, standins_pid=lambda: 4242, folder=tmp_path, log_file=tmp_path / "standins.log",
        shown=str, stop_standins=lambda: stopped.append("stand-ins"),
        agent=lambda: SimpleNamespace(remove_all=lambda: stopped.append("containers")),
        registry=SimpleNamespace(stop=lambda env: stopped.append("registry")),
        stop_moto=lambda: stopped.append("emulator"))


def test_a_failed_teardown_still_stops_everything_and_exits_non_zero(tmp_path, monkeypatch, capsys):
    demo, stopped = load_demo(), []
    monkeypatch.setattr(demo.Settings, "from_env", staticmethod(lambda: running_demo(tmp_path, stopped)))

    def failing_playbook(path, env, *extra):
        raise DemoError(f"ansible-playbook {path} failed (exit 2)")

    monkeypatch.setattr(demo, "playbook", failing_playbook)
    assert demo.main(["down"]) == 1
    assert stopped == ["stand-ins", "containers", "registry", "emulator"]
    out, err = capsys.readouterr()
    assert "the teardown failed (below); stopping everything all the same" in out
    assert "error: ansible-playbook playbooks/teardown.yml failed (exit 2)" in err


def test_a_teardown_that_ends_well_stops_everything_and_exits_zero(tmp_path, monkeypatch, capsys):
    demo, stopped = load_demo(), []
    monkeypatch.setattr(demo.Settings, "from_env", staticmethod(lambda: running_demo(tmp_path, stopped)))
    monkeypatch.setattr(demo, "playbook", lambda path, env, *extra: "localhost : ok=1 failed=0")
    assert demo.main(["down"]) == 0
    assert stopped == ["stand-ins", "containers", "registry", "emulator"]
    assert "nothing tagged with the project is left in the emulator" in capsys.readouterr().out
