"""How kampai calls its hooks: every call goes through pluggy, so wrappers (``wrapper=True``),
``tryfirst``/``trylast`` and hook-call monitoring (``KAMPAI_TRACE_PLUGINS=1``) apply to all.

Three kinds of hook, three ways of calling them:

* **Observer hooks** (the lifecycle ``kampai_before_*``/``kampai_after_*``/``kampai_on_*``
  and the tune hooks): one pluggy call.  An observer must not break the command, so each
  implementation is registered inside a *guard* (:func:`guard`): an exception in it is handed
  to the host (a warning naming the plugin, or a :class:`PluginError` under
  ``--strict-plugins``) and the other implementations still run.  A wrapper's own failure
  (before or after its ``yield``) is isolated the same way; what the call inside it raises
  still reaches it.
* ``kampai_register_commands``: one pluggy call, each implementation guarded; a failure marks
  its plugin broken.
* **Registration hooks** (:data:`REGISTRATION`): one pluggy call per plugin, in registration
  order, so the first plugin to register a name keeps it and every entry knows its plugin.
  A wrapper, ``tryfirst`` or ``trylast`` cannot be honoured there: :func:`refusal` says so at
  registration.

Resolution (``firstresult``) and maintenance hooks are plain pluggy calls.
"""

from __future__ import annotations

import functools
import inspect
import threading
import time
from collections.abc import Callable, Generator
from typing import IO, Any

from kampai.core.markers import PROJECT_NAME

#: hooks called plugin by plugin in registration order (:meth:`Host.call_each`)
REGISTRATION = frozenset({
    "kampai_register_tasks", "kampai_register_frameworks", "kampai_register_estimators",
    "kampai_register_datasets", "kampai_register_splitters", "kampai_register_metrics",
    "kampai_register_serializers", "kampai_add_settings",
})
#: hooks whose failing implementation marks its plugin broken instead of stopping the CLI
COMMANDS = frozenset({"kampai_register_commands"})

_OBSERVER_PREFIXES = ("kampai_before_", "kampai_after_", "kampai_on_")
_MARKER = PROJECT_NAME + "_impl"

#: ``on_error(plugin, hook, exc)``: report a guarded implementation's failure (may raise)
OnError = Callable[[str, str, Exception], None]


def is_observer(hook: str) -> bool:
    """A lifecycle or tune hook: its implementations only observe, and are guarded."""
    return hook.startswith(_OBSERVER_PREFIXES)


def refusal(plugin: str, hook: str, opts: dict[str, Any]) -> str | None:
    """Why ``plugin``'s implementation of ``hook`` with marker options ``opts`` cannot be
    honoured by the way kampai calls ``hook``, or None."""
    if hook not in REGISTRATION:
        return None
    asked = [o for o in ("wrapper", "hookwrapper", "tryfirst", "trylast") if opts.get(o)]
    if not asked:
        return None
    return (f"Plugin '{plugin}' marks '{hook}' with {'/'.join(asked)}=True, which kampai cannot honour: "
            "registration hooks are called plugin by plugin in registration order (the first plugin "
            "to register a name keeps it). Remove the option.")


def implementations(pm: Any, plugin: object, name: str, on_error: OnError) -> dict[str, Any]:
    """``plugin``'s hook implementations, by attribute name, as pluggy is to register them:
    the functions themselves, those of observer and command hooks inside a guard that
    keeps the marker options and the argument names pluggy reads."""
    found: dict[str, Any] = {}
    for attr in dir(plugin):
        opts = pm.parse_hookimpl_opts(plugin, attr)
        if opts is None:
            continue
        function = getattr(plugin, attr)
        hook = opts.get("specname") or attr
        wrapper = bool(opts.get("wrapper") or opts.get("hookwrapper"))
        if (is_observer(hook) or hook in COMMANDS) and (not wrapper or inspect.isgeneratorfunction(function)):
            # (a wrapper that is not a generator is left to pluggy, which refuses it)
            guarded = guard(function, wrapper, functools.partial(on_error, name, hook))
            setattr(guarded, _MARKER, dict(opts))
            function = guarded
        found[attr] = function
    return found


