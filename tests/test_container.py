"""runner container: Dockerfiles, engine errors, Kubernetes manifests (schema-checked with the
kubernetes client), and, where an engine exists, a real CPU image that trains on the host's project."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import free_port

RUNNER = [sys.executable, "-m", "kampai"]


def runner(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*RUNNER, *args], cwd=cwd, capture_output=True, text=True, env={**os.environ, **(env or {})})


def test_dockerfile_cpu_multistage_nonroot_pinned(tmp_path: Path) -> None:
    out = tmp_path / "ctx"
    r = runner("container", "build", "--framework", "darts", "--dockerfile-only", "-t", "kampai-darts:t",
               "-o", str(out), "--pip", "kampai-hello", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert "darts" in info["extras"] and "tune" in info["extras"]
    text = (out / "Dockerfile").read_text()
    assert text.count("\nFROM ") == 2 and "AS builder" in text
    assert "ARG BASE_IMAGE=python:3.11-slim" in text
    assert "USER 10001:10001" in text and "-c /build/constraints.txt" in text
    assert "download.pytorch.org/whl/cpu" in text and '"kampai-hello"' in text
    # slim: no pip cache, no bytecode, slim.py in the same layer as the install
    install = text[text.index("RUN /opt/venv/bin/pip install"):].split("\n\n")[0]
    assert "--no-cache-dir" in install and "--no-compile" in install and "slim.py /opt/venv" in install
    assert (out / "slim.py").read_text().startswith('"""Slim a virtual environment')
    assert "KAMPAI_IN_CONTAINER=1" in text
    assert "torch==2.14.1" in (out / "constraints.txt").read_text()
    assert "runs/" in (out / ".dockerignore").read_text()
    assert (out / "kampai" / "pyproject.toml").exists()


