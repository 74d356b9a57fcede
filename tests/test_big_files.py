"""Big files (issue 27 target 4), on small data: reading keeps numeric dtypes and reads text
columns without object copies, long reads and fits print progress lines, prediction of a
file goes in chunks, and a HistGradientBoosting classifier predicts in one pass.  Timings
and peak memory are measured in benchmarks/big_files.py, never here."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import invoke
from kampai.core import data as data_mod
from kampai.core import predict_stream
from kampai.core.progress import Heartbeat


def _table(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(n, 4)), columns=["a", "b", "c", "d"])
    frame["count"] = rng.poisson(3, n)
    frame["colour"] = np.array(["red", "green", "blue"])[rng.integers(0, 3, n)]
    frame["target"] = (frame["a"] + (frame["colour"] == "red") + rng.normal(0, 1, n) > 0.5).astype(int)
    frame.loc[::17, "b"] = np.nan
    return frame


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_reading_keeps_numbers_and_reads_text_without_object_columns(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"t{suffix}"
    frame = _table(300)
    frame.to_csv(path, index=False) if suffix == ".csv" else frame.to_parquet(path)
    read = data_mod.read_frame(path)
    assert read["a"].dtype == np.float64 and read["b"].dtype == np.float64  # empty cells: NaN, still float
    assert read["count"].dtype == np.int64 and read["target"].dtype == np.int64
    # text: pandas' string dtype (Arrow-backed where pyarrow is installed), never an object copy
    assert read["colour"].dtype != object and pd.api.types.is_string_dtype(read["colour"].dtype)
    assert not any(isinstance(t, np.dtype) and t.kind == "O" for t in read.dtypes)  # no numpy object column
    assert read.attrs["path"] == str(path)
    assert data_mod.read_progress() is None  # nothing is being read any more


def test_read_progress_counts_the_bytes_read(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    _table(2000).to_csv(path, index=False)
    size = path.stat().st_size
    with data_mod._reading(path) as handle:
        assert data_mod.read_progress().startswith("0 B of ")
        handle.read(size // 2)
        assert f"({100 * (size // 2) / size:.0f}%)" in data_mod.read_progress()
        handle.read()
        assert "read, building the table" in data_mod.read_progress()
    assert data_mod.read_progress() is None


def test_heartbeat_prints_while_a_block_runs_and_never_when_off() -> None:
    lines: list[str] = []

    def broken() -> str:
        raise RuntimeError("a probe that fails")

    with Heartbeat("fit X", lambda: "iteration 3/9", 0.01, lines.append):
        time.sleep(0.2)
    assert lines and all("… fit X" in line and "iteration 3/9" in line for line in lines)
    count = len(lines)
    time.sleep(0.05)
    assert len(lines) == count  # stopped with the block
    with Heartbeat("read", broken, 0.01, lines.append):  # a failing probe: the line without it
        time.sleep(0.1)
    assert len(lines) > count and "a probe" not in lines[-1]
    quiet: list[str] = []
    with Heartbeat("read", None, 0, quiet.append):
        time.sleep(0.05)
    assert quiet == []


def test_a_long_read_and_fit_print_progress_lines_unless_quiet(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    _table(20_000).to_csv(path, index=False)
    args = ("train", "--task", "classification", "--data", str(path), "--target", "target", "--no-baseline",
            "--runs-dir", str(tmp_path / "runs"), "model.estimator=HistGradientBoostingClassifier",
            "model.params.max_iter=40", "model.params.early_stopping=false", "output.progress_seconds=0.005")
    code, _, err = invoke(*args)
    assert code == 0, err
    assert "… data loaded" in err, err  # the read (and the checks after it) said how far it is
    fit_lines = [line for line in err.splitlines() if "… fit HistGradientBoostingClassifier" in line]
    assert fit_lines and any("iteration " in line and "/40" in line for line in fit_lines), err
    code, out, err = invoke(*args, "--json")
    assert code == 0 and "…" not in err + out
    code, _, err = invoke(*args[:-1], "output.progress_seconds=0")
    assert code == 0 and "…" not in err


@pytest.mark.parametrize("classes", [2, 3])
def test_hist_gradient_boosting_predicts_labels_and_probabilities_in_one_pass(classes: int) -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    from kampai.core.contract import TaskData
    from kampai.plugins.sklearn.framework import SklearnFramework, _boosting_one_pass

    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(400, 3)), columns=["a", "b", "c"])
    y = np.array(["no", "yes", "maybe"])[:classes][(X["a"] * 3).astype(int) % classes]
    model = HistGradientBoostingClassifier(max_iter=15, random_state=0).fit(X, y)
    prediction = SklearnFramework().predict(model, TaskData(X=X), None)
    np.testing.assert_array_equal(prediction.y, model.predict(X))
    np.testing.assert_array_equal(prediction.proba, model.predict_proba(X))
    assert prediction.classes == list(model.classes_)

    class Own(HistGradientBoostingClassifier):  # a subclass with its own predict keeps it
        def predict(self, X):
            return np.full(len(X), self.classes_[0])

    assert _boosting_one_pass(Own(max_iter=3).fit(X, y), X) is None


def test_predicting_a_file_goes_in_chunks(tmp_path: Path) -> None:
    import kampai

    frame = _table(500)
    path = tmp_path / "new.parquet"
    frame.drop(columns="target").to_parquet(path, row_group_size=100)
    run = kampai.train(data=frame, task="classification", target="target", model="HistGradientBoostingClassifier",
                       params={"max_iter": 5}, output={"runs_dir": str(tmp_path / "runs"), "baseline": False},
                       verbose=False)
    run = kampai.load_run(run.run_dir)
    sizes = [len(t) for t in predict_stream.predict_chunks(run, path, rows=120)]
    assert max(sizes) <= 120 and sum(sizes) == 500 and len(sizes) >= 5
    whole = kampai.load_run(run.run_dir).predict(frame.drop(columns="target"))
    chunked = pd.concat(predict_stream.predict_chunks(run, path, rows=120), ignore_index=True)
    pd.testing.assert_frame_equal(chunked, whole.reset_index(drop=True))


def test_numeric_looking_text_is_checked_per_distinct_value(capsys: pytest.CaptureFixture[str]) -> None:
    from kampai.core.checks import check_training

    n = 1000
    numbers = pd.Series([str(i % 50) for i in range(n)], dtype="str")
    numbers[[3, 500, 700]] = ["n/a", "?", "n/a"]
    words = pd.Series(np.array(["red", "green", "blue"])[np.arange(n) % 3], dtype="str")
    check_training(pd.DataFrame({"amount": numbers, "colour": words, "x": np.arange(n, dtype=float)}))
    err = capsys.readouterr().err
    # every row counted, the distinct strays shown in the order they first appear
    assert "Column 'amount' looks numeric but holds 3 non-numbers ('n/a', '?')" in err, err
    assert "colour" not in err


def test_predicting_a_file_says_how_many_rows_are_done(tmp_path: Path) -> None:
    import kampai

    frame = _table(3000)
    path = tmp_path / "new.csv"
    frame.drop(columns="target").to_csv(path, index=False)
    run = kampai.train(data=frame, task="classification", target="target", model="HistGradientBoostingClassifier",
                       params={"max_iter": 30}, output={"runs_dir": str(tmp_path / "runs"), "baseline": False,
                                                        "progress_seconds": 0.001}, verbose=False)
    code, _, err = invoke("predict", str(run.run_dir), "--data", str(path), "-o", str(tmp_path / "out.parquet"))
    assert code == 0, err
    assert "… predict new.csv" in err and "rows predicted (" in err, err
    assert len(pd.read_parquet(tmp_path / "out.parquet")) == 3000


def test_reading_a_parquet_file_in_chunks_keeps_memory_flat(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    path = tmp_path / "many-groups.parquet"
    group = pd.DataFrame(np.random.default_rng(0).normal(size=(50_000, 8)), columns=list("abcdefgh"))
    with pq.ParquetWriter(path, pa.Table.from_pandas(group, preserve_index=False).schema) as writer:
        for _ in range(30):  # 30 row groups of 3.2 MB each
            writer.write_table(pa.Table.from_pandas(group, preserve_index=False))
    held = []
    for chunk in predict_stream.read_chunks(path, rows=10_000):
        held.append(pa.total_allocated_bytes())
        del chunk
    assert len(held) == 150
    # about one row group's bytes at a time, not the file's (96 MB) growing chunk by chunk (pyarrow's
    # pre_buffer kept every row group read so far: 84 MB more by the end)
    assert max(held) - min(held) < 3 * group.memory_usage().sum(), held[::10]


def test_reading_ahead_keeps_the_order_and_raises_the_readers_error() -> None:
    frames = [pd.DataFrame({"i": [i]}) for i in range(5)]
    assert [int(f["i"].iloc[0]) for f in predict_stream.read_ahead(frames)] == list(range(5))

    def broken():
        yield frames[0]
        raise data_mod.DataError("Cannot read 'x.csv': a broken row")

    got = []
    with pytest.raises(data_mod.DataError, match="a broken row"):
        for frame in predict_stream.read_ahead(broken()):
            got.append(frame)
    assert len(got) == 1
