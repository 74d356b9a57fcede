"""Nothing runs code from a file kampai did not authenticate: malicious pickles are planted
where an attacker who can write the run folder or the tuning cache would put them, every
known way around the manifest is tried, and the payload never runs."""

from __future__ import annotations

import builtins
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import joblib
import pytest

import kampai
from helpers import invoke


class Payload:
    """Unpickling this writes the marker file: proof that code ran (``append``: one more
    character per run, to count them)."""

    def __init__(self, marker: Path, append: bool = False) -> None:
        self.marker, self.mode = str(marker), "a" if append else "w"

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (builtins.exec, (f"open({self.marker!r}, {self.mode!r}).write('x')",))


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
    pytest.importorskip("optuna")  # the fold cache is the tune extra's
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


# ------------------------------------------------------------------ check-then-load races

#: The attacker: watches a folder with inotify and, each time ``target`` has been read and
#: closed, renames either the payload or the good file over it (at random), so a check that
#: reads the good bytes is often followed by a load that opens the payload.
WATCHER = r"""
import ctypes, os, random, struct, sys
folder, target, good, evil, ready = sys.argv[1:6]
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.inotify_init1(0)
IN_CLOSE_NOWRITE = 0x10
assert libc.inotify_add_watch(fd, folder.encode(), IN_CLOSE_NOWRITE) >= 0, ctypes.get_errno()
path = os.path.join(folder, target)
swaps = 0
open(ready, "w").write("ready")
while True:
    buffer = os.read(fd, 65536)
    offset, hit = 0, False
    while offset < len(buffer):
        _, _, _, size = struct.unpack_from("iIII", buffer, offset)
        name = buffer[offset + 16: offset + 16 + size].rstrip(b"\0").decode()
        offset += 16 + size
        hit = hit or name == target
    if hit:
        source = evil if random.random() < 0.5 else good
        tmp = source + ".swap"  # beside the attacker's files, outside the watched folder
        os.link(source, tmp)
        os.replace(tmp, path)  # atomic: the name always exists
        if os.path.exists(tmp):  # renaming a link over its own file does nothing
            os.unlink(tmp)
        swaps += 1
        open(ready + ".tmp", "w").write(str(swaps))
        os.replace(ready + ".tmp", ready)
"""


class Watcher:
    """The watcher process, started on a folder; ``swaps`` says how often it struck."""

    def __init__(self, folder: Path, target: str, good: Path, evil: Path) -> None:
        self.ready = good.with_name("watcher.count")
        self.process = subprocess.Popen([sys.executable, "-c", WATCHER, str(folder), target, str(good),
                                         str(evil), str(self.ready)])
        deadline = time.monotonic() + 10
        while not self.ready.exists():
            assert self.process.poll() is None and time.monotonic() < deadline, "the watcher did not start"
            time.sleep(0.01)

    @property
    def swaps(self) -> int:
        text = self.ready.read_text()
        return int(text) if text.isdigit() else 0

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


def _spare(file: Path, folder: Path, name: str) -> Path:
    """A hard link of ``file`` outside the run, for the watcher to rename back in."""
    copy = folder / name
    os.link(file, copy)
    return copy


@pytest.mark.skipif(sys.platform != "linux", reason="the watcher uses Linux inotify")
def test_a_model_swapped_between_check_and_load_never_runs(run_dir: Path, tmp_path: Path) -> None:
    """The real race of issue 22 (1.1): a watcher process renames a pickle over
    model/model.joblib the moment it has been read; 300 loads, 0 executions (the code
    before the fix ran it 6 to 21 times in 300): the model is
    loaded from the very bytes that were verified (a private copy), never from the path."""
    from sklearn.pipeline import Pipeline

    marker, attack = tmp_path / "marker", tmp_path / "attack"
    attack.mkdir()
    model = run_dir / "model" / "model.joblib"
    good = _spare(model, attack, "good")
    joblib.dump(Payload(marker, append=True), attack / "evil")
    watcher = Watcher(model.parent, model.name, good, attack / "evil")
    loaded = refused = 0
    others: list[Any] = []
    try:
        for _ in range(300):
            try:
                value = kampai.load_run(run_dir).model
            except kampai.core.errors.RunError:
                refused += 1
                continue
            if isinstance(value, Pipeline):
                loaded += 1
            else:
                others.append(value)
    finally:
        watcher.stop()
    executions = len(marker.read_text()) if marker.exists() else 0
    assert executions == 0, f"the payload ran {executions} times in 300 loads"
    assert not others, f"loads returned {others[:3]}"
    assert loaded and refused and watcher.swaps >= 20, (loaded, refused, watcher.swaps)  # the race was on


