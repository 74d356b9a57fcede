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
    assert c["readinessProbe"]["httpGet"]["path"] == "/ready" and c["livenessProbe"]["httpGet"]["path"] == "/health"
    assert c["env"][0]["valueFrom"]["secretKeyRef"] == {"name": "iris-api-token", "key": "token"}
    r = runner("container", "k8s", "serve", "--name", "Bad_Name", "--image", "i", cwd=tmp_path)
    assert r.returncode == 2 and "Invalid Kubernetes name" in r.stderr


ENGINE = os.environ.get("KAMPAI_TEST_ENGINE") or ("podman" if shutil.which("podman") else None)
BASE = os.environ.get("KAMPAI_TEST_BASE_IMAGE")


@pytest.mark.container
@pytest.mark.slow
@pytest.mark.skipif(not ENGINE or not BASE, reason="no container engine/base image (eval \"$(.ci/containers.sh)\")")
def test_real_image_trains_on_the_host_project(tmp_path: Path) -> None:
    """Build a CPU scikit-learn image with podman, run `runner train` inside with the project
    mounted: the run folder appears on the host."""
    tag = "localhost/kampai-test-sklearn:ci"
    args = ["container", "build", "--framework", "sklearn", "-t", tag, "--base-image", BASE, "--engine", ENGINE,
            "--network", "host", "-o", str(tmp_path / "ctx"), "--json"]
    if os.environ.get("KAMPAI_TEST_CA_BUNDLE"):
        args += ["--ca-bundle", os.environ["KAMPAI_TEST_CA_BUNDLE"]]
    r = runner(*args, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    info = json.loads(r.stdout)
    print(f"\nimage {tag}: {info['size_bytes'] / 1e6:.0f} MB, built in {info['build_seconds']} s")
    project = tmp_path / "project"
    project.mkdir()
    r = runner("container", "run", "--engine", ENGINE, "--image", tag, "--network", "host", "--project", str(project),
               "--", "train", "--task", "classification", "--data", "sklearn:iris", "--model",
               "LogisticRegression", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    runs = [p for p in (project / "runs").iterdir() if (p / "meta.json").exists()]
    assert len(runs) == 1
    assert json.loads((runs[0] / "metrics.json").read_text())["accuracy"] > 0.8
