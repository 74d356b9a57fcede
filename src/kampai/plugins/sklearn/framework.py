"""The scikit-learn framework adapter: a Pipeline of preprocessing and any estimator."""

from __future__ import annotations

import json
import warnings
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
    UnknownNameError,
    check_params,
)
from kampai.plugin.runs import file_sha256
from kampai.plugins.sklearn.model_file import INFO_FILE, checked
from kampai.plugins.sklearn.transductive import attach_rule, describe_rule, is_transductive, label_new

DEFAULTS = {
    "classification": "RandomForestClassifier",
    "regression": "RandomForestRegressor",
    "clustering": "KMeans",
    "text-classification": "LogisticRegression",
    "image-classification": "LogisticRegression",
}
#: settings of a task's default estimator that differ from scikit-learn's (``model.params``
#: overrides each).  Measured against the task's baseline on the bundled data and on two
#: data sets the tests never use (docs/baselines.md): on word and word-pair TF-IDF, C=1
#: regularizes too hard (fine foods 0.782 -> 0.806, Trump's tweets 0.845 -> 0.858 with C=4);
#: on the images' RBF features (sklearn-images.yaml) C=10 fits the glyphs' shapes.
DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "text-classification": {"C": 4.0},
    "image-classification": {"C": 10.0, "max_iter": 300},
}
#: tasks whose default preprocessing is another packaged spec (sparse output)
PREPROCESS = {"text-classification": "sklearn-text.yaml", "image-classification": "sklearn-images.yaml"}
MODEL_FILE = "model.joblib"


def split_params(params: dict[str, Any], valid: set[str]) -> dict[str, Any]:
    """Map config params onto pipeline params.

    ``n_estimators`` -> ``model__n_estimators``; pipeline names such as
    ``preprocess__num__imputer__strategy`` stay as they are; an unknown name is a
    ConfigError naming the closest valid ones.
    """
    out = {}
    shown = sorted({k.removeprefix("model__") for k in valid})
    for key, value in params.items():
        if key in valid and (key.startswith("preprocess__") or key.startswith("model__")):
            out[key] = value
        elif f"model__{key}" in valid:
            out[f"model__{key}"] = value
        else:
            check_params([key], (), "", suggest=shown,
                         hint="Run 'runner estimators show NAME' for the estimator's parameters.")
    return out


def _final_step(model: Any) -> tuple[Any, Any]:
    """``(estimator, transform)``: a Pipeline's last step and its fitted preprocessing as a
    function (identity for a bare estimator, as the tuner's cached preprocessing passes)."""
    from sklearn.pipeline import Pipeline

    if isinstance(model, Pipeline):
        if len(model.steps) > 1:
            return model.steps[-1][1], model[:-1].transform
        return model.steps[-1][1], lambda X: X
    return model, lambda X: X


