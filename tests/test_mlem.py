"""The MLEM serializer plugin (``--serializer mlem``).

MLEM 0.4.14 needs pydantic 1, so its round trip runs in its own env (``scripts/mlem-env``,
a step of ``.ci/run``); in the main env those tests skip and the ones
below check the clear errors instead.
"""

from __future__ import annotations

import json
from importlib.util import find_spec
from pathlib import Path
from types import SimpleNamespace

import pytest

from kampai import api
from kampai.core.errors import KampaiError, RunError

HAS_MLEM = find_spec("mlem") is not None
IRIS = {"task": "classification", "data": "sklearn:iris"}  # tests/conftest.py switches tracking off
needs_mlem = pytest.mark.skipif(not HAS_MLEM, reason="MLEM lives in its own env: scripts/mlem-env")


@needs_mlem
def test_mlem_round_trip_writes_metadata_and_loads_through_mlem(tmp_path: Path, monkeypatch) -> None:
    import mlem.api

    run = api.train(**IRIS, model="LogisticRegression", verbose=False, output={"serializer": "mlem"})
    model_dir = run.run_dir / "model"
    assert sorted(p.name for p in model_dir.iterdir()) == ["model", "model.mlem"]
    meta = (model_dir / "model.mlem").read_text()
    assert "sklearn" in meta and "predict_proba" in meta
    manifest = json.loads((run.run_dir / "manifest.json").read_text())["files"]
    assert {"model/model", "model/model.mlem"} <= set(manifest)

    calls = []
    real_load = mlem.api.load
    monkeypatch.setattr(mlem.api, "load", lambda *a, **k: calls.append(a) or real_load(*a, **k))
    reopened = api.load_run(run.run_dir)
    assert list(reopened.predict("sklearn:iris")["prediction"]) == list(run.predict("sklearn:iris")["prediction"])
    assert calls, "the model was not loaded through MLEM"
    assert reopened.config["output"]["serializer"] == "mlem"


@needs_mlem
def test_mlem_metadata_changed_after_training_is_refused(tmp_path: Path) -> None:
    run = api.train(**IRIS, model="GaussianNB", verbose=False, output={"serializer": "mlem"})
    meta = run.run_dir / "model" / "model.mlem"
    meta.write_text(meta.read_text().replace("predict", "predikt"))
    with pytest.raises(RunError, match=r"model/model\.mlem' does not match its recorded sha256"):
        _ = api.load_run(run.run_dir).model


@pytest.mark.skipif(HAS_MLEM, reason="checks the message shown where MLEM is not installed")
def test_without_mlem_the_serializer_fails_before_training(tmp_path: Path, cli) -> None:
    result = cli("train", "--task", "classification", "--data", "sklearn:iris", "--serializer", "mlem")
    assert result.returncode == 2
    assert "scripts/mlem-env" in result.stderr and "pydantic<2" in result.stderr
    assert not (tmp_path / "runs").exists()


def test_mlem_refuses_frameworks_and_models_it_cannot_save() -> None:
    from kampai.core.engine import check_serializer
    from kampai.plugins import mlem as mlem_plugin

    cfg = {"output": {"serializer": "mlem"}}
    with pytest.raises(KampaiError, match="Serializer 'mlem' cannot save 'darts' models"):
        check_serializer(cfg, SimpleNamespace(name="darts"))
    torch_like = type("Linear", (), {"__module__": "torch.nn.modules.linear"})()
    with pytest.raises(KampaiError, match="MLEM cannot serialize Linear \\(torch\\) models"):
        mlem_plugin.save(torch_like, Path("unused"))


def test_unknown_serializer_is_a_clear_error(cli) -> None:
    result = cli("train", "--task", "classification", "--data", "sklearn:iris", "--serializer", "mlme")
    assert result.returncode == 2 and "Unknown serializer 'mlme'. Did you mean 'mlem'?" in result.stderr
