"""fast.ai ``tabular_learner`` on a table, with AutoGluon-like defaults.

Defaults (as AutoGluon's fast.ai model): layers [200, 100] for regression and binary
targets, [2b, b] with b = max(100, 2 x classes) for multi-class; batch size from the row
count (2^(3 + floor(log10 rows)), 32..512); dropout 0.1, embedding dropout 0.1; up to 30
epochs of ``fit_one_cycle`` at lr 1e-2 with early stopping (patience 20) on a 10%
validation part of the training rows, keeping the best epoch.  ``lr: auto`` runs
``lr_find`` and uses (and records) its ``valley`` suggestion.

Date and time columns (a datetime dtype, or text that parses as dates) become their parts,
as fast.ai's ``add_datepart`` makes them (:mod:`.dates`; ``dates: false`` keeps them as
categories).  Training uses fast.ai's ``TabularPandas`` (``Categorify``, ``FillMissing``, ``Normalize``);
prediction applies the same fitted state (category lists, fill values, means/stds, kept as
JSON) with numpy and calls the network directly: no per-call DataLoader, and a saved
model needs no pickle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kampai.plugin import ConfigError, DataError
from kampai.plugins.fastai import common

PARAMS: dict[str, Any] = {
    "layers": None, "ps": 0.1, "embed_p": 0.1, "emb_szs": None, "bs": None, "epochs": 30, "lr": 1e-2,
    "wd": None, "patience": 20, "valid_frac": 0.1, "cat_names": None, "cont_names": None, "dates": True,
}


def _as_cats(column: Any) -> Any:
    import numpy as np

    return column.astype(str).where(column.notna(), np.nan)


def validation_rows(missing: Any, n_valid: int, seed: int) -> Any:
    """The sorted positions of the ``n_valid`` random rows kept out of training for early
    stopping, chosen so that every numeric column with a NaN keeps one in the training part.

    fast.ai sets ``FillMissing`` up on the training part only and refuses a NaN in a column
    where it saw none ("nan values in 'age' but not in setup training set"): a row holding a
    column's only NaNs moves to the training part, and a row without NaN takes its place.
    ``missing`` is the (rows x numeric columns) NaN mask.
    """
    import numpy as np

    order = np.random.default_rng(seed).permutation(len(missing))
    valid, train = list(order[:n_valid]), list(order[n_valid:])
    if missing.size and missing.any():
        for column in range(missing.shape[1]):
            if missing[valid, column].any() and not missing[train, column].any():
                row = next(r for r in valid if missing[r, column])
                valid.remove(row)
                train.append(row)
        complete = [r for r in train if not missing[r].any()]
        while len(valid) < n_valid and complete and len(train) > 1:
            row = complete.pop()
            train.remove(row)
            valid.append(row)
    return np.sort(np.asarray(valid, dtype=int))


def _original_labels(y: Any, vocab: list[Any]) -> list[Any]:
    """The target's values in the order of fast.ai's vocab of their text (JSON-able scalars)."""
    import pandas as pd

    values = pd.unique(pd.Series(y).astype(object))
    by_text = {str(v): v.item() if hasattr(v, "item") else v for v in values}
    return [by_text.get(str(c), str(c)) for c in vocab]


@dataclass
class TabularNet:
    """A fast.ai tabular network with the preprocessing state it was trained with."""

    kind: str  # classification | regression
    settings: dict[str, Any]
    device: str = "cpu"
    seed: int = 0
    module: Any = None
    state: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    #: the torch.distributed process group fit trains in (``ctx.distributed``), or None
    distributed: Any = None
    _tables: Any = field(default=None, repr=False, compare=False)  # encode's vectors, from state

    # ------------------------------------------------------------------ fit
    def fit(self, X: Any, y: Any, report: Any = None) -> TabularNet:
        from fastai.tabular.all import (
            Categorify,
            CategoryBlock,
            FillMissing,
            IndexSplitter,
            Normalize,
            RegressionBlock,
            TabularPandas,
            tabular_config,
            tabular_learner,
        )
        from fastai.torch_core import set_seed

        from kampai.plugins.fastai import dates

        s = self.settings
        parts: dict[str, list[str]] = {}
        if s.get("dates", True) and s["cat_names"] is None and s["cont_names"] is None:
            import pandas as pd

            text = [c for c, t in X.dtypes.items() if not pd.api.types.is_numeric_dtype(t)]
            parts = dates.parts_of(X, dates.detect(X, [str(c) for c in text]))
            X = dates.expand(X, parts)
        cat_names, cont_names = self._columns(X)
        frame = self.fastai_frame(X, cat_names, cont_names)
        target = "__target__"
        frame[target] = y.to_numpy() if self.kind == "regression" else y.astype(str).to_numpy()
        if self.kind == "regression":
            frame[target] = frame[target].astype("float32")
        n = len(frame)
        n_valid = max(1, round(n * float(s["valid_frac"]))) if s["valid_frac"] else 0
        if n_valid >= n:
            raise DataError(f"{n} training rows leave nothing to train on after the validation part.")
        valid = validation_rows(frame[cont_names].isna().to_numpy(), n_valid, self.seed)
        n_valid = len(valid)
        set_seed(self.seed, reproducible=True)
        y_block = RegressionBlock() if self.kind == "regression" else CategoryBlock()
        to = TabularPandas(frame, procs=[Categorify, FillMissing, Normalize], cat_names=list(cat_names),
                           cont_names=list(cont_names), y_names=target, y_block=y_block,
                           splits=IndexSplitter(list(valid))(range(n)) if n_valid else None)
        bs = int(s["bs"] or min(512, max(32, 2 ** (3 + int(math.log10(max(n, 1)))))))
        dls = to.dataloaders(bs=min(bs, max(2, n - n_valid)), device=self.device)
        classes = list(dls.vocab) if self.kind == "classification" else None
        # fast.ai's vocab is the labels as text: keep the target's own values (0/1 stay ints)
        labels = _original_labels(y, classes) if classes is not None else None
        layers = s["layers"]
        if layers is None:
            if classes is not None and len(classes) > 2:
                base = max(100, 2 * len(classes))
                layers = [2 * base, base]
            else:
                layers = [200, 100]
        y_range = None
        if self.kind == "regression":
            low, high = float(frame[target].min()), float(frame[target].max())
            span = (high - low) or 1.0
            y_range = (low - 0.05 * span, high + 0.05 * span)
        config = {"ps": s["ps"], "embed_p": float(s["embed_p"])}
        learn = tabular_learner(dls, layers=list(layers), emb_szs=s["emb_szs"], config=tabular_config(**config),
                                y_range=y_range, wd=s["wd"])
        learn.remove_cb(learn.cbs.filter(lambda cb: type(cb).__name__ == "ProgressCallback")[0]) \
            if learn.cbs.filter(lambda cb: type(cb).__name__ == "ProgressCallback") else None
        lr = s["lr"]
        if lr == "auto":
            import tempfile

            # lr_find saves and reloads the weights under learn.path/models: not in the user's folder
            with tempfile.TemporaryDirectory() as scratch, learn.no_logging(), learn.no_bar():
                where, learn.path = learn.path, Path(scratch)
                lr = float(learn.lr_find(show_plot=False).valley)
                learn.path = where
            self.info["lr_find"] = lr
        self._record(learn, to, cat_names, cont_names, classes, layers, config, y_range)
        self.state["labels"] = labels
        self.state["dates"] = parts
        self.info["date_columns"] = list(parts)
        self.module = learn.model
        keep = common.best_epoch_callback(int(s["patience"]) if n_valid and s["patience"] else None,
                                          report, report, self.distributed)
        with learn.no_logging(), learn.no_bar(), common.distributed_fit(learn, self.distributed):
            learn.fit_one_cycle(int(s["epochs"]), float(lr), cbs=[keep] if n_valid else [])
        self.distributed = None  # a process group is not part of the model
        if keep.error is not None:
            raise keep.error
        self.info.update(lr=float(lr), best_epoch=int(keep.best_epoch), epochs_run=len(learn.recorder.values),
                         batch_size=bs, layers=list(layers))
        self.module = learn.model.eval()
        return self

    @staticmethod
    def fastai_frame(X: Any, cat_names: list[str], cont_names: list[str]) -> Any:
        """The table fast.ai's ``TabularPandas`` gets: categories as strings (missing stays
        NaN), numbers as float32."""
        frame = X[cat_names + cont_names].copy()
        for c in cat_names:
            frame[c] = _as_cats(frame[c])
        for c in cont_names:
            frame[c] = frame[c].astype("float32")
        return frame

    def _columns(self, X: Any) -> tuple[list[str], list[str]]:
        import pandas as pd

        s = self.settings
        names = [str(c) for c in X.columns]
        for key in ("cat_names", "cont_names"):
            for c in s[key] or []:
                if c not in names:
                    raise ConfigError(f"model.params.{key} names '{c}', which is not a feature column.")
        if s["cat_names"] is not None or s["cont_names"] is not None:
            cats = list(s["cat_names"] or [])
            conts = list(s["cont_names"] or [c for c in names if c not in cats])
            return cats, [c for c in conts if c not in cats]
        cats = [c for c, t in X.dtypes.items() if not pd.api.types.is_numeric_dtype(t)
                or pd.api.types.is_bool_dtype(t)]
        return [str(c) for c in cats], [str(c) for c in X.columns if c not in cats]

    def _record(self, learn: Any, to: Any, cat_names: list[str], cont_names: list[str], classes: Any,
                layers: Any, config: dict[str, Any], y_range: Any) -> None:
        procs = to.procs
        fill = getattr(procs, "fill_missing", None)
        norm = getattr(procs, "normalize", None)
        cat = getattr(procs, "categorify", None)
        model_cats = list(to.cat_names)
        self.state = {
            "kind": self.kind, "cat_names": cat_names, "cont_names": cont_names, "model_cats": model_cats,
            "classes": {c: [str(v) for v in cat.classes[c]]
                        for c in model_cats if cat is not None and c in cat.classes},
            "na_dict": {k: float(v) for k, v in (fill.na_dict if fill else {}).items()},
            "means": {k: float(norm.means[k]) for k in cont_names} if norm else {},
            "stds": {k: float(norm.stds[k]) for k in cont_names} if norm else {},
            "emb_szs": [list(map(int, (e.num_embeddings, e.embedding_dim))) for e in learn.model.embeds],
            "n_cont": len(cont_names), "n_out": len(classes) if classes else 1, "layers": list(layers),
            "config": config, "y_range": list(y_range) if y_range else None,
            "vocab": [str(c) for c in classes] if classes else None,
        }

    # ------------------------------------------------------------------ predict
    @property
    def labels(self) -> list[Any]:
        """The classes in the target's own dtype (the text of fast.ai's vocab for models saved
        before kampai kept them)."""
        return list(self.state.get("labels") or self.state["vocab"])

    def _lookup(self) -> dict[str, Any]:
        """The fitted preprocessing state as numpy vectors and dicts (built once per model)."""
        import numpy as np

        if self._tables is None:
            st = self.state
            conts, na = st["cont_names"], st["na_dict"]
            means = np.asarray([st["means"].get(c, 0.0) for c in conts], dtype="float32")
            stds = np.asarray([st["stds"].get(c, 1.0) for c in conts], dtype="float32")
            # NaN in a column that had none in training: its mean (fast.ai has no rule for it)
            fill = np.asarray([na.get(c, st["means"].get(c, 0.0)) for c in conts], dtype="float32")
            na_names = {f"{c}_na": i for i, c in enumerate(conts) if c in na}
            codes = {c: {v: i for i, v in enumerate(st["classes"][c]) if i} for c in st["model_cats"]}
            self._tables = {"means": means, "stds": stds, "fill": fill, "na_names": na_names, "codes": codes}
        return self._tables

    def encode(self, X: Any) -> tuple[Any, Any]:
        """The network's (categorical codes, normalised continuous) inputs for ``X``: fast.ai's
        Categorify/FillMissing/Normalize replayed from the saved state, vectorised."""
        import numpy as np
        import pandas as pd

        st = self.state
        if st.get("dates"):
            from kampai.plugins.fastai import dates

            X = dates.expand(X, st["dates"])
        columns = X.columns.tolist()
        if columns != st["cat_names"] + st["cont_names"]:  # else: exactly the inputs, in order
            missing = [c for c in st["cat_names"] + st["cont_names"] if c not in X.columns]
            if missing:
                raise DataError(f"The data lacks the model's input column(s): {', '.join(missing[:10])}.")
        t = self._lookup()
        n = len(X)
        block = X if columns == st["cont_names"] else X[st["cont_names"]]
        if not all(pd.api.types.is_numeric_dtype(d) for d in set(block.dtypes.tolist())):  # per distinct dtype
            block = block.apply(pd.to_numeric, errors="coerce")
        values = block.to_numpy(dtype="float32", na_value=np.nan) if len(st["cont_names"]) else \
            np.zeros((n, 0), dtype="float32")
        nan = np.isnan(values)
        values = (np.where(nan, t["fill"], values) - t["means"]) / t["stds"]
        cat_cols = [c for c in st["model_cats"] if c not in t["na_names"]]
        strings = X[cat_cols].astype(str).where(X[cat_cols].notna()) if cat_cols else None
        cats = np.zeros((n, len(st["model_cats"])), dtype="int64")
        for j, c in enumerate(st["model_cats"]):
            lookup = t["codes"][c]
            if c in t["na_names"]:  # FillMissing's <col>_na: 'False'/'True' as Categorify saw them
                flags = nan[:, t["na_names"][c]]
                cats[:, j] = np.where(flags, lookup.get("True", 0), lookup.get("False", 0))
            elif n > 1000:  # unknown or missing -> 0, fast.ai's #na#
                cats[:, j] = pd.Categorical(strings[c], categories=st["classes"][c][1:]).codes.astype("int64") + 1
            else:
                cats[:, j] = [lookup.get(v, 0) for v in strings[c].tolist()]
        return cats, np.ascontiguousarray(values, dtype="float32")

    def forward(self, X: Any, batch: int = 4096) -> Any:
        import numpy as np
        import torch

        cats, conts = self.encode(X)
        out = []
        if self.module.training:  # loaded models are in eval mode already: no walk per call
            self.module.eval()
        device = next(self.module.parameters()).device
        with torch.inference_mode():
            for start in range(0, len(cats), batch):
                xc = torch.from_numpy(cats[start:start + batch]).to(device)
                xn = torch.from_numpy(conts[start:start + batch]).to(device)
                raw = self.module(xc, xn).float()
                out.append((raw.softmax(-1) if self.kind == "classification" else raw).cpu().numpy())
        width = self.state["n_out"]
        return np.concatenate(out) if out else np.zeros((0, width), dtype="float32")

    # ------------------------------------------------------------------ save / load
    def save(self, path: Path) -> None:
        common.save_state(path, self.module, {"format": "fastai-tabular", "state": self.state,
                                              "settings": self.settings, "info": self.info})

    @classmethod
    def load(cls, config: dict[str, Any], weights: Any) -> TabularNet:
        from fastai.tabular.model import TabularModel, tabular_config

        st = config["state"]
        module = TabularModel([tuple(e) for e in st["emb_szs"]], st["n_cont"], st["n_out"], st["layers"],
                              y_range=tuple(st["y_range"]) if st["y_range"] else None,
                              **tabular_config(**st["config"]))
        module.load_state_dict(weights)
        return cls(kind=st["kind"], settings=config["settings"], module=module.eval(), state=st,
                   info=config.get("info", {}))