class SklearnFramework(Framework):
    """Any scikit-learn compatible estimator (scikit-learn, scikit-lego, your own)."""

    name = "sklearn"
    description = "scikit-learn and compatible estimators, in a preprocessing Pipeline"
    tasks = ("classification", "regression", "clustering", "text-classification")
    #: tasks of other plugins the framework also serves when they are installed (pixel baseline)
    optional_tasks = ("image-classification",)
    model_keys = ("preprocess",)
    extra = None
    requires = ("sklearn",)
    packages = ("scikit-learn", "scikit-lego", "joblib")
    capabilities = frozenset({"search_space", "cached_preprocessing", "incremental", "inspect", "labels_only",
                              "columns"})

    def default_estimator(self, task: Any) -> str:
        return DEFAULTS[task.name]

    # -- capabilities (tuning) --

    def default_search_space(self, estimator: str, task: Any) -> dict[str, Any]:
        from kampai.plugins.sklearn.tuning import default_search_space

        return default_search_space(estimator, task)

    def split_preprocessing(self, model: Any) -> tuple[Any, Any]:
        from kampai.plugins.sklearn.tuning import split_preprocessing

        return split_preprocessing(model)

    def fit_incremental(self, model: Any, data: TaskData, task: Any, report: Any) -> Any:
        from kampai.plugins.sklearn.tuning import fit_incremental

        return fit_incremental(model, data, task, report, self.fit)

    def predict_labels(self, model: Any, data: TaskData, task: Any) -> Prediction:
        if not hasattr(model, "predict") or is_transductive(_final_step(model)[0]):
            return self.predict(model, data, task)
        return Prediction(y=model.predict(data.X))

    def inspect(self, model: Any, data: TaskData) -> list[dict[str, Any]]:
        from kampai.plugins.sklearn.inspect import inspect_model

        return inspect_model(model, data.X)

    def describe(self, estimator: str, ctx: BuildContext) -> dict[str, Any]:
        cls = ctx.resolve(estimator)
        return cls().get_params(deep=False) if hasattr(cls, "get_params") else {}

    def build(self, task: Any, model_cfg: dict[str, Any], data: TaskData, ctx: BuildContext) -> Any:
        from sklearn.pipeline import Pipeline

        from kampai.plugins.sklearn.preprocess import build_preprocessor

        seed = ctx.seed
        try:
            cls = ctx.resolve(str(model_cfg["estimator"]))
        except UnknownNameError:
            raise
        except ConfigError as exc:
            raise ConfigError(f"model.estimator: {exc}") from None
        if not (isinstance(cls, type) and hasattr(cls, "fit") and hasattr(cls, "get_params")):
            raise ConfigError(f"'{model_cfg['estimator']}' is not a scikit-learn estimator "
                              "(a class with fit and get_params).")
        try:
            estimator = cls()
        except TypeError as exc:
            raise ConfigError(f"Cannot create '{model_cfg['estimator']}' without arguments: {exc}") from None
        if "random_state" in estimator.get_params():
            estimator.set_params(random_state=seed)
        if cls.__name__ == DEFAULTS.get(task.name):
            estimator.set_params(**DEFAULT_PARAMS.get(task.name, {}))
        preprocess = build_preprocessor(model_cfg.get("preprocess"), data.X, ctx.resolve,
                                        defaults=PREPROCESS.get(task.name, "sklearn.yaml"),
                                        sparse=task.name == "text-classification")
        steps = ([("preprocess", preprocess)] if preprocess is not None else []) + [("model", estimator)]
        pipeline = Pipeline(steps)
        params = split_params(dict(model_cfg.get("params") or {}), set(pipeline.get_params(deep=True)))
        pipeline.set_params(**params)
        return pipeline

    def fit(self, model: Any, data: TaskData, task: Any) -> Any:
        from sklearn.utils._param_validation import InvalidParameterError

        y = data.y if task.needs_target else None
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*[Cc]onverge.*")
                model = model.fit(data.X, y)
        except InvalidParameterError as exc:
            raise ConfigError(f"Invalid parameter value: {exc}") from None
        except ValueError as exc:
            if "could not convert" in str(exc) or "Input contains NaN" in str(exc):
                raise DataError(f"The estimator cannot use this data as given: {exc}") from None
            raise
        estimator, transform = _final_step(model)
        if is_transductive(estimator):  # how predict labels new rows (transductive.py)
            attach_rule(estimator, transform(data.X))
        return model

    def predict_columns(self, model: Any, columns: dict[str, Any], task: Any) -> Prediction | None:
        """An ONNX export predicts from the columns themselves (one ONNX Runtime call, no
        DataFrame); a scikit-learn pipeline needs a DataFrame (None)."""
        if not hasattr(model, "predict_with_proba"):
            return None
        return self.predict(model, TaskData(X=columns), task)

    def fit_progress(self, model: Any) -> str | None:
        """The boosting iteration of a HistGradientBoosting model being fitted: its
        ``_predictors`` list grows by one per iteration (the one piece of scikit-learn's
        state that changes during a fit and is safe to read from another thread)."""
        final = model.steps[-1][1] if hasattr(model, "steps") else model
        done, total = getattr(final, "_predictors", None), getattr(final, "max_iter", None)
        if isinstance(done, list) and done and isinstance(total, int):
            return f"iteration {len(done)}/{total}"
        return None

    def predict(self, model: Any, data: TaskData, task: Any) -> Prediction:
        if hasattr(model, "predict_with_proba"):  # an ONNX export (onnx_format.py): one call
            labels, proba = model.predict_with_proba(data.X)
            if proba is None:
                return Prediction(y=labels)
            return Prediction(y=labels, proba=proba, classes=list(model.classes_))
        estimator, transform = _final_step(model)
        if is_transductive(estimator):
            # DBSCAN, AgglomerativeClustering ... label only their training rows: new rows get
            # the rule stored at fit time, in the space of the fitted preprocessing (never refitted)
            return Prediction(y=label_new(estimator, transform(data.X)))
        if not (hasattr(model, "predict_proba") and hasattr(model, "classes_")):
            return Prediction(y=model.predict(data.X))
        # a classifier: the preprocessing once, and for trees/forests (whose predict *is* the
        # argmax of predict_proba) one pass over the trees instead of two
        final, X = model, data.X
        if hasattr(model, "steps") and len(model.steps) > 1:
            final, X = model[-1], model[:-1].transform(data.X)
        one_pass = _boosting_one_pass(final, X)
        if one_pass is not None:
            labels, proba = one_pass
            return Prediction(y=labels, proba=proba, classes=list(model.classes_))
        proba = _forest_proba(final, X)
        if proba is None:
            proba = final.predict_proba(X)
        argmax = _labels_are_argmax(final)
        labels = final.classes_.take(proba.argmax(axis=1), axis=0) if argmax else final.predict(X)
        return Prediction(y=labels, proba=proba, classes=list(model.classes_))

    def save(self, model: Any, path: Path) -> None:
        import joblib
        import sklearn

        file = path / MODEL_FILE
        joblib.dump(model, file)
        info = {"format": "joblib", "sklearn": sklearn.__version__,
                "estimator": type(model[-1]).__name__,
                "sha256": file_sha256(file)}
        rule = describe_rule(model[-1])
        if rule is not None:
            info["predict_rule"] = rule
        (path / INFO_FILE).write_text(json.dumps(info, indent=2))

    def load(self, path: Path) -> Any:
        import joblib

        handle, _ = checked(path, MODEL_FILE)
        with handle:  # the bytes that were hashed, not the path opened again
            try:
                return joblib.load(handle)
            except Exception as exc:
                raise RunError(f"Cannot load model '{Path(path) / MODEL_FILE}': {exc}") from None


