"""A saved run's actions: :class:`Run` (``kampai.Run``, formerly ``TrainedRun``: what
``kampai.train`` and ``kampai.load_run`` return) and what it does with new data:
:func:`predict`, :func:`evaluate`, :func:`inspect` (``runner predict`` / ``evaluate`` /
``inspect RUN``).  New data is prepared as the training data was and checked against the
run's signature first.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kampai.core import data as data_mod
from kampai.core import metrics as metrics_mod
from kampai.core.console import warn
from kampai.core.contract import RunContext, TaskData
from kampai.core.errors import DataError, KampaiError, RunError, did_you_mean
from kampai.core.host import get_host
from kampai.core.hosted import open_run
from kampai.core.lifecycle import evaluate_data, predict_data
from kampai.core.runs import RunRecord
from kampai.core.signature import SIGNATURE

if TYPE_CHECKING:
    import pandas as pd


class Run(RunRecord):
    """A run with its actions (``kampai.Run``): what ``kampai.train`` and ``kampai.load_run``
    return; the record it extends is :class:`~kampai.core.runs.RunRecord`."""

    @classmethod
    def of(cls, run: RunRecord, model: Any = None) -> Run:
        return cls(run_dir=run.run_dir, config=run.config, metrics=run.metrics, meta=run.meta,
                   _model=model if model is not None else run.loaded_model, store_for=run.store_for,
                   _digests=run._digests)

    def _repr_html_(self) -> str:  # Jupyter (kampai.lab.html): metrics beside their baseline, params, plots
        return __import__("kampai.lab.html", fromlist=["run_html"]).run_html(self)

    def predict(self, data: Any = None, **options: Any) -> pd.DataFrame:
        """Predictions for a DataFrame or a file path, as ``runner predict`` writes them;
        ``options``: the task's predict options (forecasting's ``horizon=12``,
        recommendation's ``k=10``), with which ``data`` is optional."""
        return predict(self, data, options=options)

    def evaluate(self, data: Any) -> dict[str, float]:
        """Metrics of this run's model on other labelled data (a DataFrame or a path)."""
        return evaluate(self, data)

    def inspect(self, data: Any = None, step: str | None = None) -> list[dict[str, Any]]:
        """What each preprocessing step of the model outputs on the run's data (or ``data``),
        one dict per step: see :func:`inspect` (``runner inspect RUN``)."""
        return inspect(self, data, step)


#: the former name of :class:`Run` (kept for code written against it)
TrainedRun = Run


def load_run(ref: str | Path) -> Run:
    """Open a run folder or ``NAME@stage`` / ``NAME@version``, ready to predict and evaluate
    (public to plugins as :func:`kampai.plugin.runs.load_run`)."""
    return Run.of(open_run(ref))


def _run_context(run: RunRecord) -> RunContext:
    host = get_host()
    task = host.task(run.config["task"])
    framework = host.framework(run.config["framework"])
    return RunContext(config=run.config, run_id=run.run_id, run_dir=run.run_dir, task=task,
                      framework=framework)


def _inline_table(key: str, value: Any) -> Any:
    """A data option given in Python or a request: a DataFrame or records, never a path
    (a server's client must not name files on the server)."""
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        return value
    if (isinstance(value, list) and all(isinstance(r, dict) for r in value)) or isinstance(value, dict):
        try:
            return pd.DataFrame(value)
        except ValueError as exc:
            raise DataError(f"{key}: not a table ({exc}).") from None
    raise DataError(f"{key}: give the table itself (a DataFrame or a list of records); a file is read only "
                    "from runner predict's own option.")