class Registered:
    """What kampai registers with pluggy in place of a plugin: a namespace holding the
    plugin's hook implementations (guarded where :func:`implementations` says), so pluggy
    orders, wraps and monitors exactly what kampai calls.  ``plugin`` is the plugin itself."""

    def __init__(self, plugin: object, name: str, functions: dict[str, Any]) -> None:
        vars(self).update(functions)
        self.__plugin = plugin
        self.__name = name

    @property
    def plugin(self) -> object:
        return self.__plugin

    def __repr__(self) -> str:
        return f"<kampai plugin {self.__name!r}: {self.__plugin!r}>"


def guard(function: Callable[..., Any], wrapper: bool, on_error: Callable[[Exception], None]) -> Any:
    """``function`` (a hook implementation; a generator when ``wrapper``) such that an
    exception of its own goes to ``on_error`` instead of the hook call (``on_error`` may
    raise, for ``--strict-plugins``)."""
    if wrapper:
        @functools.wraps(function)
        def guarded_wrapper(*args: Any, **kwargs: Any) -> Generator[None, Any, Any]:
            return (yield from _guarded_wrapper(function, on_error, *args, **kwargs))

        return guarded_wrapper

    @functools.wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except Exception as exc:
            on_error(exc)
            return None

    return guarded


def _guarded_wrapper(function: Callable[..., Any], on_error: Callable[[Exception], None],
                     *args: Any, **kwargs: Any) -> Generator[None, Any, Any]:
    """Run the wrapper ``function`` around the rest of the call; its own failure is
    reported and the call's result passes through unchanged.  Works for new-style wrappers
    (sent the result) and old-style hookwrappers (sent a ``pluggy.Result``) alike."""
    try:
        teardown = function(*args, **kwargs)
        next(teardown)
    except StopIteration:
        on_error(RuntimeError("the wrapper did not yield"))
        return (yield)
    except Exception as exc:
        on_error(exc)
        return (yield)
    try:
        inner = yield
    except BaseException as exc:  # the call inside raised: the wrapper sees it, as in pluggy
        try:
            teardown.throw(exc)
        except StopIteration as stop:
            return stop.value  # the wrapper handled it
        except Exception as own:
            if own is exc:
                raise
            on_error(own)
            raise exc from None
        teardown.close()
        on_error(RuntimeError("the wrapper yielded twice"))
        raise
    try:
        teardown.send(inner)
    except StopIteration as stop:
        return stop.value
    except Exception as exc:
        if exc is getattr(inner, "exception", None):  # an old-style wrapper re-raising the call's
            raise
        on_error(exc)
        return inner
    teardown.close()
    on_error(RuntimeError("the wrapper yielded twice"))
    return inner


def tracer(stream: IO[str]) -> tuple[Callable[..., None], Callable[..., None]]:
    """``(before, after)`` for ``PluginManager.add_hookcall_monitoring``: one line per hook
    call on ``stream`` once it returns: the hook, the plugins in call order (wrappers
    marked), the time taken, and the exception if it raised; nested calls indented."""
    local = threading.local()

    def before(hook_name: str, hook_impls: Any, kwargs: Any) -> None:
        stack = local.__dict__.setdefault("stack", [])
        stack.append(time.perf_counter())

    def after(outcome: Any, hook_name: str, hook_impls: Any, kwargs: Any) -> None:
        stack = local.__dict__.setdefault("stack", [])
        took = (time.perf_counter() - stack.pop()) * 1000 if stack else 0.0
        names = [i.plugin_name + (" (wrapper)" if i.wrapper or i.hookwrapper else "")
                 for i in reversed(hook_impls)]
        failed = f" raised {type(outcome.exception).__name__}" if outcome.exception is not None else ""
        stream.write(f"kampai trace: {'  ' * len(stack)}{hook_name} [{', '.join(names)}] "
                     f"{took:.2f} ms{failed}\n")
        stream.flush()

    return before, after
