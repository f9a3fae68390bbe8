"""Settings from the environment, and refusing to start without a key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from model.parameters import default_table_path
from service.settings import (
    DEFAULT_MAX_BODY_BYTES,
    PROCESS_ENV,
    VARIABLES,
    ServerSettings,
    Settings,
    SettingsError,
    settings_markdown,
    time_budget,
)
from service.keys import KeyStore
from tests.support import secret_audit
from tests.support.secret_audit import TEST_KEY
from tests.support.net import free_port
from tests.support.paths import ROOT
from tests.support.service import Server, service_env, stop, wait_for_health


def test_keys_from_api_keys_and_key_file(tmp_path):
    key_file = tmp_path / "keys"
    key_file.write_text("# rotated 2024-01\nfile-key-1\n\n  file-key-2  \nshared\n")
    settings = Settings.from_env({"API_KEYS": " env-1, ,shared,env-2 ", "API_KEY_FILE": str(key_file)})
    assert [k.secret for k in settings.api_keys] == ["env-1", "shared", "env-2"]
    store = KeyStore(settings.api_keys, settings.api_key_file)
    assert store.secrets() == ["env-1", "shared", "env-2", "file-key-1", "file-key-2"]
    assert {k.name for k in store.keys} == {"default"}
    assert settings.data_dir == Path(default_table_path()).parent
    assert settings.max_body_bytes == DEFAULT_MAX_BODY_BYTES


def test_keys_never_appear_in_a_repr():
    settings = Settings.from_env({"API_KEYS": "very-secret-key"})
    assert "very-secret-key" not in repr(settings) and "very-secret-key" not in str(settings)


@pytest.mark.parametrize("environ, fragment", [
    ({}, "no API key configured"),
    ({"API_KEYS": " , ,"}, "no API key configured"),
    ({"API_KEY_FILE": "/nonexistent/keys"}, "cannot be read"),
    ({"API_KEYS": "k", "DATA_DIR": "/nonexistent/data"}, "is not a directory"),
    ({"API_KEYS": "k", "MAX_BODY_BYTES": "1MB"}, "whole number of bytes"),
    ({"API_KEYS": "k", "MAX_BODY_BYTES": "0"}, ">= 1"),
    ({"API_KEYS": "k", "TRUSTED_PROXIES": "127.0.0.1, the-front"}, "'the-front' is neither"),
    ({"API_KEYS": "k", "TRUSTED_PROXY_HOPS": "1"}, "set TRUSTED_PROXIES"),
])
def test_bad_environments_are_refused_with_a_clear_message(environ, fragment):
    with pytest.raises(SettingsError, match=fragment):
        Settings.from_env(environ)


def test_empty_key_file_is_no_key(tmp_path):
    (tmp_path / "keys").write_text("# nothing yet\n\n")
    with pytest.raises(SettingsError, match="no API key"):
        Settings.from_env({"API_KEY_FILE": str(tmp_path / "keys")})


def test_other_settings(tmp_path):
    settings = Settings.from_env({"API_KEYS": "k", "DATA_DIR": str(tmp_path), "MAX_BODY_BYTES": "2048",
                                  "TRUSTED_PROXIES": " 127.0.0.1, 172.17.0.0/16 ,::1"})
    assert settings.data_dir == tmp_path and settings.max_body_bytes == 2048
    assert [str(n) for n in settings.trusted_proxies] == ["127.0.0.1/32", "172.17.0.0/16", "::1/128"]
    assert Settings.from_env({"API_KEYS": "k"}).trusted_proxies == ()


@pytest.mark.parametrize("command", [
    [sys.executable, "-c", "import service.wsgi"],
    [sys.executable, "-m", "service", "--port", "1"],
    [sys.executable, "-m", "gunicorn", "--config", "python:service.gunicorn_conf",
     "--bind", "127.0.0.1:1", "service.wsgi:application"],
])
def test_the_service_does_not_start_without_a_key(command):
    done = subprocess.run(command, cwd=ROOT, env=service_env(), capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    message = [line for line in done.stderr.splitlines() if "cannot start" in line]
    assert message == ["living-hta service: cannot start: no API key configured: set API_KEYS "
                       "(comma-separated) or API_KEY_FILE (one key per line)"]
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("arguments, env, message", [
    (["--port", "99999"], {}, "PORT must be a port number from 1 to 65535, got 99999"),
    (["--port", "http"], {}, "PORT must be a whole number, got 'http'"),
    ([], {"PORT": "70000"}, "PORT must be a port number from 1 to 65535, got 70000"),
    ([], {"WEB_CONCURRENCY": "abc"}, "WEB_CONCURRENCY must be a whole number, got 'abc'"),
    (["--workers", "0"], {}, "WEB_CONCURRENCY must be >= 1, got 0"),
])
def test_operator_mistakes_are_one_line_not_a_traceback(arguments, env, message):
    """`python -m service` is the image's entry point too: gunicorn reads
    WEB_CONCURRENCY when imported, so it is checked before (issue 15, item 7)."""
    done = subprocess.run([sys.executable, "-m", "service", *arguments], cwd=ROOT,
                          env=service_env(API_KEYS=TEST_KEY, **env), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr == f"living-hta service: cannot start: {message}\n"


def test_gunicorns_settings_come_from_the_same_source():
    assert ServerSettings.from_env({}) == ServerSettings()
    server = ServerSettings.from_env({"PORT": "9001", "WEB_CONCURRENCY": "3",
                                      "GUNICORN_TIMEOUT": "12", "GUNICORN_LOG_LEVEL": "debug"})
    assert (server.bind, server.workers, server.timeout, server.log_level) == (
        "0.0.0.0:9001", 3, 12, "debug")
    assert ServerSettings.from_env({"GUNICORN_BIND": "127.0.0.1:1", "PORT": "2"}).bind == "127.0.0.1:1"
    for name, text in (("WEB_CONCURRENCY", "two"), ("GUNICORN_TIMEOUT", "0")):
        with pytest.raises(SettingsError, match=name):
            ServerSettings.from_env({name: text})
        with pytest.raises(SettingsError, match=name):  # the app's settings refuse it too
            Settings.from_env({"API_KEYS": "k", name: text})
    import service.gunicorn_conf as conf

    assert (conf.timeout, conf.workers) == (ServerSettings.from_env().timeout,
                                            ServerSettings.from_env().workers)


def test_python_m_service_starts_gunicorn_with_its_process_environment(tmp_path):
    """NumPy reads the thread counts when imported: `python -m service` puts
    them in gunicorn's environment from the start, as the Dockerfile does."""
    port = free_port()
    env = {k: v for k, v in service_env(API_KEYS=TEST_KEY).items() if k not in PROCESS_ENV}
    out, err = tmp_path / "service.out", tmp_path / "service.err"
    keys = secret_audit.record_server([out, err], {"API_KEYS": TEST_KEY})
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "service", "--port", str(port), "--workers", "1"],
            cwd=ROOT, env=env, stdout=stdout, stderr=stderr, start_new_session=True)
    server = Server(f"http://127.0.0.1:{port}", process, out, err)
    try:
        wait_for_health(server, 30)
        expected = {f"{name}={value}".encode() for name, value in PROCESS_ENV.items()}
        for pid in [process.pid, *server.worker_pids()]:
            assert expected <= set(Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"))
    finally:
        stop(process)
        secret_audit.audit([out, err], keys)


def test_the_settings_document_is_generated_from_the_code():
    """docs/settings.md is what `python -m service --settings-doc` prints:
    a variable added, renamed or given a new default in the code without the
    document regenerated fails here."""
    done = subprocess.run([sys.executable, "-m", "service", "--settings-doc"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout == settings_markdown()
    assert (ROOT / "docs" / "settings.md").read_text(encoding="utf-8") == done.stdout, (
        "docs/settings.md is stale: run `python -m service --settings-doc > docs/settings.md`")


def test_every_variable_the_service_reads_is_declared_once():
    """The names the code reads from the environment are exactly VARIABLES'
    (PROCESS_ENV aside, and TRUSTED_PROXY_HOPS, read only to be refused)."""
    import re

    read = set()
    for path in (ROOT / "service").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        read |= set(re.findall(r"""env(?:iron)?(?:\.get\(|\[)\s*["']([A-Z][A-Z0-9_]+)["']""", text))
        read |= set(re.findall(r"""_positive\(env, ["']([A-Z][A-Z0-9_]+)["']""", text))
        read |= set(re.findall(r"""\(\s*["']([A-Z][A-Z0-9_]+)["'],\s*["'][a-z_]+["']""", text))
    declared = [v.name for v in VARIABLES]
    assert len(declared) == len(set(declared))
    assert read - set(PROCESS_ENV) - {"TRUSTED_PROXY_HOPS"} == set(declared)


def test_the_declared_defaults_are_the_defaults():
    settings, server = Settings.from_env({"API_KEYS": "k"}), ServerSettings.from_env({})
    default = {v.name: v.default for v in VARIABLES}
    assert default["MAX_BODY_BYTES"] == str(settings.max_body_bytes)
    assert default["MAX_SAMPLES"] == str(settings.max_samples)
    assert default["AUTH_FAILURE_LIMIT"] == str(settings.auth_failure_limit)
    assert default["AUTH_FAILURE_WINDOW"] == f"{settings.auth_failure_window:g}"
    assert default["REQUEST_TIMEOUT"].endswith(f"({settings.request_timeout:g})")
    assert settings.request_timeout == time_budget(server.timeout) < server.timeout
    assert default["GUNICORN_TIMEOUT"] == str(server.timeout)
    assert default["WEB_CONCURRENCY"] == str(server.workers)
    assert default["PORT"] == str(server.port)
    assert default["GUNICORN_GRACEFUL_TIMEOUT"] == str(server.graceful_timeout)
    assert Settings.from_env({"API_KEYS": "k", "GUNICORN_TIMEOUT": "50"}).request_timeout == 40