def _prepare_new(run: RunRecord, ctx: RunContext, data: Any, training: bool,
                 data_options: dict[str, Any] | None = None) -> TaskData:
    frame = data if not isinstance(data, (str, Path)) else data_mod.read_frame(data)
    data_cfg = {**run.config["data"], **(data_options or {})}
    if run.meta["data"].get("features"):  # predict with exactly the training columns
        data_cfg["features"] = run.meta["data"]["features"]
    # new data need not carry the columns that only served training: dropped ones, and the
    # group/time columns that only ordered or grouped the split (when they are absent)
    data_cfg["drop"] = [c for c in data_cfg.get("drop") or [] if c in frame.columns]
    for role in ("group", "time"):
        if data_cfg.get(role) and data_cfg[role] not in frame.columns:
            data_cfg[role] = None
    from kampai.core import checks

    signature = _signature(run)
    prepared = ctx.task.prepare(frame, data_cfg, training=training)
    numeric = _cached(run, "_numeric_inputs", lambda: checks.numeric_inputs(signature))
    checks.check_against_signature(prepared.X, signature, numeric)
    # unknown categories are predicted, as `runner serve` does, and said (docs/serving.md)
    for line in checks.unknown_categories(prepared.X, signature):
        warn(line)
    if training and ctx.task.target_kind == "labels":
        checks.check_labels(prepared.y, signature)
    return prepared


def _cached(run: RunRecord, key: str, make: Any) -> Any:
    """``make()`` computed once per run object and kept on it (a server predicts many times
    through one run: what depends only on the run is not redone per request)."""
    if key not in run.__dict__:
        run.__dict__[key] = make()
    return run.__dict__[key]


def _signature(run: RunRecord) -> dict[str, Any] | None:
    """The run's ``signature.json``, read once per run object (a server predicts many times)."""
    import json

    def read() -> dict[str, Any]:  # the bytes verified with the model, never the path again
        try:
            return json.loads(run.record(SIGNATURE) or b"{}") or {}
        except ValueError:
            return {}

    return _cached(run, "_signature", read) or None


def predict(run: RunRecord, data: Any = None, *, options: dict[str, Any] | None = None,
            data_options: dict[str, Any] | None = None) -> pd.DataFrame:
    """Predictions of a run's model for new data, as a table (label + proba columns).

    ``options`` are the task's predict options (capability ``predict_options``: forecasting's
    ``horizon``, recommendation's ``k`` and ``users`` ...; one given as None is not given):
    the task's :meth:`~kampai.core.contract.Task.predict_input` turns them into what the
    framework predicts for, and ``data`` is then optional.

    ``data_options`` (``runner predict``'s ``data.*`` options, such as ``--edges``) override
    the run's data section for the new data.  An option named like one of the task's data
    keys (and no predict option) does the same with a table given inline (a DataFrame or
    records; ``run.predict(nodes, edges=edges)``, a server's ``options``), never a path.
    """
    ctx = _run_context(run)
    options = {k: v for k, v in (options or {}).items() if v is not None}
    data_options = dict(data_options or {})
    declared = get_host().settings()
    for key in [k for k in options if k in ctx.task.data_keys and f"predict.{k}" not in declared]:
        data_options[key] = _inline_table(key, options.pop(key))
    if data_options and data is None:
        raise DataError(f"{', '.join(data_options)}: describes the data to predict; pass --data as well.")
    own_options = "predict_options" in ctx.task.capabilities
    if options and not own_options:
        raise KampaiError(f"Task '{ctx.task.name}' takes no predict options (got {', '.join(options)}"
                          f"{_takers(options)}).")
    if data is None and not own_options:
        raise DataError("No data given: pass --data FILE (CSV/Parquet or a bundled dataset).")
    task_data = None if data is None else _prepare_new(run, ctx, data, training=False,
                                                       data_options=data_options)
    if own_options:
        task_data = ctx.task.predict_input(task_data, options, run.config)
    prediction = predict_data(ctx, run.model, task_data)
    return ctx.task.format_predictions(task_data, prediction)


#: the hooks that observe a prediction: with an implementation of any, no row path
PREDICT_HOOKS = ("kampai_before_predict", "kampai_after_predict", "kampai_on_predict_error")


