"""Registries that plugins fill through the ``kampai_register_*`` hooks.

Each registry is built once per process, the first time it is needed, by calling the
matching hook of every loaded plugin (built-in or third-party alike).  Each entry
remembers the plugin that added it, for ``runner plugins list``.  Lookups of unknown names
raise one error with a did-you-mean, owned here and nowhere else.  Importing by path
(``import_object``, ``import_class`` ...) lives in :mod:`kampai.core.import_paths` and is
importable from here too.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from kampai.core.errors import KampaiError, PluginError, unknown
from kampai.core.import_paths import import_class, import_object, import_user_module, is_estimator_class

T = TypeVar("T")


def _refuse(registry: Registry, what: str, problems: list[str]) -> None:
    if problems:
        raise PluginError(f"Plugin '{registry.current_plugin}' registers {registry.kind} {what}, which "
                          + "; ".join(problems) + ".")


class Registry(Generic[T]):
    """Name -> object, remembering which plugin added each name."""

    kind = "item"

    def __init__(self) -> None:
        self._items: dict[str, T] = {}
        self.provided_by: dict[str, str] = {}
        #: set by the host while a plugin's registration hook runs
        self.current_plugin = "?"
        #: the host that builds this registry (other registries are reached through it)
        self.host: Any = None

    def _put(self, name: str, item: T) -> None:
        if name in self._items and self.provided_by.get(name) != self.current_plugin:
            raise PluginError(
                f"Plugin '{self.current_plugin}' registers {self.kind} '{name}', already "
                f"registered by plugin '{self.provided_by[name]}'."
            )
        self._items[name] = item
        self.provided_by[name] = self.current_plugin

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise unknown(self.kind, name, self._items) from None

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))

    def items(self) -> list[tuple[str, T]]:
        return sorted(self._items.items())

    def names_by_plugin(self, plugin: str) -> list[str]:
        return sorted(n for n, p in self.provided_by.items() if p == plugin)


class TaskRegistry(Registry[Any]):
    kind = "task"

    def add(self, task: Any) -> None:
        """Register a :class:`kampai.plugin.Task` instance under ``task.name``; refused
        (PluginError naming the plugin) when it breaks the contract."""
        from kampai.core.contract_checks import task_problems

        _refuse(self, repr(getattr(task, "name", task)), task_problems(task))
        self._put(task.name, task)


class FrameworkRegistry(Registry[Any]):
    kind = "framework"

    def add(self, framework: Any) -> None:
        """Register a :class:`kampai.plugin.Framework` instance under ``framework.name``;
        refused (PluginError naming the plugin) when it breaks the contract or names a task
        no plugin registered."""
        from kampai.core.contract_checks import framework_problems

        problems = framework_problems(framework)
        if not problems and self.host is not None:
            tasks = self.host.tasks()
            problems = [f"names unknown task '{t}' (known: {', '.join(tasks)})"
                        for t in framework.tasks if t not in tasks]
        _refuse(self, repr(getattr(framework, "name", framework)), problems)
        self._put(framework.name, framework)


@dataclass
class Splitter:
    """A split strategy: ``fn(data, cfg) -> [(train_idx, test_idx), ...]``."""

    name: str
    fn: Callable[..., list]
    cv: bool
    description: str = ""


class SplitterRegistry(Registry[Splitter]):
    kind = "split method"

    def add(self, name: str, fn: Callable[..., list], *, cv: bool, description: str = "") -> None:
        """Register a split strategy; ``cv=True`` for cross-validation (several folds)."""
        _refuse(self, repr(name), [] if callable(fn) and isinstance(name, str) and name else
                ["is not a (name, callable fn) pair"])
        self._put(name, Splitter(name, fn, cv, description))


@dataclass
class Dataset:
    """A bundled dataset: ``loader()`` returns a DataFrame holding ``target`` (if any)."""

    name: str
    loader: Callable[[], Any]
    task: str | None = None
    target: str | None = None
    description: str = ""


class DatasetRegistry(Registry[Dataset]):
    kind = "dataset"

    def add(
        self, name: str, loader: Callable[[], Any], *, task: str | None = None,
        target: str | None = None, description: str = "",
    ) -> None:
        """Register a bundled dataset ``name`` (e.g. ``sklearn:iris``)."""
        _refuse(self, repr(name), [] if callable(loader) and isinstance(name, str) and ":" in name else
                ["is not a 'source:name' with a callable loader"])
        self._put(name, Dataset(name, loader, task, target, description))


class MetricRegistry(Registry[Any]):
    kind = "metric"

    def __init__(self) -> None:
        super().__init__()
        #: task -> metric name -> metric: 'rmse' of regression and 'rmse' of forecasting
        #: are different functions under one name, so metrics are looked up per task
        self._by_task: dict[str, dict[str, Any]] = {}
        self._owner: dict[tuple[str, str], str] = {}

    def add(self, metric: Any) -> None:
        """Register a :class:`kampai.plugin.Metric` for each task in ``metric.tasks``.

        One name may serve several tasks, and another metric may reuse a name for other
        tasks; registering the same (name, task) from two plugins is an error.
        """
        from kampai.core.contract import Metric

        _refuse(self, repr(getattr(metric, "name", metric)), [] if isinstance(metric, Metric) and
                callable(metric.fn) else ["is not a kampai.plugin.Metric with a callable fn"])
        for task in metric.tasks:
            owner = self._owner.get((metric.name, task))
            if owner is not None and owner != self.current_plugin:
                raise PluginError(
                    f"Plugin '{self.current_plugin}' registers metric '{metric.name}' for task "
                    f"'{task}', already registered by plugin '{owner}'."
                )
            self._by_task.setdefault(task, {})[metric.name] = metric
            self._owner[(metric.name, task)] = self.current_plugin
        self._items.setdefault(metric.name, metric)
        self.provided_by.setdefault(metric.name, self.current_plugin)

    def for_task(self, task: str) -> list[Any]:
        return [m for _, m in sorted(self._by_task.get(task, {}).items())]

    def items(self) -> list[tuple[str, Any]]:
        """Every registered metric (a name reused for other tasks appears once per metric)."""
        seen: dict[int, tuple[str, Any]] = {}
        for task in sorted(self._by_task):
            for name, metric in self._by_task[task].items():
                seen.setdefault(id(metric), (name, metric))
        return sorted(seen.values(), key=lambda item: (item[0], item[1].tasks))


@dataclass
class Serializer:
    """A model format chosen with ``--serializer NAME`` instead of the framework's own.

    ``save(model, path)`` writes into the (empty, existing) folder ``path``; ``load(path)``
    reads it back.  ``frameworks`` lists the frameworks whose models it can handle.
    ``check()``, when given, raises a KampaiError if the serializer cannot work here (its
    library is missing); the engine calls it before training.  With ``example=True`` the
    engine calls ``save(model, path, example)``, ``example`` being a :class:`TaskData` of
    the training rows (up to 1,000): what an exporter needs to know the inputs' names and
    types, and to check its export against the model (ONNX, as MLflow's ``input_example``).
    """

    name: str
    save: Callable[[Any, Any], None]
    load: Callable[[Any], Any]
    frameworks: tuple[str, ...]
    description: str = ""
    check: Callable[[], None] | None = None
    example: bool = False
    #: the kampai extra that installs its libraries (what a serving image of its runs adds)
    extra: str | None = None


class SerializerRegistry(Registry[Serializer]):
    kind = "serializer"

    def add(self, serializer: Serializer) -> None:
        """Register a :class:`Serializer` under ``serializer.name``."""
        _refuse(self, repr(getattr(serializer, "name", serializer)), [] if isinstance(serializer, Serializer)
                and callable(serializer.save) and callable(serializer.load) else
                ["is not a kampai.plugin.Serializer with callable save and load"])
        self._put(serializer.name, serializer)


@dataclass
class Estimator:
    """An estimator a config may name: ``target`` is a class or ``"module:Class"``."""

    name: str
    target: Any
    kind: str | None = None
    package: str = ""

    @property
    def path(self) -> str:
        """The public import path (``sklearn.ensemble._forest`` shows as ``sklearn.ensemble``)."""
        if isinstance(self.target, str):
            module, _, name = self.target.replace(":", ".").rpartition(".")
        else:
            module, name = self.target.__module__, self.target.__qualname__
        public = []
        for part in module.split("."):
            if part.startswith("_"):
                break
            public.append(part)
        return ".".join([*public, name])

    def load(self) -> type:
        if not isinstance(self.target, str):
            return self.target
        return import_object(self.target)


@dataclass
class EstimatorSource:
    """A lazy collection of estimators: ``loader(registry)`` adds them when first needed."""

    name: str
    loader: Callable[[EstimatorRegistry], None]
    description: str
    plugin: str = "?"


class EstimatorRegistry(Registry[Estimator]):
    """Named models of any framework.  ``kind`` is free text chosen by the plugin
    (classifier, regressor, forecaster, recommender ...); ``add_kind_rule`` lets a plugin
    say what kind a class is, for the classes a user ``--include``s."""

    kind = "estimator"

    def __init__(self) -> None:
        super().__init__()
        self.sources: list[EstimatorSource] = []
        self._sources_loaded = False
        self._next_source = 0
        self._kind_rules: list[Callable[[type], str | None]] = []

    def add_kind_rule(self, rule: Callable[[type], str | None]) -> None:
        """``rule(cls)`` returns the kind of a model class, or None when it does not know it."""
        self._kind_rules.append(rule)

    def kind_of(self, cls: type) -> str | None:
        """The kind the first rule that knows ``cls`` gives; None when none does."""
        for rule in self._kind_rules:
            kind = rule(cls)
            if kind:
                return kind
        return None

    def add(self, name: str, target: Any, *, kind: str | None = None, package: str = "") -> None:
        """Register one estimator (a class or ``"module:Class"``, imported lazily)."""
        if not package:
            module = target.split(":")[0] if isinstance(target, str) else target.__module__
            package = module.split(".")[0]
        if name in self._items and self.provided_by.get(name) != self.current_plugin:
            # Two packages may share a short name (sklearn vs sklego): keep the first,
            # the other stays reachable by its full import path.
            return
        self._items[name] = Estimator(name, target, kind, package)
        self.provided_by[name] = self.current_plugin

    def add_source(self, name: str, loader: Callable[[EstimatorRegistry], None],
                   description: str) -> None:
        """Register a lazy collection (e.g. every scikit-learn estimator)."""
        self.sources.append(EstimatorSource(name, loader, description, self.current_plugin))

    def load_sources(self, until: str | None = None) -> None:
        """Run the lazy sources (in plugin order); with ``until``, stop as soon as that name
        is registered, so resolving 'RandomForestClassifier' never imports Darts."""
        if self._sources_loaded:
            return
        while self._next_source < len(self.sources):
            if until is not None and until in self._items:
                return
            source = self.sources[self._next_source]
            self._next_source += 1
            self.current_plugin = source.plugin
            try:
                source.loader(self)
            except ImportError:
                # its library is not installed (a find_spec check can be fooled: MLEM installs
                # an import interceptor that claims every module exists): skip that source
                continue
        self._sources_loaded = True

    def include(self, module_name: str) -> int:
        """Register every estimator class defined in ``module_name`` (``--include``)."""
        try:
            module = import_user_module(module_name)
        except ImportError as exc:
            raise KampaiError(f"Cannot import '{module_name}' to include its estimators: {exc}") from None
        count = 0
        self.current_plugin = f"include:{module_name}"
        self.load_sources()  # the kind rules come with the plugins' sources
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and not name.startswith("_") and hasattr(cls, "fit"):
                self.add(name, cls, kind=self.kind_of(cls), package=module_name.split(".")[0])
                count += 1
        return count

    def resolve(self, name: str) -> type:
        """A class from a short name (``RandomForestClassifier``) or an import path.

        An import path comes from a config, which is data: what it names must be a model
        class (:func:`is_estimator_class`, or a class a plugin's kind rule knows), checked
        before anything calls it; a function or any other callable is a ConfigError.
        """
        if "." in name or ":" in name:
            return import_class(name, check=lambda cls: is_estimator_class(cls) or bool(self.kind_of(cls)))
        self.load_sources(until=name)
        return self.get(name).load()

    def listing(self, kind: str | None = None) -> list[Estimator]:
        self.load_sources()
        kinds = {e.kind for e in self._items.values() if e.kind}
        if kind is not None and kind not in kinds:
            raise unknown("estimator type", kind, kinds)
        return [e for _, e in self.items() if kind is None or e.kind == kind]
