"""Plain PyTorch through skorch: the user's ``nn.Module`` by import path, kampai the rest.

``--model mypkg.nets:Net`` (or the built-in ``MLP``); ``model.params`` holds the module's
constructor arguments *and* the training settings (``TRAIN`` below, skorch's own
``optimizer__*``/``module__*``/``callbacks__*`` keys pass through).  The module gets
``n_features``/``n_outputs`` (or ``in_features``/``out_features``) when its constructor
takes them and the config leaves them out.

Training is skorch's ``NeuralNetClassifier``/``NeuralNetRegressor`` (a scikit-learn
estimator: epochs, optimizer, lr, batch size, callbacks, ``EarlyStopping`` keeping the
best epoch on a ``ValidSplit``, device).  Inputs go through the scikit-learn framework's
default steps (median impute + standard scale for numbers, most-frequent impute + one-hot
for categories), fitted here and kept as JSON so a saved model is weights (safetensors)
plus JSON: nothing is unpickled on load.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kampai.plugin import (
    BuildContext,
    ConfigError,
    DataError,
    Framework,
    Prediction,
    RunError,
    TaskData,
    check_params,
    did_you_mean,
)
from kampai.plugin.experiments import label_array
from kampai.plugin.io import import_object
from kampai.plugin.runs import file_sha256

TRAIN: dict[str, Any] = {"epochs": 20, "lr": 1e-2, "batch_size": 128, "optimizer": "AdamW", "weight_decay": 0.0,
                         "patience": 5, "valid_frac": 0.1}
BUILTIN = {"MLP": "kampai.plugins.torch.nets:MLP"}
WEIGHTS, CONFIG = "model.safetensors", "model.json"
FEATURES = ("n_features", "in_features", "input_dim")
OUTPUTS = ("n_outputs", "out_features", "output_dim", "n_classes")


@dataclass
class Prep:
    """Numbers: median impute + standard scale; categories: most frequent + one-hot."""

    num: list[str] = field(default_factory=list)
    cat: list[str] = field(default_factory=list)
    medians: list[float] = field(default_factory=list)
    means: list[float] = field(default_factory=list)
    scales: list[float] = field(default_factory=list)
    categories: dict[str, list[str]] = field(default_factory=dict)
    modes: dict[str, str] = field(default_factory=dict)

    @classmethod
    def fit(cls, X: Any) -> Prep:
        import numpy as np
        import pandas as pd

        num = [str(c) for c, t in X.dtypes.items() if pd.api.types.is_numeric_dtype(t)
               and not pd.api.types.is_bool_dtype(t)]
        cat = [str(c) for c in X.columns if str(c) not in num]
        prep = cls(num=num, cat=cat)
        values = X[num].to_numpy(float) if num else np.zeros((len(X), 0))
        prep.medians = [float(v) if v == v else 0.0 for v in np.nanmedian(values, axis=0)] if num else []
        filled = np.where(np.isnan(values), prep.medians, values) if num else values
        prep.means = filled.mean(axis=0).tolist() if num else []
        prep.scales = [float(s) or 1.0 for s in filled.std(axis=0)] if num else []
        for c in cat:
            column = X[c].dropna().astype(str)
            prep.modes[c] = str(column.mode().iloc[0]) if len(column) else ""
            prep.categories[c] = sorted(column.unique().tolist())
        return prep

    def transform(self, X: Any) -> Any:
        import numpy as np
        import pandas as pd

        columns = X.columns.tolist()
        if columns != self.num + self.cat:  # else: exactly the inputs, in order
            missing = [c for c in self.num + self.cat if c not in X.columns]
            if missing:
                raise DataError(f"The data lacks the model's input column(s): {', '.join(missing[:10])}.")
        parts = []
        if self.num:
            block = X if columns == self.num else X[self.num]
            if not all(pd.api.types.is_numeric_dtype(d) for d in set(block.dtypes.tolist())):  # per distinct dtype
                block = block.apply(pd.to_numeric, errors="coerce")
            values = block.to_numpy(dtype=float, na_value=np.nan)
            values = np.where(np.isnan(values), self.medians, values)
            parts.append((values - self.means) / self.scales)
        for c in self.cat:
            column = X[c].astype(str).where(X[c].notna(), self.modes[c])
            codes = pd.Categorical(column, categories=self.categories[c]).codes
            onehot = np.zeros((len(X), len(self.categories[c])))
            rows = np.flatnonzero(codes >= 0)
            onehot[rows, codes[rows]] = 1.0
            parts.append(onehot)
        return (np.concatenate(parts, axis=1) if parts else np.zeros((len(X), 0))).astype("float32")

    def transform_columns(self, columns: dict[str, Any]) -> Any:
        """:meth:`transform` of typed numpy columns (a server's row path): the same numbers
        (the same float64 operations, then float32) without a DataFrame."""
        import numpy as np

        n, parts = (len(next(iter(columns.values()))) if columns else 0), []
        if self.num:
            values = np.column_stack([np.asarray(columns[c], dtype=float) for c in self.num])
            values = np.where(np.isnan(values), self.medians, values)
            parts.append((values - self.means) / self.scales)
        for c in self.cat:
            index = {v: i for i, v in enumerate(self.categories[c])}
            onehot = np.zeros((n, len(index)))
            hot = [(row, index.get(self.modes[c] if v is None or v != v else str(v)))
                   for row, v in enumerate(np.asarray(columns[c], dtype=object).tolist())]
            onehot[[r for r, j in hot if j is not None], [j for _, j in hot if j is not None]] = 1.0
            parts.append(onehot)
        return (np.concatenate(parts, axis=1) if parts else np.zeros((n, 0))).astype("float32")


@contextmanager
def _quiet_import() -> Iterator[None]:
    """skorch imports torch_geometric where it is installed, whose import scripts modules
    with the deprecated ``torch.jit.script``: not the user's concern.  Silenced for that
    import only; the process's warning filters stay as they were."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated", category=FutureWarning)
        yield


@dataclass
class TorchModel:
    kind: str
    module_path: str
    module_kwargs: dict[str, Any]
    train: dict[str, Any]
    passthrough: dict[str, Any]
    device: str = "cpu"
    seed: int = 0
    prep: Prep | None = None
    classes: list[Any] | None = None
    module: Any = None
    info: dict[str, Any] = field(default_factory=dict)
    #: the torch.distributed process group (``ctx.distributed``) fit trains in, or None
    distributed: Any = None

    def fit(self, X: Any, y: Any, report: Callable[[int], None] | None = None) -> TorchModel:
        import numpy as np
        import torch

        with _quiet_import():
            from skorch import NeuralNetClassifier, NeuralNetRegressor
            from skorch.callbacks import Callback, EarlyStopping
            from skorch.dataset import ValidSplit

        torch.manual_seed(self.seed)
        self.prep = Prep.fit(X)
        Xt = self.prep.transform(X)
        kwargs = dict(self.module_kwargs)
        cls = import_object(self.module_path)
        accepted = _accepted(cls)
        n_out = 1
        if self.kind == "classification":
            self.classes = sorted(y.unique().tolist(), key=str)
            index = {c: i for i, c in enumerate(self.classes)}
            yt = np.asarray([index[v] for v in y], dtype="int64")
            n_out = len(self.classes)
        else:
            yt = y.to_numpy("float32").reshape(-1, 1)
        for names, value in ((FEATURES, Xt.shape[1]), (OUTPUTS, n_out)):
            for name in names:
                if name in accepted and name not in kwargs:
                    kwargs[name] = value
                    break
        self.module_kwargs = kwargs
        t = self.train
        callbacks: list[Any] = []
        batch_size = int(t["batch_size"])
        dist = self.distributed
        if dist is not None:  # DDP: this rank's equal share of the rows, the global batch split over ranks
            rows = dist.shard(len(Xt))
            Xt, yt = Xt[rows], yt[rows]
            batch_size = max(1, -(-batch_size // dist.world_size))

            class MeanValid(Callback):  # one validation loss for all ranks: one early-stopping decision
                def on_epoch_end(self, net: Any, **_: Any) -> None:
                    if "valid_loss" in net.history[-1]:
                        net.history.record("valid_loss", dist.mean(net.history[-1, "valid_loss"]))

            callbacks.append(("kampai_mean_valid", MeanValid()))
        frac = float(t["valid_frac"] or 0)
        if frac and t["patience"]:
            callbacks.append(("early_stopping", EarlyStopping(patience=int(t["patience"]), load_best=True)))
        class Progress(Callback):  # per-epoch lines in runner train's step log (silent elsewhere)
            def on_train_begin(self, net: Any, **_: Any) -> None:
                from kampai.plugin.cli import epoch_progress

                self.progress = epoch_progress(net.max_epochs)

            def on_epoch_end(self, net: Any, **_: Any) -> None:
                row = net.history[-1]
                self.progress.update(len(net.history), loss=row.get("train_loss"), val_loss=row.get("valid_loss"))

        callbacks.append(("kampai_progress", Progress()))
        if report is not None:
            class Report(Callback):
                def on_epoch_end(self, net: Any, **_: Any) -> None:
                    report(len(net.history) - 1)

            callbacks.append(("kampai_report", Report()))
        optimizer = getattr(torch.optim, str(t["optimizer"]), None)
        if optimizer is None:
            raise ConfigError(f"model.params.optimizer={t['optimizer']!r} is not in torch.optim.")
        net_cls = NeuralNetClassifier if self.kind == "classification" else NeuralNetRegressor
        extra = {"criterion": torch.nn.CrossEntropyLoss} if self.kind == "classification" else {}
        try:
            module = cls(**kwargs)
        except TypeError as exc:
            raise ConfigError(f"Cannot create '{self.module_path}' with {kwargs}: {exc}") from None
        if not isinstance(module, torch.nn.Module):
            raise ConfigError(f"'{self.module_path}' is not a torch.nn.Module.")
        trained = module if dist is None else dist.wrap(module.to(self.device))
        net = net_cls(trained, max_epochs=int(t["epochs"]), lr=float(t["lr"]), batch_size=batch_size,
                      optimizer=optimizer, optimizer__weight_decay=float(t["weight_decay"]),
                      train_split=ValidSplit(frac, stratified=self.kind == "classification", random_state=self.seed)
                      if frac else None, callbacks=callbacks, device=self.device, verbose=0, **extra,
                      **self.passthrough)
        self.module = module
        try:
            net.fit(Xt, yt)
        except ValueError as exc:
            raise DataError(f"skorch cannot fit this data: {exc}") from None
        self.module = (net.module_ if dist is None else net.module_.module).eval()
        self.info = {"epochs_run": len(net.history)}
        self.distributed = None  # a process group is not part of the model
        return self

    def forward(self, X: Any) -> Any:  # scores (probabilities for classification) of a DataFrame's rows
        return self.forward_features(self.prep.transform(X))

    def forward_features(self, features: Any) -> Any:
        """Scores of prepared float32 features (:meth:`Prep.transform`)."""
        if getattr(self.module, "session", None) is not None:  # an ONNX export (onnx_export.OnnxNet): no torch
            return self.module(features).astype(float)
        import torch

        Xt = torch.from_numpy(features)
        device = next(self.module.parameters()).device
        if self.module.training:  # loaded models are in eval mode already: no walk per call
            self.module.eval()
        with torch.inference_mode():
            out = self.module(Xt.to(device)).float()
            if self.kind == "classification":
                out = out.softmax(-1)
        return out.cpu().numpy().astype(float)

    def to_onnx(self, X: Any) -> tuple[bytes, dict[str, Any]]:
        """``--serializer onnx``: the module exported with ``torch.onnx`` and checked on the
        rows ``X`` (:mod:`.onnx_export`); ``(graph bytes, model.json)``."""
        from kampai.plugins.torch.onnx_export import export

        return export(self, X)

    def config(self) -> dict[str, Any]:
        return {"format": "kampai-torch", "kind": self.kind, "module": self.module_path,
                "module_kwargs": self.module_kwargs, "train": self.train, "classes": self.classes,
                "prep": self.prep.__dict__, "info": self.info}


def _prediction(model: TorchModel, out: Any) -> Prediction:  # of a module's scores
    if model.kind == "regression":
        return Prediction(y=out[:, 0])
    out /= out.sum(axis=1, keepdims=True)
    labels = label_array(model.classes)[out.argmax(axis=1)]  # an int target's labels stay ints
    return Prediction(y=labels, proba=out, classes=list(model.classes))


def _accepted(cls: type) -> set[str]:
    try:
        params = inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):
        return set()
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        return {"*"} | set(params)
    return set(params) - {"self"}


class TorchFramework(Framework):
    """Your ``nn.Module`` (or the built-in MLP), trained through skorch."""

    name = "torch"
    description = "plain PyTorch: your nn.Module (or MLP) trained through skorch, tables"
    tasks = ("classification", "regression")
    extra = "torch"
    requires = ("torch", "skorch")
    packages = ("torch", "skorch")
    capabilities = frozenset({"device", "search_space", "incremental", "distributed", "columns"})

    def default_estimator(self, task: Any) -> str:
        return "MLP"

    def _module_path(self, estimator: str) -> str:
        path = BUILTIN.get(estimator, estimator)
        if ":" not in path:
            raise ConfigError(f"--model {estimator!r}: name a module class as 'package.module:Class' "
                              f"(or a built-in: {', '.join(BUILTIN)}).{did_you_mean(estimator, BUILTIN)}")
        return path

    def describe(self, estimator: str, ctx: BuildContext) -> dict[str, Any]:
        cls = import_object(self._module_path(estimator))
        sig = {k: (None if v.default is inspect.Parameter.empty else v.default)
               for k, v in inspect.signature(cls.__init__).parameters.items() if k != "self"}
        return {**sig, **TRAIN}

    def build(self, task: Any, model_cfg: dict[str, Any], data: TaskData, ctx: BuildContext) -> TorchModel:
        try:
            with _quiet_import():
                import skorch  # noqa: F401
            import torch
        except ImportError as exc:
            raise ConfigError(f"The torch framework needs its extra: pip install 'kampai[torch]' ({exc}).") from None
        path = self._module_path(str(model_cfg["estimator"]))
        try:
            cls = import_object(path)
        except Exception as exc:
            raise ConfigError(f"Cannot import the module class '{path}': {exc}") from None
        if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module)):
            raise ConfigError(f"'{path}' is not a torch.nn.Module subclass.")
        accepted = _accepted(cls)
        train, module_kwargs, passthrough = dict(TRAIN), {}, {}
        for key, value in dict(model_cfg.get("params") or {}).items():
            if key in TRAIN:
                train[key] = value
            elif "__" in key:
                passthrough[key] = value
            elif key in accepted or "*" in accepted:
                module_kwargs[key] = value
            else:
                check_params([key], (), f"'{path}'", suggest=[*TRAIN, *(accepted - {'*'})],
                             hint=f"Training settings: {', '.join(TRAIN)}; constructor: "
                                  f"{', '.join(sorted(accepted - {'*'}))}.")
        device = ctx.device.torch()
        return TorchModel(kind=task.name, module_path=path, module_kwargs=module_kwargs, train=train,
                          passthrough=passthrough, device=device, seed=ctx.seed, distributed=ctx.distributed)

    def fit(self, model: TorchModel, data: TaskData, task: Any) -> TorchModel:
        return model.fit(data.X, data.y)

    def fit_incremental(self, model: TorchModel, data: TaskData, task: Any,
                        report: Callable[[int, Any], None]) -> TorchModel:
        return model.fit(data.X, data.y, report=lambda epoch: report(epoch, model))

    def predict(self, model: TorchModel, data: TaskData, task: Any) -> Prediction:
        return _prediction(model, model.forward(data.X))

    def predict_columns(self, model: TorchModel, columns: dict[str, Any], task: Any) -> Prediction:
        return _prediction(model, model.forward_features(model.prep.transform_columns(columns)))

    def default_search_space(self, estimator: str, task: Any) -> dict[str, Any]:
        space: dict[str, Any] = {"lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
                                 "batch_size": [32, 64, 128, 256],
                                 "weight_decay": {"type": "float", "low": 1e-6, "high": 1e-2, "log": True}}
        if estimator == "MLP":
            space["dropout"] = {"type": "float", "low": 0.0, "high": 0.5}
        return space

    def save(self, model: TorchModel, path: Path) -> None:
        from safetensors.torch import save_file

        save_file({k: v.detach().cpu().contiguous() for k, v in model.module.state_dict().items()}, path / WEIGHTS)
        config = {**model.config(), "sha256": file_sha256(path / WEIGHTS)}
        (path / CONFIG).write_text(json.dumps(config, indent=2, default=str))

    def load_onnx(self, data: bytes, info: dict[str, Any]) -> TorchModel:
        """A model saved with ``--serializer onnx`` (:meth:`TorchModel.to_onnx`), run by ONNX Runtime."""
        from kampai.plugins.torch.onnx_export import load

        return load(data, info)

    def load(self, path: Path) -> TorchModel:
        from kampai.plugin.runs import load_weights

        config, state = load_weights(path, WEIGHTS, CONFIG)
        try:
            module = import_object(config["module"])(**config["module_kwargs"])
            module.load_state_dict(state)
        except Exception as exc:
            raise RunError(f"Cannot rebuild the torch module '{config.get('module')}': {exc}") from None
        return TorchModel(kind=config["kind"], module_path=config["module"], module_kwargs=config["module_kwargs"],
                          train=config["train"], passthrough={}, prep=Prep(**config["prep"]),
                          classes=config["classes"], module=module.eval(), info=config.get("info", {}))
