"""Kubernetes manifests (plain dicts, dumped as YAML): a training Job (or, with ``--nodes``,
an indexed Job of torchrun pods behind a headless Service), a tuning study as an indexed Job
of workers sharing one Optuna storage, a serving Deployment + Service.  Every Job can go
through a Kueue queue (``--queue``)."""

from __future__ import annotations

import re
from typing import Any

from kampai.plugins.container.dockerfile import READY_PROBE, SERVE_PORT, UID

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def check_name(name: str) -> str:
    from kampai.plugin import ConfigError

    if len(name) > 52 or not _NAME.match(name):
        raise ConfigError(f"Invalid Kubernetes name '{name}': lower-case letters, digits and '-', "
                          "starting and ending with a letter or digit, at most 52 characters.")
    return name


def _resources(gpu: int, cpu: str | None, memory: str | None) -> dict[str, Any]:
    limits: dict[str, Any] = {}
    requests: dict[str, Any] = {}
    if cpu:
        limits["cpu"] = requests["cpu"] = cpu
    if memory:
        limits["memory"] = requests["memory"] = memory
    if gpu:
        limits["nvidia.com/gpu"] = str(gpu)  # a quantity: a string in the schema
    out: dict[str, Any] = {}
    if limits:
        out["limits"] = limits
    if requests:
        out["requests"] = requests
    return out


def _volume(pvc: str | None) -> dict[str, Any]:
    if pvc:
        return {"name": "work", "persistentVolumeClaim": {"claimName": pvc}}
    return {"name": "work", "emptyDir": {}}


def _container(name: str, image: str, args: list[str], gpu: int, cpu: str | None, memory: str | None,
               env: list[dict[str, Any]]) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": name, "image": image, "imagePullPolicy": "IfNotPresent", "args": args,
        "workingDir": "/work",
        "env": [{"name": "KAMPAI_CACHE_DIR", "value": "/work/.kampai/cache"},
                {"name": "KAMPAI_IN_CONTAINER", "value": "1"}, *env],
        "volumeMounts": [{"name": "work", "mountPath": "/work"}],
        "securityContext": {"runAsNonRoot": True, "runAsUser": UID, "allowPrivilegeEscalation": False},
    }
    resources = _resources(gpu, cpu, memory)
    if resources:
        container["resources"] = resources
    return container


def _pod(container: dict[str, Any], pvc: str | None, restart: str, gpu: int) -> dict[str, Any]:
    spec: dict[str, Any] = {"restartPolicy": restart, "containers": [container], "volumes": [_volume(pvc)],
                            "securityContext": {"fsGroup": UID}}
    if gpu:
        spec["tolerations"] = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    return spec


def _meta(name: str, component: str) -> dict[str, Any]:
    return {"name": name, "labels": {"app.kubernetes.io/name": name, "app.kubernetes.io/component": component,
                                     "app.kubernetes.io/managed-by": "kampai"}}


#: Kueue's label naming the LocalQueue a Job is admitted through (``--queue``)
KUEUE_LABEL = "kueue.x-k8s.io/queue-name"
#: the port of torchrun's c10d rendezvous on the first pod of a multi-node training
RDZV_PORT = 29500


def _queued(job: dict[str, Any], queue: str | None) -> dict[str, Any]:
    """``job`` admitted through Kueue's LocalQueue ``queue``: the queue label, created
    suspended (Kueue un-suspends it when the quota admits it; what shared GPU clusters ask)."""
    if queue:
        check_name(queue)
        job["metadata"]["labels"][KUEUE_LABEL] = queue
        job["spec"] = {"suspend": True, **job["spec"]}
    return job


def train_job(name: str, image: str, args: list[str], *, gpu: int = 0, backoff_limit: int = 0,
              pvc: str | None = None, cpu: str | None = None, memory: str | None = None,
              deadline: int | None = None, queue: str | None = None) -> list[dict[str, Any]]:
    container = _container("train", image, ["train", *args], gpu, cpu, memory, [])
    spec: dict[str, Any] = {"backoffLimit": backoff_limit, "ttlSecondsAfterFinished": 86400,
                            "template": {"metadata": {"labels": _meta(name, "train")["labels"]},
                                         "spec": _pod(container, pvc, "Never", gpu)}}
    if deadline:
        spec["activeDeadlineSeconds"] = deadline
    return [_queued({"apiVersion": "batch/v1", "kind": "Job", "metadata": _meta(name, "train"), "spec": spec}, queue)]


def distributed_train_job(name: str, image: str, args: list[str], *, nodes: int, gpu: int = 0,
                          pvc: str | None = None, cpu: str | None = None, memory: str | None = None,
                          deadline: int | None = None, queue: str | None = None,
                          port: int = RDZV_PORT) -> list[dict[str, Any]]:
    """Training on ``nodes`` pods with torchrun in each: a headless Service (the pods' DNS
    names) and an indexed Job whose pod ``NAME-0`` hosts the c10d rendezvous
    (``NAME-0.NAME:PORT``); each pod runs ``runner train ARGS --nnodes M --nproc-per-node G``
    (G = its GPUs, 1 on CPU).  Rank 0 (on pod 0) writes the run: give a ``--pvc`` to keep it."""
    labels = _meta(name, "train")["labels"]
    per_node = max(1, gpu)
    train_args = ["train", *args, "--nnodes", str(nodes), "--nproc-per-node", str(per_node),
                  "--rdzv-endpoint", f"{name}-0.{name}:{port}", "distributed.rdzv_id=" + name]
    container = _container("train", image, train_args, gpu, cpu, memory, [])
    container["ports"] = [{"name": "rdzv", "containerPort": port}]
    pod = _pod(container, pvc, "Never", gpu)
    pod["subdomain"] = name  # NAME-<index>.NAME resolves through the headless Service
    if gpu:  # NCCL's shared memory: the container default (64 MiB) is too small for DDP
        pod["volumes"].append({"name": "dshm", "emptyDir": {"medium": "Memory"}})
        container["volumeMounts"].append({"name": "dshm", "mountPath": "/dev/shm"})
    spec: dict[str, Any] = {"completionMode": "Indexed", "completions": nodes, "parallelism": nodes,
                            "backoffLimit": 0, "ttlSecondsAfterFinished": 86400,
                            "template": {"metadata": {"labels": dict(labels)}, "spec": pod}}
    if deadline:
        spec["activeDeadlineSeconds"] = deadline
    service = {"apiVersion": "v1", "kind": "Service", "metadata": _meta(name, "train"),
               "spec": {"clusterIP": "None", "publishNotReadyAddresses": True, "selector": dict(labels),
                        "ports": [{"name": "rdzv", "port": port, "targetPort": port}]}}
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": _meta(name, "train"), "spec": spec}
    return [service, _queued(job, queue)]


