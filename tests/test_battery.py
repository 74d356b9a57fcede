"""The bad-input battery: every mistake a careless or hostile user makes gets one readable
line (no traceback) and exit code 2, and nothing is left half-written.

Table-driven: each case is (id, setup, command, expected exit code, a phrase the message
must contain).  ``setup(tmp)`` writes the files the case needs and returns a mapping its
command can use (``{csv}``, ``{run}`` ...).  After every case ``runs/`` holds no new run
and no ``.tmp-*`` folder.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from helpers import invoke, write_churn_csv

Setup = Callable[[Path], dict[str, str]]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real run (churn table, RandomForest) that the predict/evaluate cases use."""
    import kampai

    root = tmp_path_factory.mktemp("battery-run")
    csv = write_churn_csv(root / "churn.csv")
    old = os.getcwd()
    os.chdir(root)
    try:
        run = kampai.train(task="classification", data=str(csv), target="churn", verbose=False,
                           model="RandomForestClassifier", params={"n_estimators": 20})
    finally:
        os.chdir(old)
    return (root / run.run_dir).resolve()


def _nothing(tmp: Path) -> dict[str, str]:
    return {}


def _csv(tmp: Path) -> dict[str, str]:
    return {"csv": str(write_churn_csv(tmp / "churn.csv"))}


def _write(name: str, text: str | bytes) -> Setup:
    def setup(tmp: Path) -> dict[str, str]:
        path = tmp / name
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        return {"file": str(path), **_csv(tmp)}

    return setup


def _frame(name: str, edit: Callable[[Any], Any]) -> Setup:
    def setup(tmp: Path) -> dict[str, str]:
        from helpers import churn_frame

        path = tmp / name
        edit(churn_frame()).to_csv(path, index=False)
        return {"file": str(path), **_csv(tmp)}

    return setup


def _inf(frame: Any) -> Any:
    frame.loc[3, "income"] = float("inf")
    return frame


def _stringy_age(frame: Any) -> Any:
    frame["age"] = frame["age"].astype(object)
    frame.loc[[2, 5], "age"] = "unknown"
    return frame


def _unseen_label(frame: Any) -> Any:
    frame.loc[:4, "churn"] = "maybe"
    return frame


def _tamper_run(edit: Callable[[Path], None]) -> Callable[[Path, Path], dict[str, str]]:
    def setup(tmp: Path, trained: Path) -> dict[str, str]:
        copy = tmp / "runs-copy" / trained.name
        shutil.copytree(trained, copy)
        edit(copy)
        return {"run": str(copy), **_csv(tmp)}

    return setup


def _delete(rel: str) -> Callable[[Path], None]:
    return lambda run: (run / rel).unlink()


def _garble(rel: str) -> Callable[[Path], None]:
    return lambda run: (run / rel).write_text("{not json")