@pytest.mark.skipif(sys.platform != "linux", reason="the watcher uses Linux inotify")
def test_a_fold_cache_entry_swapped_between_check_and_load_never_runs(tmp_path: Path) -> None:
    """The same race on the tuning fold cache (1.2): the entry's HMAC is checked on the
    bytes that are then unpickled (read once), so a pickle renamed in after the check
    never runs; every read gives the real fold (from disk, or recomputed).  The window
    before the fix was short (0 to 4 executions in 200 reads, 15 to 36 in 1,000): 1,000 reads."""
    import numpy as np
    from sklearn.datasets import load_iris
    from sklearn.preprocessing import StandardScaler

    from kampai.core.tuning.fold_cache import PreprocessCache

    X = load_iris().data
    expected = StandardScaler().fit_transform(X[:100])
    root, key = tmp_path / "cache", "ab" + "0" * 30
    PreprocessCache(root).get(key, lambda: StandardScaler().fit_transform(X[:100]))
    entry = root / "ab" / f"{key}.joblib"
    marker, attack = tmp_path / "marker", tmp_path / "attack"
    attack.mkdir()
    good = _spare(entry, attack, "good")
    joblib.dump(Payload(marker, append=True), attack / "evil")
    watcher = Watcher(entry.parent, entry.name, good, attack / "evil")
    hits = wrong = 0
    try:
        for _ in range(1000):
            cache = PreprocessCache(root)  # a fresh worker: nothing in memory
            value = cache.get(key, lambda: StandardScaler().fit_transform(X[:100]))
            wrong += not np.array_equal(value, expected)
            hits += cache.stats["disk_hits"]
    finally:
        watcher.stop()
    executions = len(marker.read_text()) if marker.exists() else 0
    assert executions == 0, f"the payload ran {executions} times in 1,000 reads"
    assert wrong == 0
    assert hits and hits < 1000 and watcher.swaps >= 20, (hits, watcher.swaps)


# ------------------------------------------------------------------ links inside a run


