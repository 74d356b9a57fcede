"""The core's config keys, declared once: type, default, minimum, choices and help.

This is the one place where a core key is defaulted and checked: the config loader fills
and checks every key from these declarations (as it does the keys plugins declare with
``kampai_add_settings``), and the code reads the typed values back (``cfg.split.folds``).
``src/kampai/conf/defaults.yaml`` and the key tables of ``docs/config.md`` are generated
from here by ``scripts/config_reference.py`` (a test fails when they are stale).

``help`` is the short text (the comment in defaults.yaml, ``runner config show --schema``),
``doc`` the longer Markdown of docs/config.md (``help`` where it is empty).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from kampai.core.devices import device_problem
from kampai.core.distributed import BACKENDS, endpoint_problem
from kampai.core.settings import CORE_OWNER, Setting

#: the default runs folder (``output.runs_dir``, ``--runs-dir``)
RUNS_DIR = "runs"
#: the default tuning fold cache (``tune.cache_dir``), under the current folder
TUNE_CACHE_DIR = ".kampai/cache/tune"
#: the experiment ``seed`` (also a splitter's, when ``split.seed`` is null)
DEFAULT_SEED = 42
#: ``tune.trials`` when it is null and the sampler is not a grid
DEFAULT_TRIALS = 20
#: ``tune.sampler``: Optuna's TPE (handles conditional spaces), independent random draws,
#: CMA-ES (int/float params; categoricals fall back to random), every grid point exactly once
TUNE_SAMPLERS = ("tpe", "random", "cmaes", "grid")
#: ``tune.pruner`` (all but ``none`` need intermediate scores: the ``incremental`` capability)
TUNE_PRUNERS = ("none", "median", "halving", "hyperband")
#: ``tune.direction`` (null: from the metric's ``greater_is_better``)
TUNE_DIRECTIONS = ("maximize", "minimize")
#: ``tune.trial_metrics``: a trial scores the study's objective only, or every metric
TRIAL_METRICS = ("objective", "all")


def _either(choices: tuple[str, ...]) -> str:
    """``a``, ``b`` or ``c`` (Markdown)."""
    quoted = [f"`{c}`" for c in choices]
    return ", ".join(quoted[:-1]) + " or " + quoted[-1]


def _test_size(value: Any) -> str | None:
    if isinstance(value, float) and not 0 < value < 1:
        return f"must be a fraction in (0, 1) or a row count, got {value!r}"
    return None


def _section(key: str, help_text: str = "") -> Setting:
    return Setting(key, {}, help_text, owner=CORE_OWNER)


def _key(key: str, default: Any, help_text: str, doc: str = "", **kw: Any) -> Setting:
    return Setting(key, default, help_text, doc=doc, owner=CORE_OWNER, **kw)


_NUM = (int, float)

#: every core key, in the order of defaults.yaml and docs/config.md
CORE_SETTINGS: tuple[Setting, ...] = (
    _key("name", None, "experiment name, used in run ids", type=(str, int),
         doc="experiment name; part of the run id (`runs/<date>-<time>-<name>-<hex>`)"),
    _key("task", None, "classification | regression | clustering | ... (runner tasks list)", type=str,
         doc="`classification`, `regression`, `clustering`, ... (`runner tasks list`)"),
    _key("framework", "sklearn", "runner frameworks list", type=str,
         doc="the framework plugin that trains the model (`runner frameworks list`)"),
    _key("seed", DEFAULT_SEED, "one seed for splits and models (model.params.random_state wins)", type=int, minimum=0,
         doc="one seed for the split and the model (`random_state` is set from it unless "
             "`model.params.random_state` is given)"),
    _section("data"),
    _key("data.path", None, "a CSV/Parquet file, or a bundled dataset such as sklearn:iris",
         doc="a `.csv`, `.tsv` or `.parquet` file, or a bundled dataset name such as `sklearn:iris` "
             "(`runner datasets list`)"),
    _key("data.target", None, "target column (the bundled dataset's own target when null)", type=(str, list, int),
         doc="the target column; `null` = a bundled dataset's own target. Required for classification and "
             "regression; for clustering, a label column that only scores the clusters (ARI, NMI)"),
    _key("data.features", None, "columns to use; null = every column but target/group/time/drop", type=list,
         doc="the feature columns; `null` = every column except target, group, time and `drop`"),
    _key("data.drop", [], "columns to ignore", type=list),
    _key("data.group", None, "group column for grouped splits", type=(str, int),
         doc="the group column for `group` and `group_kfold` splits (never a feature)"),
    _key("data.time", None, "time column for time-ordered splits", type=(str, int),
         doc="the time column for `time` and `timeseries` splits (never a feature)"),
    _section("split"),
    _key("split.method", None, "null = the task's default (runner splits list)", type=str,
         doc="`null` = the task's default (classification: `stratified`, regression: `random`, clustering: "
             "`none`). Holdouts: `random`, `stratified`, `group`, `time`, `none` (train and score on all "
             "rows). Cross-validation: `kfold`, `stratified_kfold`, `group_kfold`, `timeseries`. `runner "
             "splits list` shows them all, plugins' included"),
    _key("split.test_size", 0.2, "holdout share (a fraction) or row count", type=_NUM, minimum=0,
         check=_test_size, doc="holdout share (a fraction in (0, 1)) or a number of rows; `time` cuts at the "
         "change of `data.time` nearest to that size, so rows sharing a time stamp (long-format tables) stay "
         "on one side"),
    _key("split.folds", 5, "folds for cross-validation methods", type=int, minimum=2,
         doc="folds of the cross-validation methods"),
    _key("split.shuffle", True, "shuffle before k-fold (holdouts always shuffle, time methods never)", type=bool,
         doc="shuffle before `kfold`/`stratified_kfold` (random holdouts always shuffle; time methods never do)"),
    _key("split.seed", None, "null = the experiment seed", type=int, minimum=0,
         doc="`null` = the experiment `seed`; the same seed gives the same split"),
    _key("split.refit", None, "refit the saved model on all rows after evaluating (null = the task's default: "
         "yes after cross-validation and for forecasting, else no)", type=bool,
         doc="refit the saved model on all rows after evaluating; `null` = the task's default (yes after "
             "cross-validation, else no)"),
    _section("model"),
    _key("model.estimator", None, "null = the framework's default for the task",
         doc="a short name (`RandomForestClassifier`, `LowessRegression`), an import path "
             "(`sklearn.ensemble.HistGradientBoostingRegressor`, `mypkg.models.MyEstimator`) or a name a "
             "plugin registered. `null` = the framework's default for the task (scikit-learn: "
             "`RandomForestClassifier`, `RandomForestRegressor`, `KMeans`). `runner estimators list` shows "
             "every name. A short name is looked up in scikit-learn's index first, then scikit-lego's, then "
             "other plugins' (the first to register a name keeps it; the others stay reachable by import path)"),
    _key("model.params", {}, "estimator parameters; pipeline steps with sklearn's a__b syntax",
         doc="the estimator's parameters, and the preprocessing pipeline's with sklearn's double-underscore "
             "syntax"),
    _key("model.search", {}, "hyperparameter search space, next to the params it tunes",
         doc="the hyperparameter search space, next to the params it tunes (used by `runner tune`, see "
             "[tuning.md](tuning.md))"),
    _key("model.include", [], "modules whose estimator classes are known by short name (--include)", type=list,
         doc="modules whose estimator classes are known by their short names (`--include mypkg.models`, as "
             "in `runner estimators list --include`)"),
    _key("metrics", None, "null = the task's default metrics; any registered metric name", type=list,
         doc="metric names; `null` = the task's defaults. Any registered metric (`runner metrics list`) or "
             "any scikit-learn scorer name (`average_precision`, `neg_mean_absolute_error`, ...)"),
    _section("output"),
    _key("output.runs_dir", RUNS_DIR, "where run folders go", type=str,
         doc="where run folders are written (`--runs-dir`)"),
    _key("output.predictions", True, "write the test-split predictions into the run", type=bool,
         doc="write the test-split predictions into `predictions.csv`"),
    _key("output.baseline", True, "false (or --no-baseline): fit no baseline; true: the task's reference models "
         "(majority class, mean, linear ...) give baseline_<metric> beside each metric", type=bool,
         option="--no-baseline", option_value=False,
         doc="fit the task's trivial reference models on each fold (classification: logistic regression and "
             "the majority class; regression: ridge and the mean; ...; see [baselines.md](baselines.md)) and "
             "write `baseline_<metric>` beside each metric in `metrics.json`, with a warning when the model "
             "loses to its baseline; `--no-baseline` skips them. Tuning trials never fit them"),
    _key("output.progress_seconds", 10, "seconds between progress lines inside a long step (reading a file, a "
         "fit: bytes read, iteration); 0 = none", type=_NUM, minimum=0,
         doc="inside a step that runs long (reading a big file, a fit), a progress line at least this often: "
             "how much of the file is read, the fold, the estimator's iteration where the library shows it "
             "(scikit-learn's HistGradientBoosting) and the time so far; `0` = none. Silent under "
             "`--quiet`/`--json`"),
    _section("tune", "runner tune / kampai.tune (docs/tuning.md); the space is model.search"),
    _key("tune.trials", None, "total trials of the study (null = 20, or the whole grid); a resumed study runs "
         "until it holds this many finished trials", type=int, minimum=1,
         doc="total trials of the study, 1 or more (`null` = 20, or the whole grid); a resumed study runs "
             "until it holds this many finished trials"),
    _key("tune.timeout", None, "seconds this invocation may run (no new trial starts after it)", type=_NUM,
         minimum=0, doc="seconds this invocation may run"),
    _key("tune.metric", None, "objective; null = the first of `metrics` (else the task's default)", type=str,
         doc="the objective; `null` = the first of `metrics`"),
    _key("tune.direction", None, f"{' | '.join(TUNE_DIRECTIONS)}; null = from the metric", type=str,
         choices=TUNE_DIRECTIONS, doc=f"{_either(TUNE_DIRECTIONS)}; `null` = from the metric"),
    _key("tune.sampler", "tpe", f"{' | '.join(TUNE_SAMPLERS)} (grid: every combination exactly once)", type=str,
         choices=TUNE_SAMPLERS, doc=_either(TUNE_SAMPLERS)),
    _key("tune.startup_trials", 10, "random trials before tpe/cmaes model the space", type=int, minimum=0,
         doc="random trials before `tpe`/`cmaes` model the space"),
    _key("tune.pruner", "none", f"{' | '.join(TUNE_PRUNERS)} (needs intermediate scores)", type=str,
         choices=TUNE_PRUNERS, doc=_either(TUNE_PRUNERS)),
    _key("tune.study", None, "study name; null = the config's name, else <task>-<estimator>", type=str,
         doc="study name (the same name resumes it)"),
    _key("tune.storage", None, "Optuna storage URL (postgresql://... for several machines) or a file (*.journal, "
         "else sqlite); null = journal file .kampai/optuna.journal (an existing .kampai/optuna.db is kept)",
         type=str,
         doc="Optuna storage URL or file; `null` = `.kampai/optuna.journal` (an existing `.kampai/optuna.db` is kept)"),
    _key("tune.jobs", 1, "worker processes on this machine (tune.backend: ray: workers on the cluster)", type=int,
         minimum=1, doc="worker processes on this machine; with `tune.backend: ray`, workers on the Ray cluster"),
    _key("tune.backend", "local", "local | ray: where the workers run (ray: Ray tasks spread over the cluster's "
         "nodes, --ray)", type=str, choices=("local", "ray"),
         doc="`local` (worker processes on this machine) or `ray` (kampai's own workers as Ray tasks spread "
             "over the nodes of a Ray cluster, `--ray ADDRESS`; see [scale.md](scale.md))"),
    _key("tune.ray_address", None, "the Ray cluster (host:port, ray://host:10001); null = RAY_ADDRESS, else "
         "a cluster started on this machine", type=str,
         doc="the Ray cluster for `tune.backend: ray`: `host:port` (from a node of the cluster), "
             "`ray://host:10001` (Ray Client, from anywhere); `null` = `$RAY_ADDRESS`, else the cluster "
             "running on this machine (`ray start --head`)"),
    _key("tune.cache", True, "reuse fitted preprocessing per fold across trials", type=bool),
    _key("tune.cache_dir", None, f"shared by workers and studies; null = {TUNE_CACHE_DIR}", type=str,
         doc=f"where that cache lives; `null` = `{TUNE_CACHE_DIR}`"),
    _key("tune.cache_max_mb", 2048, "size cap of cache_dir: least recently used entries go first (runner cache)",
         type=_NUM, minimum=0,
         doc="size cap of `tune.cache_dir`, least recently used entries removed first (`runner cache info` "
             "shows it)"),
    _key("tune.max_failures", 5, "stop after this many failed trials in a row", type=int, minimum=0,
         doc="stop after this many failed trials in a row (0: at the first)"),
    _key("tune.trial_metrics", "objective", f"{' | '.join(TRIAL_METRICS)}: what a trial scores (all: every "
         "metric, slower)", type=str, choices=TRIAL_METRICS,
         doc="what a trial scores: `objective` (the study's metric) or `all` (every metric, slower)"),
    _key("tune.refit", False, "train the best params as a normal run (registry mode) afterwards", type=bool,
         doc="train the best params as a normal run afterwards"),
    _key("tune.output_dir", "studies", "trial log (CSV/Parquet) and plots go to <output_dir>/<study>/", type=str,
         doc="trial log and plots go to `<output_dir>/<study>/`"),
    _key("tune.plots", True, "optimisation history, param importances, score vs duration (PNG)", type=bool,
         doc="write PNG plots after the study"),
    _key("tune.top", 10, "rows in the final table", type=int, minimum=1),
    _section("distributed", "runner train under torch.distributed (docs/distributed-training.md)"),
    _key("distributed.nproc_per_node", None, "training processes on this machine under torchrun (null = no "
         "torch.distributed; GPUs: one per GPU)", type=int, minimum=1, option="--nproc-per-node",
         commands=("train",),
         doc="training processes on this machine, started by torchrun (`torch.distributed.run`) with DDP "
             "(`--nproc-per-node`); `null` = an ordinary single-process run. Frameworks with the "
             "`distributed` capability only (torch/skorch, PyG, ...); rank 0 writes the run"),
    _key("distributed.nnodes", 1, "machines taking part (each runs the same command; needs rdzv_endpoint)",
         type=int, minimum=1, option="--nnodes", commands=("train",),
         doc="machines taking part (`--nnodes`), each running the same `runner train` command; more than "
             "one needs `rdzv_endpoint`"),
    _key("distributed.rdzv_endpoint", None, "HOST:PORT of the c10d rendezvous every machine reaches",
         type=str, option="--rdzv-endpoint", commands=("train",), check=endpoint_problem,
         doc="`HOST:PORT` of torchrun's c10d rendezvous that every machine reaches (`--rdzv-endpoint`; "
             "Kubernetes: the first pod of the indexed Job through its headless Service); `null` on one "
             "machine (a private local rendezvous)"),
    _key("distributed.rdzv_id", "kampai", "rendezvous id: the same on every machine of one training",
         type=str, doc="the rendezvous id, the same on every machine of one training"),
    _key("distributed.backend", "auto", "auto | gloo | nccl (auto: nccl when training on CUDA, else gloo)",
         type=str, choices=BACKENDS,
         doc="the process-group backend: `auto` (nccl when the run trains on CUDA GPUs, else gloo), "
             "`gloo` or `nccl`"),
)

#: ``device`` (``--device``): declared by the core when a loaded framework has the ``device``
#: capability, with one grammar for every framework (:mod:`kampai.core.devices`)
DEVICE = Setting(
    "device", "auto", "auto | cpu | cuda | cuda:N | mps: where frameworks with the 'device' capability train "
    "(auto = cuda if present)", type=str, option="--device", check=device_problem,
    doc="`auto`, `cpu`, `cuda`, `cuda:N` or `mps`, for frameworks with the `device` capability (Darts, "
        "transformers, PyG, torch, fastai; `--device`). Declared by the core when such a framework is loaded; "
        "one grammar for every framework, parsed once: a device this machine lacks (`mps` without Apple "
        "silicon, `cuda` without a GPU) is refused at the config check. Any value but `auto`/`cpu` is "
        "refused for other frameworks")

#: ``output.serializer`` (``--serializer``): declared by the core when a serializer plugin is loaded
SERIALIZER = Setting(
    "output.serializer", None, "null = the framework's own model format; or a serializer plugin", type=str,
    option="--serializer", commands=("train",),
    doc="`null` = the framework's own model format (scikit-learn: joblib with a sha256); or a serializer "
        "plugin: `skops` and `onnx` (scikit-learn: no code at load; onnx predicts one row in about a "
        "millisecond, docs/serving.md), `mlem` (`--serializer`; declared by the core when a serializer "
        "plugin is loaded)")


def core_defaults() -> dict[str, Any]:
    """The nested defaults of the core's keys (a fresh copy)."""
    from kampai.core.settings import SettingRegistry

    return SettingRegistry.core(CORE_SETTINGS).defaults()


