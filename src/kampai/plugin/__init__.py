"""The plugin SDK: the one package a kampai plugin imports.

Versioned with :data:`API_VERSION` (semantic: a name listed here changes or goes only with a
major version; docs/plugins.md lists every name).  At the top, what every plugin meets: the
hook marker, the contract (base classes, the values hooks receive, the registries the
registration hooks fill), config values, errors and data kinds::

    from kampai.plugin import Framework, FrameworkRegistry, Prediction, hookimpl

    class Hello(Framework):
        name = "hello"
        tasks = ("classification",)
        ...

    @hookimpl
    def kampai_register_frameworks(registry: FrameworkRegistry) -> None:
        registry.add(Hello())

Helpers live in four namespaces: :mod:`kampai.plugin.io` (files and data a plugin reads or
writes), :mod:`kampai.plugin.runs` (run folders: open, list, verify, seal),
:mod:`kampai.plugin.cli` (console output and the options commands share) and
:mod:`kampai.plugin.experiments` (the engine's steps, for work outside a run: load a config,
look up a registry, compute metrics).  Conformance checks for a plugin's own test suite live
in :mod:`kampai.testing`.

Names are imported on first use, so ``import kampai.plugin`` costs nothing that a plugin
module (imported by ``runner plugins list``) should not pay.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kampai.core.contract import (
    FRAMEWORK_CAPABILITIES,
    TASK_CAPABILITIES,
    BuildContext,
    Framework,
    Metric,
    Prediction,
    RunContext,
    Task,
    TaskData,
)
from kampai.core.errors import (
    ConfigError,
    DataError,
    KampaiError,
    PluginError,
    RunError,
    TuneError,
    UnknownNameError,
    check_name,
    did_you_mean,
    unknown,
)
from kampai.core.markers import hookimpl
from kampai.plugin._lazy import MovedName, lazy_names

#: 2.0: helpers moved into kampai.plugin.io / .runs / .cli / .experiments, the run record is
#: ``RunRecord`` (``load_run`` gives the trained ``runs.Run``), the registries are exported,
#: names no plugin used are gone; the 1.x names resolve with a DeprecationWarning until 3.0
API_VERSION = "2.0"

#: name -> where it lives (``module`` for the same name, ``module:attribute`` for another),
#: imported when first used
_LAZY = {
    # the contract: the record of a finished run (kampai_after_train)
    "RunRecord": "kampai.core.runs",
    # the registries the registration hooks fill, and what they hold
    "TaskRegistry": "kampai.core.registry",
    "FrameworkRegistry": "kampai.core.registry",
    "EstimatorRegistry": "kampai.core.registry",
    "DatasetRegistry": "kampai.core.registry",
    "SplitterRegistry": "kampai.core.registry",
    "MetricRegistry": "kampai.core.registry",
    "SerializerRegistry": "kampai.core.registry",
    "SettingRegistry": "kampai.core.settings",
    "Serializer": "kampai.core.registry",
    # values: a config key, the loaded config read typed, the --device value
    "Setting": "kampai.core.settings",
    "Config": "kampai.core.typed",
    "Section": "kampai.core.typed",
    "section_of": "kampai.core.typed",
    "Device": "kampai.core.devices",
    # errors (the ones with no import cost are imported above)
    "check_params": "kampai.core.errors",
    # data kinds
    "SeriesSet": "kampai.kinds.series",
    "ForecastWindow": "kampai.kinds.series",
    "SERIES": "kampai.kinds.series",
    "Graph": "kampai.kinds.graphs",
    "GraphSet": "kampai.kinds.graphs",
    "Interactions": "kampai.kinds.interactions",
    "RecommendQuery": "kampai.kinds.interactions",
    "rank_popular": "kampai.kinds.interactions",
    "Images": "kampai.kinds.images",
    # the helper namespaces
    "io": "kampai.plugin.io:",
    "runs": "kampai.plugin.runs:",
    "cli": "kampai.plugin.cli:",
    "experiments": "kampai.plugin.experiments:",
}

_IO, _RUNS, _CLI, _EXP = "kampai.plugin.io", "kampai.plugin.runs", "kampai.plugin.cli", "kampai.plugin.experiments"


def _to(namespace: str, name: str, new: str | None = None) -> MovedName:
    new = new or name
    return MovedName(f"{namespace}:{new}", f"use {namespace}.{new}")


def _gone(target: str, instead: str) -> MovedName:
    return MovedName(target, instead)


#: the 1.x names that are not 2.0 names, until 3.0 (a DeprecationWarning names the new place)
_MOVED: dict[str, MovedName] = {
    **{name: _to(_IO, name) for name in (
        "atomic_write", "check_output", "symlinks_in", "read_frame", "check_columns", "default_target",
        "load_yaml", "cache_dir", "cached_json", "import_object", "import_class", "to_python")},
    "write_text_atomic": _to(_IO, "write_text_atomic", "write_text"),
    **{name: _to(_RUNS, name) for name in (
        "list_runs", "protocol_label", "MANIFEST", "file_sha256", "verify_manifest", "open_checked",
        "load_weights", "check_replaceable_run", "sign_bytes", "valid_signature", "seal_files",
        "verify_sealed", "RUNS_DIR")},
    "open_run": _to(_RUNS, "open_run", "load_run"),
    "TrainedRun": _to(_RUNS, "TrainedRun", "Run"),
    "Run": MovedName("kampai.core.runs:RunRecord", "the record is kampai.plugin.RunRecord (the trained "
                     "run, with predict, is kampai.plugin.runs.Run)"),
    **{name: _to(_CLI, name) for name in ("console", "warn", "print_table", "dumps", "epoch_progress")},
    "cli_options": _gone("kampai.core.cli.options", "use kampai.plugin.cli.Json / kampai.plugin.cli.RunsDir"),
    **{name: _to(_EXP, name) for name in (
        "load_config", "resolve_config", "resolve_metrics", "compute_metrics", "label_array",
        "unknown_categories", "registry_of")},
    "Dataset": _gone("kampai.core.registry:Dataset", "register with registry.add(name, loader, ...)"),
    "Estimator": _gone("kampai.core.registry:Estimator", "register with registry.add(name, target, ...)"),
    "NAME_RULE": _gone("kampai.core.errors:NAME_RULE", "check_name(kind, name) says what a name may hold"),
    "Steps": _gone("kampai.core.console:Steps", "use kampai.plugin.cli.console() or warn()"),
    "human_size": _gone("kampai.core.console:human_size", "format sizes in your plugin"),
    "is_estimator_class": _gone("kampai.core.registry:is_estimator_class",
                                "use kampai.plugin.io.import_class(path, check=...)"),
    "import_user_module": _gone("kampai.core.registry:import_user_module", "use importlib"),
    "torch_device": _gone("kampai.core.devices:torch_device", "use ctx.device.torch() (a Device)"),
    "merge": _gone("kampai.core.config:merge", "merge mappings in your plugin"),
    "config_to_yaml": _gone("kampai.core.config:to_yaml", "use yaml.safe_dump"),
    "env_flag": _gone("kampai.core.envflags:env_flag", "declare a Setting: the environment sets it as "
                      "KAMPAI_<SECTION>__<KEY>"),
}

# grouped as docs/plugins.md lists them
__all__ = [  # noqa: RUF022
    "API_VERSION", "hookimpl",
    # contract
    "Framework", "Task", "BuildContext", "RunContext", "TaskData", "Prediction", "Metric", "RunRecord",
    "FRAMEWORK_CAPABILITIES", "TASK_CAPABILITIES",
    # registries
    "TaskRegistry", "FrameworkRegistry", "EstimatorRegistry", "DatasetRegistry", "SplitterRegistry",
    "MetricRegistry", "SerializerRegistry", "SettingRegistry", "Serializer",
    # values
    "Setting", "Config", "Section", "section_of", "Device",
    # errors
    "KampaiError", "ConfigError", "DataError", "PluginError", "RunError", "TuneError", "UnknownNameError",
    "did_you_mean", "unknown", "check_params", "check_name",
    # data kinds
    "SeriesSet", "ForecastWindow", "SERIES", "Graph", "GraphSet", "Interactions", "RecommendQuery",
    "rank_popular", "Images",
    # helper namespaces
    "io", "runs", "cli", "experiments",
]

if TYPE_CHECKING:  # what the lazy names are, for type checkers and editors
    from kampai.core.devices import Device
    from kampai.core.errors import check_params
    from kampai.core.registry import (
        DatasetRegistry,
        EstimatorRegistry,
        FrameworkRegistry,
        MetricRegistry,
        Serializer,
        SerializerRegistry,
        SplitterRegistry,
        TaskRegistry,
    )
    from kampai.core.runs import RunRecord
    from kampai.core.settings import Setting, SettingRegistry
    from kampai.core.typed import Config, Section, section_of
    from kampai.kinds.graphs import Graph, GraphSet
    from kampai.kinds.images import Images
    from kampai.kinds.interactions import Interactions, RecommendQuery, rank_popular
    from kampai.kinds.series import SERIES, ForecastWindow, SeriesSet
    from kampai.plugin import cli, experiments, io, runs

__getattr__, __dir__ = lazy_names(__name__, globals(), _LAZY, __all__, _MOVED)
