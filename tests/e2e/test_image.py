"""The API's Docker image, built (scripts/image.sh, as `make image`) and run.

Each container is published on 127.0.0.1 only, named `lhta-img-run-*` and
removed afterwards; the image is built once per session (tests/support/image.py).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import model
from model.parameters import default_table_path
from service.settings import PROCESS_ENV
from tests.support.image import ROOT, docker, inspect, run_container, unique
from tests.support.secret_audit import TEST_KEY

pytestmark = pytest.mark.slow

COLUMNS = ["C_No_Treatment", "C_Treatment_A", "C_Treatment_B",
           "E_No_Treatment", "E_Treatment_A", "E_Treatment_B"]
APP_USER = "10001:10001"


def request(url: str, method: str = "GET", key: str | None = None, body: dict | None = None):
    """(status, content type, body text) of one request; errors are answers too."""
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if key is not None:
        headers["key"] = key
    data = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read().decode()


def run_model(url: str, **body):
    return request(url + "/runDARTHmodel", "POST", key=TEST_KEY, body=body)


def parse_results(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


@pytest.fixture(scope="module")
def api(api_image, tmp_path_factory):
    """One container of the image, with the test key in its environment."""
    with run_container(api_image.tag, tmp_path_factory.mktemp("container"),
                       env={"API_KEYS": TEST_KEY}) as container:
        yield container


def test_health_is_open(api):
    status, content_type, body = request(api.url + "/health")
    assert (status, json.loads(body)) == (200, {"status": "ok"})
    assert content_type.startswith("application/json")


def test_no_key_is_401_and_a_wrong_key_403(api):
    status, _, body = request(api.url + "/runDARTHmodel", "POST")
    assert status == 401, body
    status, _, body = request(api.url + "/runDARTHmodel", "POST", key=TEST_KEY + "-wrong")
    assert status == 403, body
    assert TEST_KEY not in body


def test_a_model_run_returns_1000_by_6_csv(api):
    status, content_type, body = run_model(api.url, seed=1)
    assert status == 200, body
    assert content_type.startswith("text/csv")
    rows = parse_results(body)
    assert rows[0] == COLUMNS
    assert len(rows) == 1001 and {len(row) for row in rows[1:]} == {6}
    assert all(float(value) > 0 for value in rows[1])
    # Same seed, same numbers: the container runs the same model as the host.
    expected = model.run(seed=1, updates=[{"parameter": "p_HS1", "distribution": "beta", "v1": 25, "v2": 150},
                                          {"parameter": "p_S1H", "distribution": "beta", "v1": 50, "v2": 70}])
    assert [float(v) for v in rows[1]] == pytest.approx(list(expected.iloc[0]), rel=1e-12)


def test_the_maximum_run_answers_within_the_tasks_memory_limit(api_image, tmp_path,
                                                               record_property):
    """The task definition gives the container 900 MiB: a run of the default
    maximum (100,000 samples) answers in both formats, streamed, and each
    worker's peak RSS leaves room for the other worker doing the same."""
    limit = 900 * 2**20
    with run_container(api_image.tag, tmp_path, env={"API_KEYS": TEST_KEY},
                       args=["--memory", "900m", "--memory-swap", "900m"]) as box:
        for accept in ("text/csv", "application/json"):
            req = urllib.request.Request(
                box.url + "/runDARTHmodel", method="POST",
                data=json.dumps({"seed": 2, "n_samples": 100_000}).encode(),
                headers={"key": TEST_KEY, "Content-Type": "application/json", "Accept": accept})
            with urllib.request.urlopen(req, timeout=120) as response:
                assert response.status == 200
                assert response.headers["Transfer-Encoding"] == "chunked"
                text = response.read().decode()
            if accept == "text/csv":
                assert len(parse_results(text)) == 100_001
            else:
                assert len(json.loads(text)) == 100_000
        state = inspect(box.name)["State"]
        assert state["Running"] and not state["OOMKilled"]
        # VmHWM: the peak resident set of each gunicorn process (master, workers).
        status = docker("exec", box.name, "bash", "-c",
                        "grep -H VmHWM /proc/[0-9]*/status").stdout
        peaks = [int(line.split()[-2]) * 1024 for line in status.splitlines() if "VmHWM" in line]
    record_property("peak_rss_mib", round(max(peaks) / 2**20, 1))
    print(f"peak RSS of the container's processes, MiB: {sorted(p / 2**20 for p in peaks)}")
    assert max(peaks) < limit / 2, peaks