def storage_secret(name: str, storage: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": _meta(f"{name}-storage", "tune"),
            "type": "Opaque", "stringData": {"storage": storage}}


def tune_job(name: str, image: str, args: list[str], *, workers: int, storage: str | None,
             storage_secret_name: str | None, study: str, gpu: int = 0, backoff_limit: int = 0,
             pvc: str | None = None, cpu: str | None = None, memory: str | None = None,
             queue: str | None = None) -> list[dict[str, Any]]:
    """``workers`` pods of one indexed Job, each ``runner tune --study S --storage URL``: Optuna
    shares the trials through the storage (the study's multi-machine mode)."""
    docs: list[dict[str, Any]] = []
    secret = storage_secret_name
    if secret is None:
        docs.append(storage_secret(name, storage or ""))
        secret = f"{name}-storage"
    env = [{"name": "KAMPAI_TUNE_STORAGE", "valueFrom": {"secretKeyRef": {"name": secret, "key": "storage"}}},
           {"name": "KAMPAI_WORKER", "valueFrom": {"fieldRef": {
               "fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"}}}]
    # $(VAR) in args is expanded by Kubernetes from the container's env: the URL stays in the Secret
    container = _container("tune", image, ["tune", *args, "--study", study, "--storage", "$(KAMPAI_TUNE_STORAGE)",
                                           "--no-refit"], gpu, cpu, memory, env)
    spec = {"completionMode": "Indexed", "completions": workers, "parallelism": workers,
            "backoffLimit": backoff_limit, "ttlSecondsAfterFinished": 86400,
            "template": {"metadata": {"labels": _meta(name, "tune")["labels"]},
                         "spec": _pod(container, pvc, "Never", gpu)}}
    docs.append(_queued({"apiVersion": "batch/v1", "kind": "Job", "metadata": _meta(name, "tune"), "spec": spec},
                        queue))
    return docs


def serve(name: str, image: str, *, replicas: int = 1, token_secret: str, token: str | None = None,
          gpu: int = 0, cpu: str | None = None, memory: str | None = None, port: int = 80) -> list[dict[str, Any]]:
    """A Deployment of the serving image (probes on /ready and /health, the bearer token from a
    Secret) and a ClusterIP Service in front of it."""
    docs: list[dict[str, Any]] = []
    if token is not None:
        docs.append({"apiVersion": "v1", "kind": "Secret", "metadata": _meta(token_secret, "serve"),
                     "type": "Opaque", "stringData": {"token": token}})
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/component": "serve"}
    container: dict[str, Any] = {
        "name": "serve", "image": image, "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": SERVE_PORT}],
        "env": [{"name": "KAMPAI_SERVE_TOKEN", "valueFrom": {"secretKeyRef": {"name": token_secret, "key": "token"}}}],
        # /ready needs the bearer token (only /health and /ping are open) and an httpGet probe cannot
        # put a Secret into a header: the probe runs the image's python with the token from the env
        "readinessProbe": {"exec": {"command": ["python", "-c", READY_PROBE]}, "periodSeconds": 10,
                           "timeoutSeconds": 5, "failureThreshold": 3},
        "livenessProbe": {"httpGet": {"path": "/health", "port": "http"}, "initialDelaySeconds": 30,
                          "periodSeconds": 10, "failureThreshold": 3},
        "startupProbe": {"httpGet": {"path": "/health", "port": "http"}, "periodSeconds": 5, "failureThreshold": 60},
        "securityContext": {"runAsNonRoot": True, "runAsUser": UID, "allowPrivilegeEscalation": False},
    }
    resources = _resources(gpu, cpu, memory)
    if resources:
        container["resources"] = resources
    pod: dict[str, Any] = {"containers": [container]}
    if gpu:
        pod["tolerations"] = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    docs.append({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta(name, "serve"),
                 "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                          "template": {"metadata": {"labels": labels}, "spec": pod}}})
    docs.append({"apiVersion": "v1", "kind": "Service", "metadata": _meta(name, "serve"),
                 "spec": {"type": "ClusterIP", "selector": labels,
                          "ports": [{"name": "http", "port": port, "targetPort": "http"}]}})
    return docs


def dump(docs: list[dict[str, Any]]) -> str:
    """Plain YAML: a dict used twice (a Deployment's labels in its selector and its pod
    template) is written out twice, never as a PyYAML anchor (``&id001``/``*id001``), which
    kubectl reads but people and other tools stumble on."""
    import yaml

    class Plain(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:
            return True

    return yaml.dump_all(docs, Dumper=Plain, sort_keys=False, default_flow_style=False)