def _labels_are_argmax(estimator: Any) -> bool:
    """A single-output forest or tree classifier, whose own ``predict`` is exactly
    ``classes_.take(argmax(predict_proba))`` (so its labels need no second pass)."""
    from sklearn.ensemble._forest import ForestClassifier
    from sklearn.tree import DecisionTreeClassifier

    if getattr(estimator, "n_outputs_", 1) != 1:
        return False
    cls = type(estimator)
    return ((isinstance(estimator, ForestClassifier) and cls.predict is ForestClassifier.predict)
            or (isinstance(estimator, DecisionTreeClassifier) and cls.predict is DecisionTreeClassifier.predict))


#: forests whose probabilities :func:`_forest_proba` sums itself
FORESTS = ("RandomForestClassifier", "ExtraTreesClassifier")


def _forest_proba(forest: Any, X: Any) -> Any:
    """``forest.predict_proba(X)`` computed as scikit-learn computes it (the trees'
    probabilities summed in their order into float64 zeros, divided by their number: the same
    bits) without its per-tree ``Parallel``/``delayed`` dispatch, about 50 µs a tree even
    sequentially: most of a one-row request through 100 trees.  None (use scikit-learn's
    own) for another estimator, parallel trees (``n_jobs``) or several outputs."""
    import numpy as np

    if (type(forest).__name__ not in FORESTS or type(forest).__module__ != "sklearn.ensemble._forest"
            or forest.n_jobs not in (None, 1) or getattr(forest, "n_outputs_", 1) != 1):
        return None
    X = forest._validate_X_predict(X)
    total = np.zeros((X.shape[0], forest.n_classes_), dtype=np.float64)
    for tree in forest.estimators_:
        total += tree.predict_proba(X, check_input=False)
    total /= len(forest.estimators_)
    return total


def _boosting_one_pass(estimator: Any, X: Any) -> tuple[Any, Any] | None:
    """``(labels, proba)`` of a HistGradientBoostingClassifier from one pass over its trees
    (its ``predict`` and ``predict_proba`` each walk them: half of a big file's predict time),
    computed exactly as its own two methods do from the raw scores; None for other estimators
    (or a subclass that overrides either method)."""
    from sklearn.ensemble import HistGradientBoostingClassifier as HGB

    cls = type(estimator)
    if not (isinstance(estimator, HGB) and cls.predict is HGB.predict and cls.predict_proba is HGB.predict_proba
            and hasattr(estimator, "_raw_predict") and hasattr(estimator, "_loss")):
        return None
    raw = estimator._raw_predict(X)
    proba = estimator._loss.predict_proba(raw)
    # HGB.predict's own rule: "> 0" for two classes (argmax([0.5, 0.5]) is 0), argmax otherwise
    encoded = (raw.ravel() > 0).astype(int) if raw.shape[1] == 1 else raw.argmax(axis=1)
    return estimator.classes_[encoded], proba