def test_the_image_serves_without_pandas(api):
    """pandas (~40 MB) is left out of the image: the service runs the model on
    NumPy arrays, and the run above proved it; here, that pandas is absent."""
    probe = docker("exec", api.name, "python", "-c", "import pandas", check=False)
    assert probe.returncode == 1 and "No module named 'pandas'" in probe.stderr


def test_the_image_holds_no_demo_code(api):
    """standins/ (the demo's local ECS and load balancer, installed with the
    project for `make demo`) never runs on AWS: the image leaves it out."""
    probe = docker("exec", api.name, "python", "-c", "import standins", check=False)
    assert probe.returncode == 1 and "No module named 'standins'" in probe.stderr


def test_the_image_serves_the_page_with_plotly_js_only(api):
    """The analyst's page works from the image; of plotly it keeps the one
    script the page loads (gzipped, 1.5 MB), not the Python package (~40 MB)."""
    status, content_type, body = request(api.url + "/")
    assert status == 200 and content_type.startswith("text/html") and "page/plotly.min.js" in body
    with urllib.request.urlopen(api.url + "/page/plotly.min.js", timeout=30) as response:
        plain = response.read()
    assert len(plain) > 10**6 and b"plotly.js" in plain[:400]
    packed = urllib.request.Request(api.url + "/page/plotly.min.js",
                                    headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(packed, timeout=30) as response:
        assert response.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(response.read()) == plain
    kept = docker("exec", api.name, "python", "-c",
                  "import importlib.util, pathlib; root = pathlib.Path("
                  "importlib.util.find_spec('plotly').origin).parent; "
                  "print(sorted(str(p.relative_to(root)) for p in root.rglob('*') if p.is_file() "
                  "and '__pycache__' not in p.parts))")
    assert kept.stdout.strip() == str(["__init__.py", "package_data/plotly.min.js.gz"])
    status, _, body = request(api.url + "/parameters", key=TEST_KEY)
    assert status == 200 and json.loads(body)["parameters"], body
    probe = docker("exec", api.name, "python", "-c", "import plotly.graph_objects", check=False)
    assert probe.returncode == 1 and "No module named 'plotly.graph_objects'" in probe.stderr


def test_the_container_runs_as_a_non_root_user(api, api_image):
    uid = docker("exec", api.name, "id", "-u").stdout.strip()
    gid = docker("exec", api.name, "id", "-g").stdout.strip()
    assert (uid, gid) == ("10001", "10001")
    assert inspect(api_image.tag)["Config"]["User"] == APP_USER
    # Every process in the container, gunicorn's master and workers included.
    users = docker("exec", api.name, "sh", "-c", "stat -c %u /proc/[0-9]*/ 2>/dev/null").stdout.split()
    assert users and set(users) == {"10001"}
    # The code is not the app user's to change.
    probe = docker("exec", api.name, "sh", "-c", "touch /opt/venv/lib/x 2>&1; echo $?", check=False)
    assert probe.stdout.strip().endswith("1")


def test_the_image_healthcheck_uses_only_bash_and_reports_healthy(api, api_image, tmp_path):
    config = inspect(api_image.tag)["Config"]
    test = config["Healthcheck"]["Test"]
    assert test[:3] == ["CMD", "bash", "-c"] and "/health" in test[-1]
    assert "curl" not in " ".join(test) and "wget" not in " ".join(test)
    # The probe tells 200 from anything else: on a port nobody listens on,
    # and against a service that answers 404, it fails.
    assert docker("exec", api.name, *test[1:]).returncode == 0
    refused = docker("exec", "-e", "PORT=1", api.name, *test[1:], check=False)
    assert refused.returncode != 0
    not_found = docker("exec", api.name, *test[1:-1], test[-1].replace("/health", "/nothing"),
                       check=False)
    assert not_found.returncode != 0
    assert config["ExposedPorts"] == {"8000/tcp": {}}
    assert config["Entrypoint"] == ["python", "-m", "service", "--host", "0.0.0.0"]
    assert {f"{name}={value}" for name, value in PROCESS_ENV.items()} <= set(config["Env"])
    # The image's own probe (every second here, to keep the test short).
    with run_container(api_image.tag, tmp_path, env={"API_KEYS": TEST_KEY},
                       args=["--health-interval=1s"]) as container:
        for _ in range(100):
            health = inspect(container.name)["State"]["Health"]
            if health["Status"] == "healthy":
                break
            time.sleep(0.1)
        assert health["Status"] == "healthy", health
        assert health["Log"][-1]["ExitCode"] == 0


def test_keys_from_a_mounted_file_and_data_from_a_mounted_folder(api_image, tmp_path):
    """The documented production way: key file and the client's own tables
    mounted read-only, on a read-only root file system with no capabilities."""
    secrets_dir, data_dir = tmp_path / "secrets", tmp_path / "data"
    secrets_dir.mkdir()
    data_dir.mkdir()
    key_file = secrets_dir / "api_keys"
    key_file.write_text(f"# keys of the test session\n{TEST_KEY}\n")
    key_file.chmod(0o644)
    # The client's table: the shipped one with a dearer healthy state.
    lines = Path(default_table_path()).read_text(encoding="utf-8-sig").splitlines()
    lines = [("c_H,gamma,400,20,T" if line.startswith("c_H,") else line) for line in lines]
    (data_dir / "client_table.csv").write_text("\n".join(lines) + "\n")
    for path in (data_dir, data_dir / "client_table.csv"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    args = ["--read-only", "--cap-drop=ALL", "--security-opt=no-new-privileges",
            "-v", f"{key_file}:/run/secrets/api_keys:ro", "-v", f"{data_dir}:/data:ro"]
    env = {"API_KEY_FILE": "/run/secrets/api_keys", "DATA_DIR": "/data"}
    with run_container(api_image.tag, tmp_path, env=env, args=args) as container:
        status, _, client = run_model(container.url, seed=1, param_updates=[],
                                      path_to_psa_inputs="client_table.csv")
        assert status == 200, client
        # The baked-in table is not in the mounted folder: DATA_DIR was used.
        status, _, body = run_model(container.url, seed=1, param_updates=[],
                                    path_to_psa_inputs="parameter_distributions.csv")
        assert 400 <= status < 500, body
    with run_container(api_image.tag, tmp_path, env={"API_KEYS": TEST_KEY}) as container:
        status, _, baked = run_model(container.url, seed=1, param_updates=[])
        assert status == 200, baked
    # Dearer healthy years, dearer strategies; the effects are untouched.
    client_row, baked_row = parse_results(client)[1], parse_results(baked)[1]
    assert float(client_row[0]) > float(baked_row[0])
    assert client_row[3:] == baked_row[3:]


def test_without_a_key_the_container_refuses_to_start_in_one_line(api_image):
    proc = docker("run", "--rm", "--name", unique("nokey"), api_image.tag, check=False, timeout=60)
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    assert "no API key configured" in output
    assert "Traceback" not in output


def test_a_bad_worker_count_stops_the_container_in_one_line(api_image):
    """gunicorn reads WEB_CONCURRENCY when imported: the entry point checks
    it first (issue 15, item 7)."""
    proc = docker("run", "--rm", "--name", unique("badworkers"), "-e", "API_KEYS=" + TEST_KEY,
                  "-e", "WEB_CONCURRENCY=abc", api_image.tag, check=False, timeout=60)
    assert proc.returncode == 2
    assert proc.stdout + proc.stderr == (
        "living-hta service: cannot start: WEB_CONCURRENCY must be a whole number, got 'abc'\n")


def test_no_key_or_credential_is_in_the_image(api_image, tmp_path):
    """The build ran with the test key as API_KEYS, AWS credentials in its
    environment and a key file in build/: none of them, nor any key setting,
    may be in the image's history, configuration or layers."""
    history = docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", api_image.tag).stdout
    config = docker("image", "inspect", api_image.tag).stdout
    for decoy in api_image.decoys:
        assert decoy not in history and decoy not in config
    assert "API_KEYS" not in history and "API_KEY_FILE" not in history
    env_names = {item.split("=", 1)[0] for item in inspect(api_image.tag)["Config"]["Env"]}
    assert not {name for name in env_names
                if any(word in name for word in ("KEY", "SECRET", "TOKEN", "PASSWORD", "AWS"))}
    # The layers themselves: every file the image holds.
    archive = tmp_path / "image.tar"
    docker("save", "-o", str(archive), api_image.tag, timeout=300)
    data = archive.read_bytes()
    assert len(data) > 50_000_000  # the whole image, not an empty save
    found = [i for i, decoy in enumerate(api_image.decoys) if decoy.encode() in data]
    assert found == [], f"decoy secrets number {found} are in the image's layers"
    assert b"lhta-img-decoy" not in data


def test_image_script_untags_older_builds_of_uncommitted_work(api_image):
    """`make image` on a dirty tree tags <sha>-dirty; the previous dirty tags
    are dropped, commit tags kept (the build itself is all cache here)."""
    name = unique("prune")
    env = {**os.environ, "IMAGE_NAME": name}

    def build(tag: str) -> None:
        done = subprocess.run([str(ROOT / "scripts/image.sh")], env={**env, "IMAGE_TAG": tag},
                              cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        assert done.stdout.strip() == f"{name}:{tag}"

    def tags() -> set[str]:
        listed = docker("image", "ls", "--format", "{{.Tag}}", name).stdout.split()
        return set(listed)

    try:
        build("aaaaaaa")
        build("bbbbbbb-dirty")
        build("ccccccc-dirty")
        assert tags() == {"aaaaaaa", "ccccccc-dirty", "latest"}
    finally:
        for ref in [f"{name}:{t}" for t in tags()] + [f"{name}-build:cache"]:
            docker("rmi", ref, check=False)


def docker_whose_prune_says(folder: Path, message: str) -> dict[str, str]:
    """An environment whose `docker` is the real one, except that `docker
    image prune` fails with this message, as the daemon answers."""
    real = shutil.which("docker")
    wrapper = folder / "docker"
    wrapper.write_text("#!/bin/sh\n"
                       f'if [ "$1 $2" = "image prune" ]; then echo "Error response from daemon: {message}" >&2; exit 1; fi\n'
                       f'exec {real} "$@"\n')
    wrapper.chmod(0o755)
    return {**os.environ, "PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}


def test_image_script_stands_when_another_prune_is_running(api_image, tmp_path):
    """Two builds at once (two test workers, two terminals): the daemon
    refuses the second prune, which the first is doing anyway; the build
    stands.  Any other prune error still fails the script."""
    busy = docker_whose_prune_says(tmp_path, "a prune operation is already running")
    done = subprocess.run([str(ROOT / "scripts/image.sh")], env=busy, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == api_image.tag

    broken = docker_whose_prune_says(tmp_path, "permission denied")
    failed = subprocess.run([str(ROOT / "scripts/image.sh")], env=broken, cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    assert failed.returncode == 1 and "permission denied" in failed.stderr, failed.stderr[-3000:]