def row_predictor(run: RunRecord) -> Callable[[dict[str, Any]], dict[str, Any]] | None:
    """The run's row path (``runner serve``'s one-row requests): a function from checked
    input columns (the signature's input names, in order -> numpy arrays of the training
    dtypes) to the output columns :func:`predict` would put in its table, built without a
    DataFrame where the framework can (capability ``columns``: an ONNX export) and with one
    otherwise.  The same model call and the same columns as :func:`predict`; what it skips
    is what such columns do not need: the task's preparing (capability ``rows``), the
    signature check (the caller checked them) and the table.

    ``None`` when the run cannot take it: not a table (``input_kind``), a task without
    ``rows`` or with predict options, inputs other than the signature's, or a plugin that
    observes predictions (its hooks get the prepared :class:`TaskData` of :func:`predict`)."""
    signature = _signature(run) or {}
    ctx = _run_context(run)
    task, framework = ctx.task, ctx.framework
    names = [str(c.get("name")) for c in signature.get("inputs") or []]
    features = run.meta.get("data", {}).get("features")
    hooks = get_host().pm.hook
    if (signature.get("input_kind", "table") != "table" or "rows" not in task.capabilities
            or "predict_options" in task.capabilities or not names or (features and list(features) != names)
            or any(getattr(hooks, name).get_hookimpls() for name in PREDICT_HOOKS)):
        return None
    model = run.model
    columnar = "columns" in framework.capabilities

    def predict_rows(columns: dict[str, Any]) -> dict[str, Any]:
        prediction = framework.predict_columns(model, columns, task) if columnar else None
        if prediction is None:
            import pandas as pd

            frame = pd.DataFrame(columns, columns=names, copy=False)
            prediction = framework.predict(model, TaskData(X=frame, info={"features": names}), task)
        return task.format_columns(prediction)

    return predict_rows


def _takers(options: dict[str, Any]) -> str:
    """``: horizon is an option of forecasting``: the installed tasks that declare the given
    options (``Task.predict_keys``), for the message of a task that takes none."""
    tasks = [task for _, task in get_host().tasks().items()]
    found = [f"{key} is an option of {', '.join(t.name for t in tasks if key in t.predict_keys)}"
             for key in options if any(key in t.predict_keys for t in tasks)]
    return f": {'; '.join(found)}" if found else ""


def evaluate(run: RunRecord, data: Any) -> dict[str, float]:
    """The run's metrics recomputed on other labelled data."""
    ctx = _run_context(run)
    task_data = _prepare_new(run, ctx, data, training=True)
    if task_data.y is None and ctx.task.needs_target:
        raise DataError("Evaluating needs the target column in the data.")
    if "evaluation_split" in ctx.task.capabilities:  # forecasting: the last horizon steps
        task_data = ctx.task.evaluation_split(task_data, run.config["split"])
    prediction = predict_data(ctx, run.model, task_data)
    metrics = metrics_mod.resolve(ctx.task, run.config.get("metrics"))
    return evaluate_data(ctx, metrics, task_data, prediction)


def inspect(run: RunRecord, data: Any = None, step: str | None = None) -> list[dict[str, Any]]:
    """What each preprocessing step of a run's model outputs on the run's own data (its
    ``data.path``) or on ``data``: one dict per step (``name``, ``kind``, ``shape``,
    ``columns``, ``dtypes``, ``missing``, ``head``; ``inputs`` for a column router's branch),
    from the framework's ``inspect`` capability.  ``step`` keeps the steps whose name (a
    path such as ``preprocess/num/scaler``) is or ends with it."""
    ctx = _run_context(run)
    if "inspect" not in ctx.framework.capabilities:
        raise KampaiError(f"Framework '{ctx.framework.name}' cannot show its preprocessing steps (it has no "
                          "'inspect' capability; runner frameworks list shows the capabilities).")
    source = data if data is not None else run.config["data"].get("path")
    if source is None:
        raise DataError(f"Run '{run.run_dir}' was trained on a DataFrame: pass --data FILE to inspect it.")
    prepared = _prepare_new(run, ctx, source, training=False)
    try:
        steps = ctx.framework.inspect(run.model, prepared)
    except RunError:
        raise
    except (ValueError, KeyError) as exc:
        raise DataError(f"The run's preprocessing cannot transform this data: {exc}") from None
    if not steps:
        raise KampaiError(f"The model of run '{run.run_id}' has no preprocessing pipeline to inspect "
                          f"(estimator {run.meta.get('estimator')} alone, e.g. model.preprocess: false).")
    if step is None:
        return steps
    picked = [s for s in steps if s["name"] == step or s["name"].endswith("/" + step)]
    if not picked:
        names = [s["name"] for s in steps] + sorted({s["name"].rsplit("/", 1)[-1] for s in steps})
        raise KampaiError(f"No step '{step}' in run '{run.run_id}'.{did_you_mean(step, names)} "
                          f"Steps: {', '.join(s['name'] for s in steps)}.")
    return picked

