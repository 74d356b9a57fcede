"""A run's config made ready to train: the defaults that depend on the task and framework
filled in, and every check that can fail before any data is read (task and framework fit
together, serializer, device, estimator name, the copy target).  :func:`resolve` is what
``runner train``, ``runner tune`` and ``runner config check`` call first.
"""

from __future__ import annotations

from typing import Any

from kampai.core import config as config_mod
from kampai.core import data as data_mod
from kampai.core import schema
from kampai.core.contract import BuildContext, Framework, Task
from kampai.core.devices import Device
from kampai.core.errors import ConfigError, KampaiError
from kampai.core.host import get_host
from kampai.core.typed import Config


def resolve(cfg: dict[str, Any]) -> tuple[Config, Task, Framework]:
    """Fill the defaults that depend on the task and framework; check they fit together."""
    if not cfg.get("task"):
        raise KampaiError("No task given: set 'task' in the config or pass --task "
                          f"({', '.join(get_host().tasks())}).")
    if cfg.get("name") is not None:
        from kampai.core.errors import check_name

        check_name("run", cfg["name"])
    host = get_host()
    task = host.task(cfg["task"])
    framework = host.framework(cfg["framework"])
    if task.name not in framework.tasks:
        able = [n for n, f in get_host().frameworks().items() if task.name in f.tasks]
        raise KampaiError(
            f"Framework '{framework.name}' does not support task '{task.name}' (it supports: "
            f"{', '.join(framework.tasks)}). Frameworks for '{task.name}': {', '.join(able) or 'none'}."
        )
    config_mod.check_framework_keys(cfg, framework)
    config_mod.check_task_keys(cfg, task, host.settings(), [t for _, t in host.tasks().items()])
    # a config that did not come through config.load (a study's recorded one) gets the
    # core keys it lacks, so the typed reads below never miss one
    cfg = Config.of(config_mod.merge(schema.core_defaults(), cfg))
    if not cfg.split.method:
        cfg["split"] = config_mod.merge(cfg["split"], task.default_split)
    if cfg.split.seed is None:
        cfg["split"]["seed"] = cfg.seed
    get_host().splitters().get(cfg.split.method)
    check_serializer(cfg, framework)
    check_device(cfg, framework)
    for module in cfg.model.include:
        get_host().estimators().include(str(module))
    if not cfg["model"].get("estimator"):
        cfg["model"]["estimator"] = framework.default_estimator(task)
    check_estimator(str(cfg["model"]["estimator"]), framework)
    if not cfg["data"].get("target"):
        cfg["data"]["target"] = data_mod.default_target(cfg["data"].get("path"))
    return cfg, task, framework


def check_serializer(cfg: dict[str, Any], framework: Framework) -> None:
    """``output.serializer`` must be registered and handle the framework's models."""
    name = (cfg.get("output") or {}).get("serializer")
    if not name:
        return
    serializer = get_host().serializers().get(name)
    if framework.name not in serializer.frameworks:
        raise KampaiError(
            f"Serializer '{name}' cannot save '{framework.name}' models (it handles: "
            f"{', '.join(serializer.frameworks)}). Drop --serializer to use the framework's own format."
        )
    if serializer.check is not None:
        serializer.check()


def import_libraries(framework: Framework) -> list[str]:
    """Import what the run will use: the framework's ``requires`` and pandas.  Not
    scikit-learn for the splitters: a splitter imports what it uses, and a run that never
    touches scikit-learn (implicit's leave-last-out, Darts' holdout) does not pay its 1-2 s
    of imports (docs/benchmarks.md, every framework vs plain)."""
    import importlib
    import warnings

    done = []
    for module in (*framework.requires, "pandas"):
        try:
            with warnings.catch_warnings():  # torch_geometric (imported by skorch, PyG) scripts
                # modules with the deprecated torch.jit.script as it loads: not the user's concern
                warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated",
                                        category=FutureWarning)
                importlib.import_module(module)
        except ImportError:
            continue  # the step that needs it says so
        done.append(module)
    return done


def check_estimator(name: str, framework: Framework) -> None:
    """An unknown estimator name fails now, before any data is read: the framework's
    ``describe`` (what ``runner estimators show`` prints) is asked about it, and an error it
    raises for the name (with its did-you-mean) stops the run here.  A framework that cannot
    describe its models (``{}``) is checked when the model is built, as before."""
    if "." in name or ":" in name or "/" in name:
        return  # an import path or a hub id: checked when the model is built
    from kampai.core.diskcache import cache_dir
    from kampai.core.errors import UnknownNameError

    ctx = BuildContext(seed=0, device="cpu", resolve=get_host().estimators().resolve, cache_dir=cache_dir())
    try:
        framework.describe(name, ctx)
    except UnknownNameError as exc:
        raise UnknownNameError(f"{exc} For your own class use --include MODULE or its import path.") from None
    except KampaiError:
        raise
    except Exception:
        return


def short_name(estimator: str) -> str:
    return str(estimator).replace(":", ".").rsplit(".", 1)[-1]


def check_device(cfg: dict[str, Any], framework: Framework) -> None:
    """One rule for every framework, at the config check: a device other than auto/cpu needs
    the ``device`` capability, and one this machine lacks (mps, cuda:N) is refused here, in
    one line, not later inside the plugin."""
    device = Device.parse(cfg.get("device"))
    if device not in ("auto", "cpu") and "device" not in framework.capabilities:
        raise ConfigError(f"Framework '{framework.name}' does not train on a device: device={str(device)!r} "
                          "is for frameworks with the 'device' capability (runner frameworks list). "
                          "Drop --device or use auto/cpu.")
    if "device" in framework.capabilities and framework.device_backend == "torch":
        device.check_available()


def check_copy_target(cfg: dict[str, Any]) -> None:
    """``output.run_dir`` (a plugin's fixed-path copy of the run: the dvc plugin's
    ``--run-dir``) replaces only a kampai run, and only with ``output.overwrite``: refused
    here, before anything trains, with the folder untouched (``--run-dir runs`` is one letter
    from ``--runs-dir``; ``--run-dir data`` is the dataset)."""
    output = cfg.get("output") or {}
    if output.get("run_dir"):
        from kampai.core.outputs import check_replaceable_run

        check_replaceable_run(output["run_dir"], bool(output.get("overwrite")))