def test_a_symlinked_model_file_or_folder_is_refused(run_dir: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A run holds no symbolic link: a model file replaced by a link (even to identical
    bytes, so every hash matches) and a sub-folder of model/ that is a link to a folder
    outside (whose files no listing of model/ would see) are both refused.  The private
    copies a load makes are gone afterwards, loaded or refused."""
    import tempfile

    private = tmp_path / "private-tmp"
    private.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    outside = tmp_path / "outside"
    outside.mkdir()
    model = run_dir / "model" / "model.joblib"
    os.replace(model, outside / "model.joblib")
    model.symlink_to(outside / "model.joblib")
    with pytest.raises(kampai.core.errors.RunError, match=r"'model/model\.joblib' is a symbolic link"):
        _ = kampai.load_run(run_dir).model
    model.unlink()
    os.replace(outside / "model.joblib", model)
    assert kampai.load_run(run_dir).model is not None  # the run itself is fine
    joblib.dump(Payload(tmp_path / "marker"), outside / "extra.joblib")
    (run_dir / "model" / "sub").symlink_to(outside, target_is_directory=True)
    with pytest.raises(kampai.core.errors.RunError, match="'model/sub' is a symbolic link"):
        _ = kampai.load_run(run_dir).model
    code, _, err = invoke("predict", str(run_dir), "--data", "sklearn:iris")
    assert code == 2 and "symbolic link" in err
    assert not list(private.iterdir())  # every private copy was removed


def test_a_config_swapped_after_the_run_was_opened_chooses_no_loader(run_dir: Path) -> None:
    """config.yaml is read when a run is opened, before anything is verified; the loader
    comes from the verified config, and a record that differs from the signed one (swapped
    in for the open, swapped back for the check) is refused."""
    config = run_dir / "config.yaml"
    signed = config.read_bytes()
    import yaml

    evil = yaml.safe_load(signed)
    evil["output"]["serializer"] = "skops"  # the attacker's choice of loader
    config.write_text(yaml.safe_dump(evil))
    opened = kampai.load_run(run_dir)
    assert opened.config["output"]["serializer"] == "skops"
    config.write_bytes(signed)  # back to the signed bytes before the model loads
    with pytest.raises(kampai.core.errors.RunError, match=r"config\.yaml changed after the run was opened"):
        _ = opened.model
    # kept swapped: the check of the bytes themselves refuses it
    opened = kampai.load_run(run_dir)
    config.write_bytes(signed + b"# edited\n")
    with pytest.raises(kampai.core.errors.RunError, match=r"'config\.yaml' does not match its recorded sha256"):
        _ = opened.model
    config.write_bytes(signed)
    assert kampai.load_run(run_dir).model is not None


def test_a_symlinked_fold_cache_signature_or_lock_is_replaced_not_written_through(tmp_path: Path) -> None:
    """Whoever can write the fold cache plants each entry's .sig as a link to a file of the
    user's, and its .lock as a link to a path that does not exist: the next tune writes its
    new signatures in place of the links, never through them, and creates nothing."""
    pytest.importorskip("optuna")  # the fold cache is the tune extra's
    common = dict(task="classification", data="sklearn:iris", model="LogisticRegression",
                  search={"C": {"low": 0.1, "high": 10.0, "log": True}},
                  split={"method": "stratified_kfold", "folds": 3}, trials=1, verbose=False)
    kampai.tune(study="first", **common)
    entries = sorted(Path(".kampai/cache/tune").rglob("*.joblib"))
    assert len(entries) == 3
    victim = tmp_path / "victim.txt"
    victim.write_text("the user's own file\n")
    for n, entry in enumerate(entries):
        entry.unlink()  # so the next tune computes and signs it again
        entry.with_suffix(".sig").unlink()
        entry.with_suffix(".sig").symlink_to(victim)
        entry.with_suffix(".lock").unlink(missing_ok=True)
        entry.with_suffix(".lock").symlink_to(tmp_path / f"created-{n}")
    kampai.tune(study="second", **common)
    assert victim.read_text() == "the user's own file\n"
    assert not list(tmp_path.glob("created-*"))
    for entry in entries:
        sig = entry.with_suffix(".sig")
        assert entry.is_file() and not sig.is_symlink() and sig.is_file()
    assert all(joblib.load(e).__class__ is tuple for e in entries)  # and they are valid entries


def test_a_fold_cache_sub_folder_planted_as_a_link_is_neither_written_nor_trimmed(tmp_path: Path) -> None:
    """A cache sub-folder replaced by a link to a folder of the user's: the cache writes no
    entry there and its size cap deletes nothing there (it used to trim '*.joblib' files
    through the link)."""
    from kampai.core.tuning.fold_cache import PreprocessCache

    root, key = tmp_path / "cache", "ab" + "0" * 30
    root.mkdir()
    victim = tmp_path / "models"
    victim.mkdir()
    (victim / "mine.joblib").write_text("the user's own model\n")
    (root / "ab").symlink_to(victim, target_is_directory=True)
    cache = PreprocessCache(root, max_mb=0)  # every write is followed by a trim to 0 bytes
    assert cache.get(key, lambda: [1, 2, 3]) == [1, 2, 3]
    assert PreprocessCache(root, max_mb=0).get("cd" + "0" * 30, lambda: [4]) == [4]
    assert sorted(p.name for p in victim.iterdir()) == ["mine.joblib"]
    assert (victim / "mine.joblib").read_text() == "the user's own model\n"


# ------------------------------------------------------------------ private copies of a killed load


def test_a_private_copy_left_by_a_killed_load_is_removed_by_the_next(run_dir: Path, tmp_path: Path) -> None:
    """SIGKILL skips the cleanup of the private verified copy; the next process removes it,
    and nothing else: not a live process's copy, a link, or a folder kampai did not name."""
    import signal

    from kampai.core import verified

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    marker = tmp_path / "inside"
    child = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\nfrom kampai.core import verified\n"
        f"with verified.mirror({str(run_dir)!r}) as copy:\n"
        f"    open({str(marker)!r}, 'w').write(str(copy.root))\n"
        "    time.sleep(120)\n")], env={**os.environ, "TMPDIR": str(tmp)})
    deadline = time.monotonic() + 60
    while not marker.exists() or not marker.read_text():
        assert child.poll() is None and time.monotonic() < deadline, "the child never reached its load"
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    left = Path(marker.read_text())
    assert left.is_dir() and (left / "model").is_dir()  # what SIGKILL leaves
    live = tmp / f"{verified.COPY_PREFIX}{os.getpid()}-mine"
    live.mkdir()
    other = tmp / "kampai-loader-notes"
    other.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("mine")
    (tmp / f"{verified.COPY_PREFIX}{child.pid}-link").symlink_to(outside)
    assert verified.sweep_copies(tmp) == 1
    assert not left.exists() and live.is_dir() and other.is_dir()
    assert (outside / "keep.txt").read_text() == "mine"