def test_dockerfile_gpu_uses_cuda_base_without_cpu_torch(tmp_path: Path) -> None:
    out = tmp_path / "ctx"
    r = runner("container", "build", "--framework", "transformers", "--gpu", "--dockerfile-only", "-o", str(out),
               cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    text = (out / "Dockerfile").read_text()
    assert "nvidia/cuda:" in text and "-base-" in text and "whl/cpu" not in text
    r = runner("container", "build", "--framework", "darts", "--gpu", "--base-image", "python:3.11-slim",
               "--dockerfile-only", "-o", str(out), cwd=tmp_path)
    assert r.returncode == 2 and "CUDA base image" in r.stderr


def test_sklearn_image_has_no_torch_index(tmp_path: Path) -> None:
    out = tmp_path / "ctx"
    r = runner("container", "build", "--framework", "sklearn", "--dockerfile-only", "-o", str(out), "--json",
               cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    text = (out / "Dockerfile").read_text()
    assert "whl/cpu" not in text and "kampai[tune]" in text
    assert "torch" not in json.loads(r.stdout)["extras"]


def _train_iris(project: Path) -> Path:
    r = runner("train", "--task", "classification", "--data", "sklearn:iris", "--model", "LogisticRegression",
               "--json", cwd=project)
    assert r.returncode == 0, r.stderr
    return project / json.loads(r.stdout)["run_dir"]


@pytest.fixture(scope="module")
def iris_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _train_iris(tmp_path_factory.mktemp("project"))


def test_serving_context_pins_the_run_and_resigns_it(tmp_path: Path, iris_run: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A serving image: runner serve's requirements without Streamlit, the run's package versions
    pinned, the copied run signed with the image's own key (not the host's)."""
    from kampai.plugin import RunError
    from kampai.plugin.runs import verify_manifest

    out = tmp_path / "ctx"
    r = runner("container", "build", str(iris_run), "--serve", "--dockerfile-only", "-o", str(out), "--json",
               cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    text = (out / "Dockerfile").read_text()
    assert '"fastapi' in text and '"uvicorn' in text and "streamlit" not in text and "kampai[serve" not in text
    assert "HEALTHCHECK" in text and "/ready" in text and "Authorization" in text
    assert "--host 0.0.0.0" in text and "KAMPAI_SERVE_TOKEN:?" in text and "KAMPAI_KEY_FILE=" in text
    packages = json.loads((iris_run / "signature.json").read_text())["packages"]
    assert f"scikit-learn=={packages['scikit-learn']}" in (out / "constraints.txt").read_text().splitlines()
    key = (out / "image.key").read_text()
    assert len(key) == 64
    with pytest.raises(RunError, match="another key"):
        verify_manifest(out / "model")  # this machine's key does not open the image's copy
    monkeypatch.setenv("KAMPAI_SECRET_KEY", key)
    verify_manifest(out / "model")  # the image's key does


def test_serving_refuses_a_tampered_run(tmp_path: Path, iris_run: Path) -> None:
    bad = tmp_path / "bad"
    shutil.copytree(iris_run, bad)
    (bad / "model" / "model.joblib").write_bytes(b"not the model")
    r = runner("container", "build", str(bad), "--serve", "--dockerfile-only", "-o", str(tmp_path / "ctx"),
               cwd=tmp_path)
    assert r.returncode == 2 and "Refusing to load it" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "ctx").exists()


def test_slim_removes_tests_bytecode_stubs_and_links_duplicates(tmp_path: Path) -> None:
    from kampai.plugins.container import slim

    site = tmp_path / "venv" / "lib" / "python3.11" / "site-packages"
    for rel in ("pkg/__init__.py", "pkg/tests/test_a.py", "pkg/__pycache__/x.cpython-311.pyc", "pkg/core.pyi",
                "pkg/_x.pxd", "pkg/testing/helpers.py", "pip/__init__.py", "pip-24.0.dist-info/METADATA",
                "pkg-1.0.dist-info/METADATA", "pyarrow/include/arrow/api.h", "pyarrow/_flight.cpython-311.so"):
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_text("x")
    blob = os.urandom(100_000)
    for name in ("libfoo.so", "libfoo.so.1", "libfoo.so.1.2"):
        (site / "pkg" / name).write_bytes(blob)
    (tmp_path / "venv" / "bin").mkdir()
    (tmp_path / "venv" / "bin" / "pip3").write_text("#!")
    removed = slim.slim(tmp_path / "venv")
    left = sorted(p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file())
    assert left == ["pkg-1.0.dist-info/METADATA", "pkg/__init__.py", "pkg/libfoo.so", "pkg/libfoo.so.1",
                    "pkg/libfoo.so.1.2", "pkg/testing/helpers.py"]
    assert (site / "pkg" / "libfoo.so.1").read_bytes() == blob
    assert len({(site / "pkg" / n).stat().st_ino for n in ("libfoo.so", "libfoo.so.1", "libfoo.so.1.2")}) == 1
    assert removed["hard-linked duplicates"] == 200_000 and not (tmp_path / "venv" / "bin" / "pip3").exists()


def test_cuda_without_a_gpu_in_a_container_says_how_to_pass_it(monkeypatch: pytest.MonkeyPatch) -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU is visible here")
    from kampai.plugin import ConfigError, Device

    with pytest.raises(ConfigError, match="torch sees no CUDA device") as plain:
        Device.parse("cuda").torch()
    monkeypatch.setenv("KAMPAI_IN_CONTAINER", "1")
    with pytest.raises(ConfigError) as inside:
        Device.parse("cuda:0").torch()
    message = str(inside.value)
    assert "\n" not in message and message != str(plain.value)
    if torch.version.cuda:  # a CUDA build of torch: the GPU was not passed to the container
        assert "--gpus all" in message and "nvidia.com/gpu=all" in message and "resources.limits" in message
    else:
        assert "CPU build" in message and "--gpu" in message


@pytest.mark.parametrize("args, phrase", [
    (["--framework", "sklern"], "Unknown framework"),
    (["--framework", "hello"], "has no kampai extra"),
    (["--framework", "sklearn", "-t", "Bad Tag"], "Invalid image tag"),
    (["runs/nope", "--serve"], "does not exist"),
    (["--framework", "sklearn", "--engine", "nerdctl"], "Unknown container engine"),
])
def test_build_bad_input(tmp_path: Path, args: list[str], phrase: str) -> None:
    r = runner("container", "build", *args, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert phrase in r.stderr and "Traceback" not in r.stderr


def test_run_bad_input(tmp_path: Path) -> None:
    r = runner("container", "run", cwd=tmp_path)
    assert r.returncode == 2 and "Which runner command?" in r.stderr
    r = runner("container", "run", "--project", str(tmp_path / "nope"), "--", "train", cwd=tmp_path)
    assert r.returncode == 2 and "does not exist" in r.stderr and "Traceback" not in r.stderr


def test_no_engine_is_one_clear_error(tmp_path: Path) -> None:
    env = {"PATH": str(Path(sys.executable).parent), "KAMPAI_CONTAINER_ENGINE": ""}
    r = runner("container", "build", "--framework", "sklearn", cwd=tmp_path, env=env)
    assert r.returncode == 2 and "No container engine found" in r.stderr, r.stderr


def test_run_gpu_flags(tmp_path: Path) -> None:
    for engine, flag in (("podman", "--device nvidia.com/gpu=all"), ("docker", "--gpus all")):
        fake = tmp_path / engine
        fake.write_text("#!/bin/sh\nexit 0\n")
        fake.chmod(0o755)
        r = runner("container", "run", "--engine", str(fake), "--gpu", "--dry-run", "--", "train", "-c", "x.yaml",
                   cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        assert flag in r.stdout and f"{tmp_path}:/work" in r.stdout and r.stdout.strip().endswith("train -c x.yaml")


def _validate(doc: dict) -> None:
    """Deserialize into the kubernetes client's model and back: a wrong type or a missing required
    field raises; an unknown key is dropped and fails the round trip."""
    kubernetes = pytest.importorskip("kubernetes")
    api = kubernetes.client.ApiClient()
    model = {"Job": "V1Job", "Deployment": "V1Deployment", "Service": "V1Service", "Secret": "V1Secret"}[doc["kind"]]
    obj = api._ApiClient__deserialize(doc, model)
    assert api.sanitize_for_serialization(obj) == doc


def _yaml(text: str) -> list[dict]:
    import yaml

    return list(yaml.safe_load_all(text))


def test_k8s_manifests_validate(tmp_path: Path) -> None:
    r = runner("container", "k8s", "train", "--name", "iris", "--image", "reg/kampai:1", "--gpu", "2",
               "--pvc", "work", "--", "-c", "conf/experiments/iris.yaml", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    (job,) = _yaml(r.stdout)
    _validate(job)
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and job["spec"]["backoffLimit"] == 0
    assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "2"
    assert pod["containers"][0]["args"] == ["train", "-c", "conf/experiments/iris.yaml"]

    r = runner("container", "k8s", "tune", "--name", "iris-study", "--image", "reg/kampai:1", "--workers", "4",
               "--storage", "postgresql://u:p@db/optuna", "--", "-c", "conf/experiments/iris.yaml", "-n", "40",
               cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    secret, job = _yaml(r.stdout)
    for doc in (secret, job):
        _validate(doc)
    assert job["spec"]["completionMode"] == "Indexed" and job["spec"]["parallelism"] == 4
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--storage") + 1] == "$(KAMPAI_TUNE_STORAGE)" and "postgresql" not in json.dumps(job)
    r = runner("container", "k8s", "tune", "--name", "s", "--image", "i", "--storage", "sqlite:///x.db", cwd=tmp_path)
    assert r.returncode == 2 and "postgresql" in r.stderr

    out = tmp_path / "serve.yaml"
    r = runner("container", "k8s", "serve", "--name", "iris-api", "--image", "reg/kampai-serve:1", "--replicas", "2",
               "-o", str(out), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    deployment, service = _yaml(out.read_text())
    for doc in (deployment, service):
        _validate(doc)
    c = deployment["spec"]["template"]["spec"]["containers"][0]
    probe = c["readinessProbe"]["exec"]["command"]  # /ready needs the token: an httpGet probe cannot send it
    assert probe[:2] == ["python", "-c"] and "/ready" in probe[2] and "KAMPAI_SERVE_TOKEN" in probe[2]
    assert c["livenessProbe"]["httpGet"]["path"] == "/health"
    assert c["env"][0]["valueFrom"]["secretKeyRef"] == {"name": "iris-api-token", "key": "token"}
    r = runner("container", "k8s", "serve", "--name", "Bad_Name", "--image", "i", cwd=tmp_path)
    assert r.returncode == 2 and "Invalid Kubernetes name" in r.stderr


def test_k8s_multi_node_torchrun_and_kueue_queue(tmp_path: Path) -> None:
    r = runner("container", "k8s", "train", "--name", "iris", "--image", "reg/kampai:1", "--gpu", "4", "--nodes", "2",
               "--queue", "team-a", "--pvc", "work", "--", "-c", "conf/experiments/iris.yaml", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "&id" not in r.stdout and "*id" not in r.stdout  # plain YAML, no anchors
    service, job = _yaml(r.stdout)
    for doc in (service, job):
        _validate(doc)
    assert service["spec"]["clusterIP"] == "None" and service["spec"]["publishNotReadyAddresses"] is True
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed" and spec["completions"] == spec["parallelism"] == 2
    assert spec["suspend"] is True and job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "team-a"
    pod = spec["template"]["spec"]
    assert pod["subdomain"] == service["metadata"]["name"] == "iris"
    assert service["spec"]["selector"].items() <= spec["template"]["metadata"]["labels"].items()
    args = pod["containers"][0]["args"]
    assert args[:3] == ["train", "-c", "conf/experiments/iris.yaml"]
    assert args[args.index("--nnodes") + 1] == "2" and args[args.index("--nproc-per-node") + 1] == "4"
    assert args[args.index("--rdzv-endpoint") + 1] == "iris-0.iris:29500"  # pod 0 through the headless Service
    assert {"name": "dshm", "mountPath": "/dev/shm"} in pod["containers"][0]["volumeMounts"]
    # a CPU pod: one process per pod
    r = runner("container", "k8s", "train", "--name", "cpu", "--image", "i", "--nodes", "3", cwd=tmp_path)
    (_, job) = _yaml(r.stdout)
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--nproc-per-node") + 1] == "1" and "suspend" not in job["spec"]
    # every Job kampai writes can go through a Kueue queue
    r = runner("container", "k8s", "train", "--name", "one", "--image", "i", "--queue", "team-a", cwd=tmp_path)
    (job,) = _yaml(r.stdout)
    _validate(job)
    assert job["spec"]["suspend"] is True and job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "team-a"
    r = runner("container", "k8s", "tune", "--name", "s", "--image", "i", "--storage", "postgresql://u:p@db/o",
               "--queue", "team-a", cwd=tmp_path)
    (_secret, job) = _yaml(r.stdout)
    _validate(job)
    assert job["spec"]["suspend"] is True and job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "team-a"
    r = runner("container", "k8s", "train", "--name", "one", "--image", "i", "--queue", "Team_A", cwd=tmp_path)
    assert r.returncode == 2 and "Invalid Kubernetes name" in r.stderr


ENGINE = os.environ.get("KAMPAI_TEST_ENGINE") or ("podman" if shutil.which("podman") else None)
BASE = os.environ.get("KAMPAI_TEST_BASE_IMAGE")
real_images = [pytest.mark.container, pytest.mark.slow,
               pytest.mark.skipif(not ENGINE or not BASE,
                                  reason="no container engine/base image (eval \"$(.ci/containers.sh)\")")]
MB = 1_000_000
BUDGET = 500 * MB  # a CPU scikit-learn serving image (issue 16)


def _build(*args: str, cwd: Path) -> dict:
    cmd = ["container", "build", *args, "--base-image", str(BASE), "--engine", str(ENGINE), "--network", "host",
           "--json", "-q"]
    if os.environ.get("KAMPAI_TEST_CA_BUNDLE"):
        cmd += ["--ca-bundle", os.environ["KAMPAI_TEST_CA_BUNDLE"]]
    r = runner(*cmd, cwd=cwd)
    assert r.returncode == 0, r.stderr[-3000:]
    info = json.loads(r.stdout)
    print(f"\nimage {info['tag']}: {info['size_bytes'] / MB:.0f} MB, built in {info['build_seconds']} s")
    return info


def _env_of(image: str) -> list[str]:
    out = subprocess.run([str(ENGINE), "image", "inspect", "--format", "{{json .Config.Env}}", image],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def _real(fn):  # the marks every real-image test carries
    for mark in reversed(real_images):
        fn = mark(fn)
    return fn


@_real
def test_real_image_trains_on_the_host_project(tmp_path: Path) -> None:
    """Build a CPU scikit-learn image, run `runner train` inside with the project mounted: the
    run folder appears on the host, owned by the caller."""
    tag = "localhost/kampai-test-sklearn:ci"
    info = _build("--framework", "sklearn", "-t", tag, "-o", str(tmp_path / "ctx"), cwd=tmp_path)
    assert "KAMPAI_IN_CONTAINER=1" in _env_of(tag)
    assert info["size_bytes"] < 600 * MB  # training image: + optuna, matplotlib, psycopg2 (the tune extra)
    project = tmp_path / "project"
    project.mkdir()
    assert info["also_tagged"] == "kampai:latest"  # what `runner container run` takes without --image
    r = runner("container", "run", "--engine", str(ENGINE), "--network", "host", "--project", str(project),
               "--", "train", "--task", "classification", "--data", "sklearn:iris", "--model", "LogisticRegression",
               "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    runs = [p for p in (project / "runs").iterdir() if (p / "meta.json").exists()]
    assert len(runs) == 1 and runs[0].stat().st_uid == os.getuid()
    assert json.loads((runs[0] / "metrics.json").read_text())["accuracy"] > 0.8
    r = runner("container", "run", "--engine", str(ENGINE), "--image", "localhost/kampai-test-nope:0",
               "--project", str(project), "--", "train", cwd=tmp_path)
    assert r.returncode == 2 and "does not exist" in r.stderr and "runner container build" in r.stderr, r.stderr


def _http(url: str, token: str | None = None, body: dict | None = None) -> tuple[int, dict]:
    import urllib.error
    import urllib.request

    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


@_real
def test_real_serving_image_answers_over_http(tmp_path: Path, iris_run: Path) -> None:
    """A serving image of a run trained here: within the size budget; started with a published
    port and a token, it answers /ready and a prediction from the host; no token, no start."""
    import time

    tag = "localhost/kampai-test-iris-serve:ci"
    info = _build(str(iris_run), "--serve", "-t", tag, "-o", str(tmp_path / "ctx"), cwd=tmp_path)
    assert info["size_bytes"] <= BUDGET, f"{info['size_bytes'] / MB:.0f} MB is over the 500 MB budget"
    r = subprocess.run([str(ENGINE), "run", "--rm", "--network", "bridge", tag], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode != 0 and "set KAMPAI_SERVE_TOKEN" in r.stderr, r.stderr
    port, token, name = free_port(), "s3cret-token", f"kampai-test-serve-{os.getpid()}"
    subprocess.run([str(ENGINE), "run", "-d", "--rm", "--name", name, "--network", "bridge",
                    "-p", f"127.0.0.1:{port}:8000", "-e", f"KAMPAI_SERVE_TOKEN={token}", tag],
                   check=True, capture_output=True, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline, status = time.monotonic() + 180, 0
        while time.monotonic() < deadline:
            try:
                status, ready = _http(f"{base}/ready", token)
            except OSError:
                status = 0
            if status == 200:
                break
            time.sleep(1)
        logs = subprocess.run([str(ENGINE), "logs", name], capture_output=True, text=True).stderr
        assert status == 200 and ready["ready"] is True, logs[-3000:]
        assert ready["run_id"] == iris_run.name
        assert _http(f"{base}/ready")[0] == 401  # auth is required
        from kampai.plugins.container.k8s import serve as k8s_serve

        (deployment, _) = k8s_serve("iris-api", tag, token_secret="t")
        probe = deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["exec"]["command"]
        r = subprocess.run([str(ENGINE), "exec", name, *probe], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr  # the Kubernetes readiness probe (and HEALTHCHECK) pass in the image
        rows = [{"sepal length (cm)": 5.1, "sepal width (cm)": 3.5, "petal length (cm)": 1.4, "petal width (cm)": 0.2},
                {"sepal length (cm)": 6.7, "sepal width (cm)": 3.0, "petal length (cm)": 5.2, "petal width (cm)": 2.3}]
        status, answer = _http(f"{base}/invocations", token, {"dataframe_records": rows})
        assert status == 200, answer
        assert [p["prediction"] for p in answer["predictions"]] == ["setosa", "virginica"]
    finally:
        subprocess.run([str(ENGINE), "rm", "-f", name], capture_output=True)


@_real
def test_real_failing_build_shows_the_step(tmp_path: Path) -> None:
    """pip cannot reach the index: exit 2 naming the failing step (the pip install) and its last lines."""
    r = runner("container", "build", "--framework", "sklearn", "-t", "localhost/kampai-test-fails:ci",
               "--base-image", str(BASE), "--engine", str(ENGINE), "--network", "host", "-q",
               "--build-arg", "PIP_INDEX_URL=http://127.0.0.1:9/simple", "-o", str(tmp_path / "ctx"), cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    first = r.stderr.splitlines()[0]
    assert first.startswith("Error: Image build failed at ") and "STEP" in first and "pip install" in first, first
    assert "Connection refused" in r.stderr and "Dockerfile:" in r.stderr


def test_a_serving_image_of_an_onnx_run_installs_onnx_runtime(tmp_path: Path) -> None:
    """The run's --serializer declares its extra (Serializer.extra): the image gets its libraries."""
    pytest.importorskip("skl2onnx")
    r = runner("train", "--task", "classification", "--data", "sklearn:iris", "--serializer", "onnx",
               "model.params.n_estimators=5", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    run_dir = tmp_path / json.loads(r.stdout)["run_dir"]
    r = runner("container", "build", str(run_dir), "--serve", "--dockerfile-only", "-o", str(tmp_path / "ctx"),
               "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "onnx" in json.loads(r.stdout)["extras"]
    assert 'kampai[onnx]"' in (tmp_path / "ctx" / "Dockerfile").read_text()