def default_of(key: str) -> Any:
    """The declared default of core key ``key`` (``tune.cache_max_mb`` -> 2048)."""
    for setting in CORE_SETTINGS:
        if setting.key == key:
            return setting.default
    raise KeyError(key)


def add_capability_settings(registry: Any, host: Any) -> None:
    """Declare the core keys that exist for what plugins provide: ``device`` when a loaded
    framework trains on a device, ``output.serializer`` when a plugin registers a serializer.

    The framework plugins are asked only until one with the ``device`` capability answers
    (each registers its frameworks by importing its framework module): a run of one framework
    does not import every framework plugin's module to read its options.  The owner that
    names every device framework (``config show --schema``) is worked out when it is shown.
    """
    serializers = list(host.serializers())
    if serializers:
        names = ", ".join(serializers)
        owners = ", ".join(host.serializers().provided_by[n] for n in serializers)
        registry.declare(replace(SERIALIZER, help=f"{SERIALIZER.help} ({names})"),
                         f"{CORE_OWNER} (serializer plugins: {owners})")

    def able(frameworks: Any) -> list[str]:
        return [n for n, f in frameworks.items() if "device" in f.capabilities]

    if able(host.registry("frameworks", until=lambda found: bool(able(found)))):
        registry.declare(DEVICE, f"{CORE_OWNER} (device frameworks)",
                         owner_of=lambda: f"{CORE_OWNER} (device frameworks: {', '.join(able(host.frameworks()))})")
