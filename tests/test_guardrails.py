"""Guard rails (as datasette's test_docs.py): every hook documented and tested, every config
key and every CLI command documented.  They fail when someone adds one and forgets."""

from __future__ import annotations

import inspect
import re

import pytest
import yaml

from conftest import ROOT
from kampai.core import hookspecs

DOCS = ROOT / "docs"


def hook_names() -> list[str]:
    return sorted(name for name, fn in vars(hookspecs).items()
                  if name.startswith("kampai_") and inspect.isfunction(fn))


def signature(name: str) -> str:
    """``kampai_before_fit(ctx: RunContext, data: TaskData) -> None``, as docs/plugins.md shows it."""
    sig = inspect.signature(getattr(hookspecs, name))
    params = ", ".join(f"{p.name}: {p.annotation}" for p in sig.parameters.values())
    return f"{name}({params}) -> {sig.return_annotation}"


def test_there_are_hooks() -> None:
    names = hook_names()
    assert {"kampai_register_tasks", "kampai_register_frameworks", "kampai_register_estimators",
            "kampai_before_fit", "kampai_after_fit", "kampai_on_fit_error", "kampai_before_evaluate",
            "kampai_before_predict", "kampai_before_serialize"} <= set(names)


@pytest.mark.parametrize("name", hook_names())
def test_hook_has_a_docstring(name: str) -> None:
    fn = getattr(hookspecs, name)
    doc = inspect.getdoc(fn) or ""
    assert len(doc) > 40, f"{name} needs a docstring saying who calls it and what it returns"
    assert "called" in doc.lower(), f"{name}: say who calls it"
    assert re.search(r"(?i)return", doc), f"{name}: say what it returns (or that the value is ignored)"
    opts = fn.kampai_spec
    if opts.get("firstresult"):
        assert "first non-None" in doc, f"{name} is firstresult: its docstring must say so"


@pytest.mark.parametrize("name", hook_names())
def test_hook_is_typed(name: str) -> None:
    sig = inspect.signature(getattr(hookspecs, name))
    assert sig.return_annotation is not inspect.Signature.empty, name
    for param in sig.parameters.values():
        assert param.annotation is not inspect.Parameter.empty, f"{name}({param.name}) has no type"


@pytest.mark.parametrize("name", hook_names())
def test_hook_is_documented_with_its_exact_signature(name: str) -> None:
    text = (DOCS / "plugins.md").read_text()
    assert f"### `{name}`" in text, f"docs/plugins.md has no '### `{name}`' section"
    assert signature(name) in text, f"docs/plugins.md must show `{signature(name)}`"


def _test_sources() -> str:
    return "\n".join(p.read_text() for p in (ROOT / "tests").glob("test_*.py"))


@pytest.mark.parametrize("name", hook_names())
def test_hook_has_a_test(name: str) -> None:
    assert re.search(rf"def test_hook_{name}\b", _test_sources()), (
        f"no test named test_hook_{name}: add one that proves the hook fires (see tests/test_hooks.py)")


def _keys(node: dict, prefix: str = "") -> list[str]:
    out = []
    for key, value in node.items():
        dotted = f"{prefix}{key}"
        out.append(dotted)
        if isinstance(value, dict) and value:
            out.extend(_keys(value, dotted + "."))
    return out


def test_every_config_key_is_documented() -> None:
    defaults = yaml.safe_load((ROOT / "src/kampai/conf/defaults.yaml").read_text())
    text = (DOCS / "config.md").read_text()
    missing = [k for k in _keys(defaults) if f"`{k}`" not in text]
    assert not missing, f"docs/config.md does not document: {missing}"


def _commands() -> list[str]:
    import typer.main

    from kampai.core.cli import app

    root = typer.main.get_command(app)
    out = []
    for name, cmd in root.commands.items():
        subs = getattr(cmd, "commands", None)
        out.extend(f"runner {name} {sub}" for sub in subs) if subs else out.append(f"runner {name}")
    return sorted(out)


def test_every_cli_command_is_documented() -> None:
    text = (DOCS / "cli.md").read_text()
    missing = [c for c in _commands() if f"`{c}" not in text]
    assert not missing, f"docs/cli.md does not document: {missing}"


def test_readme_keeps_its_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "scripts/bootstrap && .venv/bin/runner train -c conf/experiments/iris.yaml" in readme
    assert ".venv/bin/python -m pytest -q" in readme
    assert ".venv/bin/python -m pytest -q" in (ROOT / ".ci/run").read_text()
