"""Every ``runner`` command and its Python counterpart (or why it has none).

tests/test_notebook_api.py walks the whole command tree (every plugin's commands loaded)
and fails when a command is missing here or names an API that does not exist;
docs/python-api.md is this table in prose.
"""

from __future__ import annotations

#: command path -> the ``kampai`` attribute that does the same (dotted for methods)
COUNTERPARTS: dict[str, str] = {
    "train": "kampai.train",
    "evaluate": "kampai.load_run(...).evaluate",
    "predict": "kampai.load_run(...).predict",
    "tune": "kampai.tune",
    "serve": "kampai.serve",
    "inspect": "kampai.inspect",
    "learning-curve": "kampai.learning_curve",
    "report": "kampai.report",
    "config show": "kampai.config",
    "runs list": "kampai.runs",
    "runs compare": "kampai.compare",
    "runs export": "kampai.runs",
    "registry register": "kampai.registry.register",
    "registry list": "kampai.registry.list",
    "registry show": "kampai.registry.show",
    "registry promote": "kampai.registry.promote",
    "registry best": "kampai.registry.best",
}

#: command path -> why there is no Python call (a shell or deployment concern)
NO_COUNTERPART: dict[str, str] = {
    "app": "a Streamlit page is its own process and browser tab: run it from a terminal",
    "runs sync": "pushes runs a tracker could not reach; nothing a notebook needs to see",
    "runs trust": "re-signing a folder is a deliberate security step: kept to the command line",
    "plugins list": "environment listing: runner plugins list (or runner doctor)",
    "tasks list": "environment listing: runner tasks list",
    "frameworks list": "environment listing: runner frameworks list",
    "estimators list": "environment listing: runner estimators list",
    "estimators show": "environment listing: runner estimators show NAME",
    "datasets list": "environment listing: runner datasets list",
    "splits list": "environment listing: runner splits list",
    "metrics list": "environment listing: runner metrics list",
    "cache info": "disk housekeeping: runner cache info",
    "cache clear": "disk housekeeping: runner cache clear",
    "dvc init": "writes a pipeline of shell commands for dvc repro: a project-setup step",
    "container build": "builds an image with a container engine: a deployment step",
    "container run": "runs a command in a container: a deployment step",
    "container k8s train": "a Kubernetes manifest: a deployment step",
    "container k8s tune": "a Kubernetes manifest: a deployment step",
    "container k8s serve": "a Kubernetes manifest: a deployment step",
    "init": "creates a project folder: a one-time shell step",
    "doctor": "checks the environment the shell runs in: run it in a terminal",
}