def _laughs(levels: int = 9) -> str:
    """The billion laughs: 9 lines of aliases that expand to 10**9 strings."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]")
    return "task: classification\n" + "\n".join(lines) + "\n"


def _set(column: str, value: Any) -> Callable[[Any], Any]:
    def edit(frame: Any) -> Any:
        frame[column] = frame[column].astype(object)
        frame.loc[3, column] = value
        return frame

    return edit


def _dev_zero(tmp: Path) -> dict[str, str]:
    (tmp / "x.csv").symlink_to("/dev/zero")
    return {"file": str(tmp / "x.csv")}


def _fifo(tmp: Path) -> dict[str, str]:
    os.mkfifo(tmp / "pipe.csv")  # nobody writes: opening it would block forever
    return {"file": str(tmp / "pipe.csv")}


TRAIN = ["train", "--task", "classification", "--data", "{csv}", "--target", "churn", "--quiet"]
TUNE = ["tune", "--task", "classification", "--data", "sklearn:iris", "--quiet", "--no-plots",
        "--model", "LogisticRegression", "--trials", "1"]

# (id, setup, command, exit code, phrase)
CASES: list[tuple[str, Setup, list[str], int, str]] = [
    # -- configs and overrides
    ("unknown-key", _csv, [*TRAIN, "split.fold=3"], 2, "Did you mean 'folds'"),
    ("unknown-section", _csv, [*TRAIN, "trainer.epochs=3"], 2, "Unknown config key 'trainer'"),
    ("unknown-param", _csv, [*TRAIN, "model.params.n_estimatrs=3"], 2, "Did you mean 'n_estimators'"),
    ("negative-folds", _csv, [*TRAIN, "split.method=kfold", "split.folds=-3"], 2, "split.folds' must be >= 2"),
    ("one-fold", _csv, [*TRAIN, "split.method=kfold", "split.folds=1"], 2, "must be >= 2"),
    ("seed-text", _csv, [*TRAIN, "seed=abc"], 2, "Config key 'seed' must be int"),
    ("seed-negative", _csv, [*TRAIN, "seed=-1"], 2, "must be >= 0"),
    ("test-size-text", _csv, [*TRAIN, "split.test_size=half"], 2, "split.test_size' must be int or float"),
    ("shuffle-text", _csv, [*TRAIN, "split.shuffle=maybe"], 2, "split.shuffle' must be bool"),
    ("predictions-text", _csv, [*TRAIN, "output.predictions=sometimes"], 2, "must be bool"),
    ("bad-yaml-override", _csv, [*TRAIN, "model.params={a: [}"], 2, "Cannot parse overrides"),
    ("override-without-equals", _csv, [*TRAIN, "split.folds"], 2, "must look like 'section.key=value'"),
    ("params-not-mapping", _csv, [*TRAIN, "model.params=3"], 2, "must be a mapping"),
    ("missing-config", _nothing, ["train", "-c", "nowhere.yaml"], 2, "does not exist"),
    ("config-not-mapping", _write("list.yaml", "- a\n- b\n"), ["train", "-c", "{file}"], 2,
     "must hold a mapping"),
    ("config-invalid-yaml", _write("bad.yaml", "task: [classification\n"), ["train", "-c", "{file}"], 2,
     "is not valid YAML"),
    ("config-latin1", _write("latin.yaml", "name: caf\xe9\n".encode("latin-1")), ["train", "-c", "{file}"], 2,
     "is not valid"),
    ("config-binary", _write("bin.yaml", bytes(range(256))), ["train", "-c", "{file}"], 2, "is not valid"),
    # -- hostile YAML: bounded alias expansion and depth (issue 22)
    ("config-billion-laughs", _write("laughs.yaml", _laughs()), ["config", "show", "-c", "{file}"], 2,
     "aliases expand to more than"),
    ("config-5000-levels", _write("deep.yaml", "task: classification\nx: " + "[" * 5000 + "]" * 5000 + "\n"),
     ["config", "show", "-c", "{file}"], 2, "nesting deeper than 100 levels"),
    ("config-5000-nested-keys", _write("keys.yaml", "x:\n" + "".join("  " * i + "k:\n" for i in range(1, 5000))),
     ["train", "-c", "{file}"], 2, "nesting deeper than 100 levels"),
    ("config-self-alias", _write("self.yaml", "task: classification\nx: &x [1, *x]\n"),
     ["config", "show", "-c", "{file}"], 2, "an alias refers to a value that holds it"),
    ("override-billion-laughs", _csv,
     [*TRAIN, "model.params={a: &a [1,1,1,1,1,1,1,1,1,1], b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a], "
      "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b], d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c], "
      "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d], f: [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]}"], 2,
     "aliases expand to more than"),
    ("no-task", _csv, ["train", "--data", "{csv}"], 2, "No task given"),
    ("unknown-task", _csv, ["train", "--task", "clasification", "--data", "{csv}"], 2,
     "Did you mean 'classification'"),
    ("unknown-framework", _csv, [*TRAIN, "--framework", "sklern"], 2, "Did you mean 'sklearn'"),
    ("framework-wrong-task", _csv, ["train", "--task", "regression", "--framework", "darts", "--data", "{csv}",
                                    "--target", "income"], 2, "does not support task 'regression'"),
    ("unknown-estimator", _csv, [*TRAIN, "--model", "RandomForestClasifier"], 2,
     "Did you mean 'RandomForestClassifier'"),
    ("unknown-split", _csv, [*TRAIN, "split.method=stratifed"], 2, "Did you mean 'stratified'"),
    ("unknown-metric", _csv, [*TRAIN, "metrics=[acurracy]"], 2, "Did you mean 'accuracy'"),
    ("bad-run-name", _csv, [*TRAIN, "name=../../x"], 2, "Invalid run name '../../x'"),
    ("device-for-sklearn", _csv, [*TRAIN, "--device", "cuda"], 2, "does not train on a device"),
    ("device-typo", _csv, [*TRAIN, "--device", "gpu"], 2, "must be auto, cpu, cuda, cuda:N or mps"),
    ("unknown-serializer", _csv, [*TRAIN, "--serializer", "pickel"], 2, "Unknown serializer 'pickel'"),
    ("unknown-option", _csv, [*TRAIN, "--trakcing-uri", "x"], 2, "No such option"),
    ("tracking-uri-scheme", _csv, [*TRAIN[:-1], "--tracking-uri", "foo://bar"], 2, "has the scheme 'foo'"),
    ("block-syntax", _csv, ["-p", "mlflow", "train"], 2, "-p takes 'no:NAME'"),
    # -- data files
    ("missing-data", _nothing, ["train", "--task", "classification", "--data", "nope.csv"], 2,
     "does not exist"),
    ("wrong-suffix", _write("data.xlsx", "a,b\n1,2\n"), ["train", "--task", "classification", "--data", "{file}"],
     2, "use a .csv, .tsv or .parquet file"),
    ("empty-csv", _write("empty.csv", "a,b\n"), ["train", "--task", "classification", "--data", "{file}",
                                                  "--target", "b"], 2, "holds no rows"),
    ("unknown-dataset", _nothing, ["train", "--task", "classification", "--data", "sklearn:irs"], 2,
     "Did you mean 'sklearn:iris'"),
    ("missing-target", _csv, [*TRAIN[:5], "--target", "chrun"], 2, "Did you mean 'churn'"),
    ("regression-target-for-classification", _csv, [*TRAIN[:5], "--target", "income"], 2,
     "looks like a regression target"),
    ("one-class", _frame("one.csv", lambda f: f.assign(churn="yes")),
     ["train", "--task", "classification", "--data", "{file}", "--target", "churn"], 2,
     "at least 2 classes"),
    ("missing-target-values", _frame("holes.csv", lambda f: f.assign(churn=f["churn"].where(f.index % 5 > 0))),
     ["train", "--task", "classification", "--data", "{file}", "--target", "churn"], 2,
     "missing values"),
    ("infinite-values", _frame("inf.csv", _inf),
     ["train", "--task", "classification", "--data", "{file}", "--target", "churn"], 2,
     "Column 'income' holds infinite values"),
    ("data-symlink-to-dev-zero", _dev_zero, ["train", "--task", "classification", "--data", "{file}",
                                              "--target", "y"], 2, "is not a regular file"),
    ("data-fifo", _fifo, ["train", "--task", "classification", "--data", "{file}", "--target", "y"], 2,
     "is not a regular file"),
    ("regression-target-inf", _frame("inft.csv", _set("income", float("inf"))),
     ["train", "--task", "regression", "--data", "{file}", "--target", "income"], 2,
     "The target 'income' holds 1 infinite or overflowing value"),
    ("regression-target-1e308", _frame("hugt.csv", _set("income", 1e308)),
     ["train", "--task", "regression", "--data", "{file}", "--target", "income"], 2,
     "The target 'income' holds 1 infinite or overflowing value"),
    ("training-value-1e308", _frame("hug.csv", _set("income", 1e308)),
     ["train", "--task", "classification", "--data", "{file}", "--target", "churn"], 2,
     "Column 'income' holds 1e+308, too large to compute with"),
    ("duplicate-columns", _write("dup.csv", "a,a,y\n1,2,x\n3,4,y\n5,6,x\n7,8,y\n"),
     ["train", "--task", "classification", "--data", "{file}", "--target", "y"], 2,
     "has two columns named 'a'"),
    ("features-include-target", _csv, [*TRAIN, "data.features=[age,churn]"], 2, "includes the target column"),
    ("drop-unknown", _csv, [*TRAIN, "data.drop=[agee]"], 2, "Did you mean 'age'"),
    ("group-unknown", _csv, [*TRAIN, "split.method=group", "data.group=custommer"], 2, "Did you mean 'customer'"),
    ("all-dropped", _csv, [*TRAIN, "data.features=[]", "data.drop=[age,income,city,plan,customer,day]"], 2,
     "No feature columns are left"),
    # -- tuning
    ("trials-text", _nothing, [*TUNE[:-2], "tune.trials=lots"], 2, "tune.trials' must be int"),
    ("jobs-zero", _nothing, [*TUNE, "tune.jobs=0"], 2, "tune.jobs' must be >= 1"),
    ("max-failures-negative", _nothing, [*TUNE, "tune.max_failures=-1"], 2, "must be >= 0"),
    ("study-traversal", _nothing, [*TUNE, "--study", "../../x"], 2, "Invalid study name '../../x'"),
    ("study-slash", _nothing, [*TUNE, "--study", "a/b"], 2, "Invalid study name 'a/b'"),
    ("study-absolute", _nothing, [*TUNE, "--study", "/abs/path"], 2, "Invalid study name '/abs/path'"),
    ("unknown-sampler", _nothing, [*TUNE, "--sampler", "tpee"], 2, "Did you mean 'tpe'"),
    ("unknown-pruner", _nothing, [*TUNE, "--pruner", "median2"], 2, "median"),
    ("bad-search-space", _nothing, [*TUNE, "model.search={C: {type: float, low: 5, high: 1}}"], 2, "C"),
    ("unknown-direction", _nothing, [*TUNE, "--direction", "up"], 2, "'tune.direction' must be one of maximize"),
    ("storage-unreachable", _nothing, [*TUNE, "--storage", "postgresql://u:secret@127.0.0.1:1/db"], 2,
     "Cannot open the study storage"),
    ("from-unknown-study", _nothing, ["train", "--from-study", "never-tuned"], 2, "never-tuned"),
    # -- file system
    ("runs-dir-is-a-file", _write("afile", "x"), [*TRAIN, "--runs-dir", "{file}"], 2, "Cannot write runs into"),
    # -- plugins
    ("blocked-framework", _csv, ["-p", "no:sklearn", *TRAIN], 2, "plugin 'sklearn' is blocked"),
    ("unknown-command", _nothing, ["-p", "no:mlflow", "registry", "list"], 2, "may come from a plugin"),
]

# predict / evaluate cases on the trained run (setup gets the run too)
RUN_CASES: list[tuple[str, Callable[[Path, Path], dict[str, str]], list[str], int, str]] = [
    ("predict-missing-run", lambda tmp, run: {}, ["predict", "runs/nope", "--data", "sklearn:iris"], 2,
     "does not exist"),
    ("predict-no-data", lambda tmp, run: {"run": str(run)}, ["predict", "{run}"], 2, "No data given"),
    ("predict-missing-column", lambda tmp, run: {"run": str(run), **_frame("few.csv", lambda f: f.drop(
        columns=["income"]))(tmp)}, ["predict", "{run}", "--data", "{file}"], 2, "Column 'income'"),
    ("predict-string-in-numeric", lambda tmp, run: {"run": str(run), **_frame("s.csv", _stringy_age)(tmp)},
     ["predict", "{run}", "--data", "{file}"], 2, "Column 'age' was numeric"),
    ("evaluate-unseen-label", lambda tmp, run: {"run": str(run), **_frame("u.csv", _unseen_label)(tmp)},
     ["evaluate", "{run}", "--data", "{file}"], 2, "labels the model never saw in training: maybe"),
    ("evaluate-without-target", lambda tmp, run: {"run": str(run), **_frame("nt.csv", lambda f: f.drop(
        columns=["churn"]))(tmp)}, ["evaluate", "{run}", "--data", "{file}"], 2,
     "Column 'churn' (target) is not in the data"),
    ("predict-inf", lambda tmp, run: {"run": str(run), **_frame("i.csv", _set("income", float("inf")))(tmp)},
     ["predict", "{run}", "--data", "{file}"], 2, "Column 'income' holds infinite values"),
    ("predict-minus-inf", lambda tmp, run: {"run": str(run), **_frame("m.csv", _set("age", float("-inf")))(tmp)},
     ["predict", "{run}", "--data", "{file}"], 2, "Column 'age' holds infinite values"),
    ("predict-1e308", lambda tmp, run: {"run": str(run), **_frame("b.csv", _set("income", 1e308))(tmp)},
     ["predict", "{run}", "--data", "{file}"], 2, "Column 'income' holds 1e+308, too large to compute with"),
    ("predict-400-digits", lambda tmp, run: {"run": str(run), **_frame("d.csv", _set("income", int("9" * 400)))(tmp)},
     ["predict", "{run}", "--data", "{file}"], 2, "Column 'income' holds infinite values (inf, or a number beyond"),
    ("predict-400-digit-integer", lambda tmp, run: {"run": str(run), **_frame("n.csv", _set("customer", int(
        "9" * 400)))(tmp)}, ["predict", "{run}", "--data", "{file}"], 2,
     "Column 'customer' holds 999999999999... (400 characters), too large"),
    ("predict-data-dev-zero", lambda tmp, run: {"run": str(run), **_dev_zero(tmp)},
     ["predict", "{run}", "--data", "{file}"], 2, "is not a regular file"),
    ("horizon-for-classification", lambda tmp, run: {"run": str(run), **_csv(tmp)},
     ["predict", "{run}", "--data", "{csv}", "--horizon", "3"], 2, "horizon is an option of forecasting"),
    ("run-missing-meta", _tamper_run(_delete("meta.json")), ["predict", "{run}", "--data", "{csv}"], 2,
     "is incomplete: meta.json is missing"),
    ("run-corrupt-metrics", _tamper_run(_garble("metrics.json")), ["predict", "{run}", "--data", "{csv}"], 2,
     "is corrupt"),
    ("run-corrupt-manifest", _tamper_run(_garble("manifest.json")), ["predict", "{run}", "--data", "{csv}"], 2,
     "manifest.json is corrupt"),
    ("run-missing-model", _tamper_run(_delete("model/model.joblib")), ["predict", "{run}", "--data", "{csv}"], 2,
     "'model/model.joblib' is missing"),
    ("run-changed-config", _tamper_run(lambda r: (r / "config.yaml").write_text(
        (r / "config.yaml").read_text() + "\n# edited\n")), ["predict", "{run}", "--data", "{csv}"], 2,
     "'config.yaml' does not match its recorded sha256"),
    ("output-is-a-folder", lambda tmp, run: {"run": str(run), **_csv(tmp)},
     ["predict", "{run}", "--data", "{csv}", "--output", "{tmp}"], 2, "Cannot use"),
    ("registry-bad-name", lambda tmp, run: {"run": str(run)},
     ["registry", "register", "{run}", "--name", "../../x"], 2, "Invalid registered model name '../../x'"),
    ("registry-unknown-ref", lambda tmp, run: {}, ["predict", "nosuchmodel@production", "--data", "sklearn:iris"],
     2, "registry"),
]


def _fill(part: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        part = part.replace("{" + name + "}", value)
    return part


def _skip_without_its_plugin(command: list[str]) -> None:
    """A case that uses a plugin's command, option or key skips where that plugin's library is
    not installed (its option is then unknown): the core cases run with scikit-learn alone."""
    if "tune" in command or "--from-study" in command:
        pytest.importorskip("optuna")
    if "registry" in command or any(a.startswith("--tracking") or "@" in a for a in command):
        pytest.importorskip("mlflow")


def _run_case(tmp: Path, values: dict[str, str], command: list[str], code: int, phrase: str) -> None:
    _skip_without_its_plugin(command)
    values = {"tmp": str(tmp), **values}
    args = [_fill(part, values) for part in command]
    before = {p.name for p in Path("runs").iterdir()} if Path("runs").is_dir() else set()
    result = invoke(*args)
    assert result.code == code, f"{args}: exit {result.code}\n{result.stderr}"
    assert phrase in result.stderr, f"{args}: {result.stderr!r} does not say {phrase!r}"
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert len(lines) <= 1, result.stderr
    after = {p.name for p in Path("runs").iterdir()} if Path("runs").is_dir() else set()
    assert after == before, f"{args} left {sorted(after - before)} in runs/"


@pytest.mark.parametrize(("setup", "command", "code", "phrase"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input(tmp_path: Path, setup: Setup, command: list[str], code: int, phrase: str) -> None:
    _run_case(tmp_path, setup(tmp_path), command, code, phrase)


@pytest.mark.parametrize(("setup", "command", "code", "phrase"), [c[1:] for c in RUN_CASES],
                         ids=[c[0] for c in RUN_CASES])
def test_bad_input_on_a_run(tmp_path: Path, trained: Path, setup: Any, command: list[str], code: int,
                            phrase: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if command[0] == "registry":
        monkeypatch.delenv("KAMPAI_BLOCK_PLUGINS", raising=False)
    _run_case(tmp_path, setup(tmp_path, trained), command, code, phrase)


def test_the_battery_is_big_enough() -> None:
    assert len(CASES) + len(RUN_CASES) >= 60


def test_a_raising_observer_does_not_break_train(tmp_path: Path) -> None:
    """An observer's exception is a warning naming the plugin; the run and exit code stand;
    --strict-plugins turns it back into an error."""
    from kampai.core.host import get_host
    from kampai.plugin import hookimpl

    class Broken:
        @hookimpl
        def kampai_after_train(self, ctx: Any, run: Any) -> None:
            raise RuntimeError("tracker down")

        @hookimpl
        def kampai_before_fit(self, ctx: Any, data: Any) -> None:
            raise ValueError("bad observer")

    get_host().register(Broken(), "broken-observer")
    values = _csv(tmp_path)
    code, out, err = invoke(*[_fill(p, values) for p in TRAIN], "--json")
    assert code == 0, err
    assert "plugin 'broken-observer' failed in kampai_after_train (RuntimeError: tracker down)" in err
    assert "plugin 'broken-observer' failed in kampai_before_fit" in err
    assert Path(json.loads(out)["run_dir"]).is_dir()
    get_host().register(Broken(), "broken-observer-2")
    code, _, err = invoke("--strict-plugins", *[_fill(p, values) for p in TRAIN])
    assert code == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "plugin 'broken-observer" in err and "(ValueError: bad observer)" in err and "--strict-plugins" in err


def test_strict_plugins_with_an_installed_broken_observer_is_one_line(tmp_path: Path) -> None:
    """A real installed distribution whose observer raises: --strict-plugins stops the command
    with one line naming the plugin (no traceback), exit 2; --debug shows the traceback."""
    import subprocess
    import sys

    from helpers import write_distribution

    site = write_distribution(tmp_path / "site", "kampai-flaky", {"flaky": "kampai_flaky"}, {"kampai_flaky": """
        from kampai import hookimpl


        @hookimpl
        def kampai_after_train(ctx, run):
            raise RuntimeError("tracker down")
        """})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "kampai", "--strict-plugins", "train", "--task", "classification", "--data",
               "sklearn:iris", "-q", "model.params.n_estimators=5"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "plugin 'flaky' failed in kampai_after_train (RuntimeError: tracker down)" in done.stderr
    debug = subprocess.run([*command[:3], "--debug", *command[3:]], capture_output=True, text=True, env=env,
                           cwd=tmp_path, timeout=300)
    assert "Traceback" in debug.stderr and "tracker down" in debug.stderr


@pytest.fixture
def full_disk(tmp_path: Path):
    """A real, tiny file system (tmpfs of 64 KiB): training into it runs out of space."""
    import subprocess

    mount = tmp_path / "tiny"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
                                           capture_output=True).returncode != 0:
        pytest.skip("needs root and mount to make a small file system")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_is_one_line_and_leaves_nothing(tmp_path: Path, full_disk: Path) -> None:
    values = _csv(tmp_path)
    args = [_fill(p, values) for p in TRAIN] + ["--runs-dir", str(full_disk / "runs"),
                                                "model.params.n_estimators=300"]
    code, _, err = invoke(*args)
    assert code == 2, err
    assert "No space left on device" in err and "Traceback" not in err
    assert [p.name for p in (full_disk / "runs").iterdir()] == []


# -- faults and limits (issue 22, section 4) ----------------------------------------------


def test_jobs_are_capped_at_the_cpus_and_the_trials_left(tmp_path: Path) -> None:
    """`runner tune --jobs 8 --trials 1` starts no worker process (one trial: it runs in the
    main process; watched as real child processes) and says so in one line; --jobs 1000
    would get as many workers as CPUs."""
    import subprocess
    import sys
    import time

    import psutil

    pytest.importorskip("optuna")
    from kampai.core.tuning.study import cpu_count, worker_count

    loud = [a for a in TUNE if a != "--quiet"]  # the line is information, which --quiet hides
    command = [sys.executable, "-m", "kampai", *loud, "--jobs", "8", "--storage", str(tmp_path / "s.db")]
    proc = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    most = 0
    try:
        main = psutil.Process(proc.pid)
        while proc.poll() is None:
            try:
                workers = [c for c in main.children() if "spawn_main" in " ".join(c.cmdline())]
            except psutil.Error:  # a child that just left
                continue
            most = max(most, len(workers))
            time.sleep(0.05)
        out, err = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert most == 0, f"{most} worker processes for one trial"
    line = next((x for x in (out + err).splitlines() if x.startswith("--jobs 8: starting 1 worker (")), "")
    assert line.endswith("1 trial left)."), out + err
    cpus = cpu_count()
    assert worker_count(1000, 500) == (cpus, f"--jobs 1000: starting {cpus} worker{'s' if cpus > 1 else ''} "
                                             f"({cpus} CPU{'s' if cpus > 1 else ''}).")
    assert worker_count(2, 500) == (min(2, cpus), "" if cpus >= 2 else worker_count(2, 500)[1])


def test_a_short_signing_key_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 5-byte key file (or $KAMPAI_SECRET_KEY) is not used as the HMAC key: one line naming
    it and how to make a good one, exit 2, no run left."""
    values = _csv(tmp_path)
    args = [_fill(p, values) for p in TRAIN]
    short = tmp_path / "short.key"
    short.write_bytes(b"12345")
    monkeypatch.setenv("KAMPAI_KEY_FILE", str(short))
    monkeypatch.delenv("KAMPAI_SECRET_KEY", raising=False)
    code, _, err = invoke(*args)
    assert code == 2, err
    assert f"The signing key '{short}' holds 5 bytes: a key needs at least 32" in err and "token_hex" in err
    assert "Traceback" not in err
    assert not Path("runs").exists() or not list(Path("runs").iterdir())
    monkeypatch.setenv("KAMPAI_SECRET_KEY", "hunter2")
    code, _, err = invoke(*args)
    assert code == 2 and "$KAMPAI_SECRET_KEY holds 7 bytes" in err, err
    monkeypatch.setenv("KAMPAI_SECRET_KEY", "x" * 32)
    code, _, err = invoke(*args)
    assert code == 0, err


