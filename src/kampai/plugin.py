"""The plugin SDK: the one module a kampai plugin imports.

Everything a plugin author needs, and nothing else; versioned with :data:`API_VERSION`
(semantic: a name here changes or goes only with a major version, see docs/plugins.md)::

    from kampai.plugin import Framework, Prediction, hookimpl

    class Hello(Framework):
        name = "hello"
        tasks = ("classification",)
        ...

    @hookimpl
    def kampai_register_frameworks(registry):
        registry.add(Hello())

Conformance checks for a plugin's own test suite live in :mod:`kampai.testing`.

Names are imported on first use, so ``import kampai.plugin`` costs nothing that a plugin
module (imported by ``runner plugins list``) should not pay.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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
    NAME_RULE,
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

API_VERSION = "1.0"

#: name -> module (``module:attribute`` for another name, ``module:`` for the module itself),
#: imported when first used
_LAZY = {
    # registry entries
    "Serializer": "kampai.core.registry",
    "Dataset": "kampai.core.registry",
    "Estimator": "kampai.core.registry",
    "Setting": "kampai.core.settings",
    # the loaded config, read typed (cfg.split.folds, cfg.section("tracking").enabled)
    "Config": "kampai.core.typed",
    "Section": "kampai.core.typed",
    "section_of": "kampai.core.typed",
    "Device": "kampai.core.devices",
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
    # runs
    "Run": "kampai.core.runs",
    "TrainedRun": "kampai.core.engine",
    "open_run": "kampai.core.engine:load_run",
    "list_runs": "kampai.core.hosted",
    "protocol_label": "kampai.core.runs",
    "MANIFEST": "kampai.core.runs",
    "file_sha256": "kampai.core.runs",
    "verify_manifest": "kampai.core.runs",
    "open_checked": "kampai.core.verified",
    "load_weights": "kampai.core.weights",
    # what kampai may write or replace for the user (docs/security.md)
    "atomic_write": "kampai.core.outputs",
    "write_text_atomic": "kampai.core.outputs:write_text",
    "check_output": "kampai.core.outputs",
    "check_replaceable_run": "kampai.core.outputs",
    "symlinks_in": "kampai.core.outputs",
    "sign_bytes": "kampai.core.signing:sign",
    "valid_signature": "kampai.core.signing:valid",
    "seal_files": "kampai.core.seal",
    "verify_sealed": "kampai.core.seal",
    # output
    "console": "kampai.core.console",
    "warn": "kampai.core.console",
    "Steps": "kampai.core.console",
    "print_table": "kampai.core.console",
    "human_size": "kampai.core.console",
    "dumps": "kampai.core.console",
    "epoch_progress": "kampai.core.console",
    # the CLI options commands share (typer: Json, RunsDir + RUNS_DIR, Config, Overrides ...)
    "cli_options": "kampai.core.cli.options:",
    # helpers
    "import_object": "kampai.core.registry",
    "import_class": "kampai.core.registry",
    "is_estimator_class": "kampai.core.registry",
    "import_user_module": "kampai.core.registry",
    "cache_dir": "kampai.core.diskcache",
    "cached_json": "kampai.core.diskcache",
    "merge": "kampai.core.config",
    "default_target": "kampai.core.data",
    "check_columns": "kampai.core.data",
    "read_frame": "kampai.core.data",
    "registry_of": "kampai.core.host",
    "torch_device": "kampai.core.devices",
    "check_params": "kampai.core.errors",
    "to_python": "kampai.core.plain",
    "env_flag": "kampai.core.envflags",
    "RUNS_DIR": "kampai.core.schema",
    # experiments outside a run (learning curves, pipeline generators)
    "load_config": "kampai.core.hosted",
    "resolve_config": "kampai.core.engine:resolve",
    "resolve_metrics": "kampai.core.metrics:resolve",
    "compute_metrics": "kampai.core.metrics:compute",
    "label_array": "kampai.core.metrics",
    "unknown_categories": "kampai.core.checks",
    "config_to_yaml": "kampai.core.config:to_yaml",
    # YAML from a user, with bounds on aliases and depth (a yaml.YAMLError past them)
    "load_yaml": "kampai.core.yamlsafe",
}

__all__ = [
    "API_VERSION", "FRAMEWORK_CAPABILITIES", "NAME_RULE",
    "check_name", "TASK_CAPABILITIES", "BuildContext", "ConfigError",
    "DataError", "Framework", "KampaiError", "Metric", "PluginError", "Prediction", "RunContext",
    "RunError", "Task", "TaskData", "TuneError", "UnknownNameError", "did_you_mean", "hookimpl",
    "unknown", *_LAZY,
]

if TYPE_CHECKING:  # what the lazy names are, for type checkers and editors
    import kampai.core.cli.options as cli_options
    from kampai.core.checks import unknown_categories
    from kampai.core.config import merge
    from kampai.core.config import to_yaml as config_to_yaml
    from kampai.core.console import Steps, console, dumps, epoch_progress, human_size, print_table, warn
    from kampai.core.data import check_columns, default_target, read_frame
    from kampai.core.devices import Device, torch_device
    from kampai.core.diskcache import cache_dir, cached_json
    from kampai.core.engine import TrainedRun
    from kampai.core.engine import load_run as open_run
    from kampai.core.engine import resolve as resolve_config
    from kampai.core.envflags import env_flag
    from kampai.core.errors import check_params
    from kampai.core.host import registry_of
    from kampai.core.hosted import list_runs, load_config
    from kampai.core.metrics import compute as compute_metrics
    from kampai.core.metrics import label_array
    from kampai.core.metrics import resolve as resolve_metrics
    from kampai.core.outputs import atomic_write, check_output, check_replaceable_run, symlinks_in
    from kampai.core.outputs import write_text as write_text_atomic
    from kampai.core.plain import to_python
    from kampai.core.registry import (
        Dataset,
        Estimator,
        Serializer,
        import_class,
        import_object,
        import_user_module,
        is_estimator_class,
    )
    from kampai.core.runs import MANIFEST, Run, file_sha256, protocol_label, verify_manifest
    from kampai.core.schema import RUNS_DIR
    from kampai.core.seal import seal_files, verify_sealed
    from kampai.core.settings import Setting
    from kampai.core.signing import sign as sign_bytes
    from kampai.core.signing import valid as valid_signature
    from kampai.core.typed import Config, Section, section_of
    from kampai.core.verified import open_checked
    from kampai.core.weights import load_weights
    from kampai.core.yamlsafe import load_yaml
    from kampai.kinds.graphs import Graph, GraphSet
    from kampai.kinds.images import Images
    from kampai.kinds.interactions import Interactions, RecommendQuery, rank_popular
    from kampai.kinds.series import SERIES, ForecastWindow, SeriesSet


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kampai.plugin' has no attribute '{name}'")
    module, colon, attribute = module.partition(":")
    loaded = importlib.import_module(module)
    value = loaded if colon and not attribute else getattr(loaded, attribute or name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
