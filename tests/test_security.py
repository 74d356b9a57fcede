"""Nothing runs code from a file kampai did not authenticate: malicious pickles are planted
where an attacker who can write the run folder or the tuning cache would put them, every
known way around the manifest is tried, and the payload never runs."""

from __future__ import annotations

import builtins
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import joblib
import pytest

import kampai
from helpers import invoke


class Payload:
    """Unpickling this writes the marker file: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (builtins.exec, (f"open({self.marker!r}, 'w').write('pwned')",))


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    run = kampai.train(task="classification", data="sklearn:iris", model="LogisticRegression", verbose=False)
    return Path(run.run_dir)


def _plant(run_dir: Path, marker: Path) -> Path:
    """The attacker's model: a pickle payload, with the plugin's own model.json hash updated."""
    model = run_dir / "model" / "model.joblib"
    joblib.dump(Payload(marker), model)
    info = json.loads((run_dir / "model" / "model.json").read_text())
    info["sha256"] = _sha(model)
    (run_dir / "model" / "model.json").write_text(json.dumps(info))
    return model


def _manifest(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "manifest.json").read_text())


def _rehash(run_dir: Path, keep_signature: bool = True) -> None:
    manifest = _manifest(run_dir)
    manifest["files"] = {p.relative_to(run_dir).as_posix(): _sha(p) for p in sorted(run_dir.rglob("*"))
                         if p.is_file() and p.name != "manifest.json"}
    if not keep_signature:
        manifest.pop("signature")
    (run_dir / "manifest.json").write_text(json.dumps(manifest))


def _empty_manifest(run_dir: Path) -> None:
    (run_dir / "manifest.json").write_text(json.dumps({"files": {}}))


def _no_manifest(run_dir: Path) -> None:
    (run_dir / "manifest.json").unlink()
    meta = json.loads((run_dir / "meta.json").read_text())
    meta.pop("manifest", None)
    (run_dir / "meta.json").write_text(json.dumps(meta))


def _other_key(run_dir: Path) -> None:
    """The attacker signs with a key of their own (they cannot read ours)."""
    from kampai.core.runs import write_manifest

    old = os.environ.get("KAMPAI_SECRET_KEY")
    os.environ["KAMPAI_SECRET_KEY"] = "the attacker's own key, 32 bytes or more"
    try:
        write_manifest(run_dir)
    finally:
        if old is None:
            os.environ.pop("KAMPAI_SECRET_KEY")
        else:
            os.environ["KAMPAI_SECRET_KEY"] = old


def _forged_key_id(run_dir: Path) -> None:
    """Rehash everything and copy our key id (public) into the signature: the HMAC fails."""
    from kampai.core import signing

    _rehash(run_dir)
    manifest = _manifest(run_dir)
    manifest["signature"]["key_id"] = signing.key_id()
    (run_dir / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize(("tamper", "phrase"), [
    (_empty_manifest, "is not signed"),
    (_no_manifest, "has no manifest.json"),
    (lambda d: _rehash(d, keep_signature=False), "is not signed"),
    (_rehash, "does not match its signature"),
    (_forged_key_id, "does not match its signature"),
    (_other_key, "was signed with another key"),
    (lambda d: None, "does not match its recorded sha256"),
])
def test_a_planted_pickle_never_runs(run_dir: Path, tmp_path: Path, tamper: Any, phrase: str, cli: Any) -> None:
    marker = tmp_path / "marker"
    _plant(run_dir, marker)
    tamper(run_dir)
    frame = kampai.load_run(run_dir)
    result = cli("predict", str(run_dir), "--data", "sklearn:iris")
    assert result.returncode == 2, result.stderr
    assert phrase in result.stderr
    assert "Refusing to load it" in result.stderr or "another key" in result.stderr
    with pytest.raises(kampai.KampaiError, match=r"manifest|sha256|signed"):
        _ = frame.model
    assert not marker.exists(), "the payload ran"


def test_a_file_added_to_the_model_folder_is_refused(run_dir: Path, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    joblib.dump(Payload(marker), run_dir / "model" / "extra.joblib")
    code, _, err = invoke("predict", str(run_dir), "--data", "sklearn:iris")
    assert code == 2 and "'model/extra.joblib' is not in its signed manifest.json" in err
    assert not marker.exists()


def test_runs_trust_re_signs_a_run_the_user_vouches_for(run_dir: Path) -> None:
    _no_manifest(run_dir)
    code, _, err = invoke("predict", str(run_dir), "--data", "sklearn:iris")
    assert code == 2 and "runner runs trust" in err
    code, _, err = invoke("runs", "trust", str(run_dir), "--yes")
    assert code == 0, err
    code, out, err = invoke("predict", str(run_dir), "--data", "sklearn:iris")
    assert code == 0, err
    assert out.count("\n") == 151


def test_a_planted_fold_cache_entry_is_recomputed_not_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    common = dict(task="classification", data="sklearn:iris", model="LogisticRegression",
                  search={"C": {"low": 0.1, "high": 10.0, "log": True}},
                  split={"method": "stratified_kfold", "folds": 3}, trials=2, verbose=False)
    kampai.tune(study="first", **common)
    entries = sorted(Path(".kampai/cache/tune").rglob("*.joblib"))
    assert len(entries) == 3 and all(e.with_suffix(".sig").exists() for e in entries)
    for entry in entries:  # the attacker swaps every entry, keeping the signature files
        joblib.dump(Payload(marker), entry)
    result = kampai.tune(study="second", **common)
    assert result.ran == 2 and not marker.exists()
    # the entries were recomputed and re-signed: a third study reads them from disk again
    assert all(joblib.load(e).__class__ is tuple for e in entries)


def test_skops_serializer_round_trips_and_refuses_types_not_recorded_at_save(tmp_path: Path) -> None:
    """--serializer skops: no pickle at all; loading trusts exactly the types recorded (under
    the signed manifest) when the model was saved."""
    pytest.importorskip("skops")
    import numpy as np
    import skops.io as sio

    from kampai.plugins.sklearn import skops_format

    run = kampai.train(task="classification", data="sklearn:iris", model="RandomForestClassifier",
                       params={"n_estimators": 5}, output={"serializer": "skops"}, verbose=False)
    model_dir = run.run_dir / "model"
    assert (model_dir / "model.skops").is_file() and not list(model_dir.glob("*.joblib"))
    info = json.loads((model_dir / "model.json").read_text())
    assert info["format"] == "skops" and "sklearn.tree._tree.Tree" in info["trusted"]
    fresh = kampai.load_run(run.run_dir)
    from sklearn.datasets import load_iris

    X = load_iris(as_frame=True).data.head(10)
    assert np.array_equal(fresh.model.predict_proba(X), run.model.predict_proba(X))
    # a skops file asking for a type that was not recorded is refused, even with a matching hash
    evil = tmp_path / "evil"
    evil.mkdir()
    sio.dump({"payload": np.dtype("float64"), "f": os.getcwd.__class__}, evil / "model.skops")
    (evil / "model.json").write_text(json.dumps({**info, "sha256": hashlib.sha256(
        (evil / "model.skops").read_bytes()).hexdigest()}))
    with pytest.raises(kampai.core.errors.RunError, match="not recorded when the model was saved"):
        skops_format.load(evil)
