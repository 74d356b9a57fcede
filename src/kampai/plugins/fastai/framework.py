"""The fast.ai framework adapter: tabular classification/regression and image classification."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from kampai.plugin import BuildContext, ConfigError, DataError, Framework, Prediction, RunError, TaskData
from kampai.plugin.experiments import label_array
from kampai.plugins.fastai import common


class FastaiFramework(Framework):
    """fast.ai learners: ``tabular_learner`` on tables, ``vision_learner`` on images."""

    name = "fastai"
    description = "fast.ai: tabular_learner (classification, regression) and vision_learner (images)"
    tasks = ("classification", "regression", "image-classification")
    #: served only where their plugin is on (``-p no:images`` leaves the tabular part working)
    optional_tasks = ("image-classification",)
    extra = "fastai"
    #: what every fast.ai run imports; torchvision (vision only) is checked by ``build`` for
    #: images: a tabular run does not import it (about 1,300 modules: sympy, triton ...)
    requires = ("torch", "fastai")
    packages = ("fastai", "torch", "torchvision")
    capabilities = frozenset({"device", "search_space", "incremental", "distributed"})

    def default_estimator(self, task: Any) -> str:
        return "resnet18" if task.name == "image-classification" else "tabular"

    def _check(self) -> None:
        try:
            import fastai  # noqa: F401
            import torch  # noqa: F401
        except ImportError as exc:
            raise ConfigError(f"The fastai framework needs its extra: pip install 'kampai[fastai]' ({exc}).") from None

    def describe(self, estimator: str, ctx: BuildContext) -> dict[str, Any]:
        from kampai.plugins.fastai import tabular, vision

        return dict(tabular.PARAMS if estimator == "tabular" else vision.PARAMS)

    def build(self, task: Any, model_cfg: dict[str, Any], data: TaskData, ctx: BuildContext) -> Any:
        self._check()
        estimator = str(model_cfg["estimator"])
        device = ctx.device.torch()
        if ctx.distributed is not None and ctx.distributed.backend != "nccl":
            raise ConfigError("fast.ai trains with torch.distributed on CUDA GPUs only (its DistributedDL "
                              "broadcasts CUDA tensors): on CPU, train fast.ai in one process.")
        if task.name == "image-classification":
            from importlib.util import find_spec

            if find_spec("torchvision") is None:
                raise ConfigError("fast.ai vision needs torchvision, which is not installed: "
                                  "pip install 'kampai[fastai]'.")
            from kampai.plugins.fastai.vision import PARAMS, VisionNet, architecture, hub_weights

            architecture(estimator)
            settings = common.check_params(model_cfg.get("params"), PARAMS, f"fast.ai vision '{estimator}'")
            if settings["weights"] and not Path(str(settings["weights"])).is_file():
                hub_weights(estimator, str(settings["weights"]))  # before any data is read: fail early
            return VisionNet(arch=estimator, settings=settings, device=device, seed=ctx.seed,
                             distributed=ctx.distributed)
        from kampai.plugins.fastai.tabular import PARAMS, TabularNet

        if estimator != "tabular":
            raise ConfigError(f"fast.ai's model for task '{task.name}' is 'tabular' (got '{estimator}').")
        settings = common.check_params(model_cfg.get("params"), PARAMS, "fast.ai tabular_learner")
        if settings["lr"] != "auto" and not isinstance(settings["lr"], (int, float)):
            raise ConfigError(f"model.params.lr={settings['lr']!r}: a number or 'auto' (lr_find).")
        return TabularNet(kind=task.name, settings=settings, device=device, seed=ctx.seed,
                          distributed=ctx.distributed)

    def fit(self, model: Any, data: TaskData, task: Any) -> Any:
        return self.fit_incremental(model, data, task, None)

    def fit_incremental(self, model: Any, data: TaskData, task: Any,
                        report: Callable[[int, Any], None] | None) -> Any:
        if data.y is None:
            raise DataError("Training needs the target column.")
        with common.quiet():
            return model.fit(data.X, data.y, report=None if report is None else (lambda epoch: report(epoch, model)))

    def predict(self, model: Any, data: TaskData, task: Any) -> Prediction:
        with common.quiet():
            out = model.forward(data.X)
        if getattr(model, "kind", "classification") == "regression":
            return Prediction(y=out[:, 0].astype(float))
        classes = list(model.classes if hasattr(model, "classes") else model.labels)
        labels = label_array(classes)[out.argmax(axis=1)]  # an int target's labels stay ints
        proba = out.astype(float)
        proba /= proba.sum(axis=1, keepdims=True)  # float32 softmax, summed again in float64
        return Prediction(y=labels, proba=proba, classes=classes)

    def default_search_space(self, estimator: str, task: Any) -> dict[str, Any]:
        if task.name == "image-classification":
            return {"lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True}, "bs": [32, 64, 128],
                    "augment": [True, False]}
        return {"lr": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True},
                "ps": {"type": "float", "low": 0.0, "high": 0.5}, "embed_p": {"type": "float", "low": 0.0, "high": 0.5},
                "bs": [64, 128, 256, 512]}

    def save(self, model: Any, path: Path) -> None:
        model.save(path)

    def load(self, path: Path) -> Any:
        self._check()
        config, weights = common.load_state(Path(path))
        try:
            with common.quiet():
                if config.get("format") == "fastai-vision":
                    from kampai.plugins.fastai.vision import VisionNet

                    return VisionNet.load(config, weights)
                from kampai.plugins.fastai.tabular import TabularNet

                return TabularNet.load(config, weights)
        except (KeyError, RuntimeError, TypeError) as exc:
            raise RunError(f"Cannot rebuild the fast.ai model in '{path}': {exc}") from None