def test_a_full_disk_under_the_study_storage_is_one_line(tmp_path: Path) -> None:
    """The study's SQLite file cannot grow (a real file-size limit on the process, as a full
    disk): `runner tune` stops with one line, exit 2, no Optuna traceback."""
    pytest.importorskip("optuna")
    import resource
    import signal
    import subprocess
    import sys

    limit = 400_000  # the empty schema is about 115 KB; the WAL grows past the rest within trials

    def small_files() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG), not the process
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    command = [sys.executable, "-m", "kampai", *TUNE[:-1], "400", "--storage", str(tmp_path / "study.db")]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          preexec_fn=small_files)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr and "StorageInternalError" not in done.stderr, done.stderr[-2000:]
    assert "The study storage" in done.stderr and "refused a write" in done.stderr, done.stderr


def _git_repo(tmp: Path) -> Path:
    import subprocess

    subprocess.run(["git", "init", "-q", str(tmp)], check=True, capture_output=True)
    (tmp / "iris.yaml").write_text('name: iris\ntask: classification\ndata: {path: "sklearn:iris"}\n')
    return tmp


def test_dvc_stage_commands_quote_every_path(tmp_path: Path) -> None:
    """`runner dvc init --evaluate 'x.csv; touch pwned'`: the stage command, run by a real
    shell as `dvc repro` would, passes the path as one argument and runs nothing else."""
    import shlex
    import subprocess

    import yaml

    _git_repo(tmp_path)
    for path in ("hold out.csv", "x.csv; touch pwned", "$(touch pwned2).csv"):
        code, out, err = invoke("dvc", "init", "-c", "iris.yaml", "--dry-run", "--evaluate", path)
        assert code == 0, err
        stages = yaml.safe_load(out.split("# params.yaml")[0])["stages"]
        cmd = stages["evaluate"]["cmd"]
        # a `runner` that records its arguments, first on PATH: the shell runs the command for real
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir(exist_ok=True)
        (bin_dir / "runner").write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$ARGS_OUT"\n')
        (bin_dir / "runner").chmod(0o755)
        (tmp_path / "dvc" / "iris").mkdir(parents=True, exist_ok=True)
        args_out = tmp_path / "args.txt"
        env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "ARGS_OUT": str(args_out)}
        subprocess.run(["sh", "-c", cmd], cwd=tmp_path, env=env, check=True, timeout=30)
        assert args_out.read_text().splitlines() == ["evaluate", "dvc/iris/train", "--data", path, "--json"]
        assert not (tmp_path / "pwned").exists() and not (tmp_path / "pwned2").exists()
        for stage in stages.values():
            shlex.split(stage["cmd"])  # every command parses as shell words


@pytest.mark.parametrize("rows", ["abc", "200%", "0%", "1.5", "1", "10%,,x"])
def test_dvc_rows_are_checked(tmp_path: Path, rows: str) -> None:
    _git_repo(tmp_path)
    code, out, err = invoke("dvc", "init", "-c", "iris.yaml", "--dry-run", "--rows", rows)
    assert code == 2, out + err
    assert "--rows" in err and "is not a size" in err and "Traceback" not in err
    assert not (tmp_path / "dvc.yaml").exists()


def test_dvc_good_rows_are_kept(tmp_path: Path) -> None:
    _git_repo(tmp_path)
    code, out, err = invoke("dvc", "init", "-c", "iris.yaml", "--dry-run", "--rows", "10%, 0.5,200")
    assert code == 0, err
    assert "--rows 10%,0.5,200 " in out


def test_recommendation_k_is_bounded(tmp_path: Path) -> None:
    """`--k 1000000000` ran for minutes: k is at most 10,000, one line, exit 2; a k above the
    number of items still answers at once (the list is as long as the catalogue)."""
    import time

    import pytest as _pytest

    _pytest.importorskip("implicit")
    from kampai.tasks.recommendation import movielens

    frame = movielens()
    frame[frame["userId"] <= 60].to_csv(tmp_path / "ratings.csv", index=False)
    code, out, err = invoke("train", "--task", "recommendation", "--framework", "implicit", "--data",
                            str(tmp_path / "ratings.csv"), "--model", "BM25Recommender", "--json")
    assert code == 0, err
    run = json.loads(out)["run_dir"]
    started = time.perf_counter()
    code, _, err = invoke("predict", run, "--users", "1", "--k", "1000000000")
    assert code == 2 and "--k must be a positive integer up to 10,000, got 1000000000" in err, err
    assert time.perf_counter() - started < 10
    code, _, err = invoke("train", "--task", "recommendation", "--framework", "implicit", "--data",
                          str(tmp_path / "ratings.csv"), "split.k=1000000000")
    assert code == 2 and "split.k must be a positive integer up to 10,000" in err, err
    started = time.perf_counter()
    code, out, err = invoke("predict", run, "--users", "1", "--k", "10000")
    assert code == 0, err
    assert time.perf_counter() - started < 30


def test_an_empty_node_list_is_an_error(tmp_path: Path) -> None:
    """`--nodes ''` printed 0 rows with exit 0: it names no node, so it is a mistake."""
    import pytest as _pytest

    _pytest.importorskip("torch_geometric")
    code, out, err = invoke("train", "--task", "node-classification", "--framework", "pyg", "--data",
                            "networkx:karate", "--json", "model.params.epochs=5")
    assert code == 0, err
    run = json.loads(out)["run_dir"]
    for nodes in ("", " , ,"):
        code, out, err = invoke("predict", run, "--nodes", nodes)
        assert code == 2, out + err
        assert "--nodes names no node ids" in err and "Traceback" not in err
    code, out, err = invoke("predict", run, "--nodes", "0,33")
    assert code == 0 and len(out.strip().splitlines()) == 3, err
