"""`runner predict` on files streams them in chunks: the same table as predicting the whole
file, in order, for CSV and Parquet, into every streamed format; written whole or not at all."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import kampai
from kampai.core import predict_stream


@pytest.fixture(scope="module")
def run_and_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, Path]:
    from sklearn.datasets import load_wine

    root = tmp_path_factory.mktemp("stream")
    frame = load_wine(as_frame=True).frame
    frame["colour"] = ["red", "white", "rose"] * 59 + ["red"]
    frame.to_csv(root / "wine.csv", index=False)
    run = kampai.train(data=frame, task="classification", target="target", output={"runs_dir": str(root / "runs")},
                       model="RandomForestClassifier", params={"n_estimators": 10}, verbose=False)
    return kampai.load_run(run.run_dir), root


@pytest.mark.parametrize("source", ["wine.csv", "wine.parquet"])
@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_chunks_give_the_whole_file_prediction(run_and_data: tuple, source: str, suffix: str) -> None:
    run, root = run_and_data
    if source.endswith(".parquet"):
        pd.read_csv(root / "wine.csv").to_parquet(root / source)
    whole = run.predict(str(root / source))
    out = root / f"out-{source}{suffix}"
    rows = predict_stream.write_stream(predict_stream.predict_chunks(run, root / source, rows=17), out)
    assert rows == len(whole) == 178
    read = {".csv": pd.read_csv, ".parquet": pd.read_parquet, ".jsonl": lambda p: pd.read_json(p, lines=True)}
    got = read[suffix](out)
    expected = read[suffix](_written(whole, root / f"whole{suffix}"))
    pd.testing.assert_frame_equal(got, expected)


def _written(table: pd.DataFrame, path: Path) -> Path:
    from kampai.core.engine import write_predictions

    return write_predictions(table, path)


def test_a_failing_chunk_leaves_no_output(run_and_data: tuple) -> None:
    from kampai.core.errors import KampaiError

    run, root = run_and_data
    frame = pd.read_csv(root / "wine.csv")
    broken = frame.astype({"alcohol": object})
    broken.loc[broken.index[-5:], "alcohol"] = "not a number"  # only the last chunk cannot be predicted
    broken.to_csv(root / "broken.csv", index=False)
    out = root / "broken-out.csv"
    with pytest.raises(KampaiError):
        predict_stream.write_stream(predict_stream.predict_chunks(run, root / "broken.csv", rows=50), out)
    assert not out.exists() and not list(root.glob(".broken-out.csv*"))


def test_streams_only_where_rows_are_independent(run_and_data: tuple) -> None:
    run, root = run_and_data
    assert predict_stream.streams(run, str(root / "wine.csv"), None)
    assert predict_stream.streams(run, str(root / "wine.csv"), Path("x.parquet"))
    assert not predict_stream.streams(run, str(root / "wine.csv"), Path("x.json"))  # one JSON array: whole
    assert not predict_stream.streams(run, "sklearn:wine", None)  # a bundled dataset is in memory anyway


def test_csv_chunks_read_as_the_whole_file_does(tmp_path: Path) -> None:
    """A chunk infers dtypes from its own rows: text codes that look like numbers, a text
    column empty in a whole chunk and a float column with only whole numbers in a chunk must
    still reach the model as the whole file (and training) had them."""
    import numpy as np

    n = 120
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"x": rng.normal(size=n).round(2), "y": rng.normal(size=n)})
    frame.loc[:19, "x"] = np.arange(20)  # chunk 1: whole numbers only (written as "3" below)
    frame.loc[60:, "x"] = frame.loc[60:, "x"].where(rng.random(n - 60) > 0.2)  # NaNs only in later chunks
    frame["code"] = ["07", "12", "31"] * 13 + ["07"] + [["A3", "B1", "12", "07"][i % 4] for i in range(n - 40)]
    frame["colour"] = ["red", "green", "blue"] * (n // 3)
    frame.loc[40:59, "colour"] = np.nan  # a chunk without one colour
    frame["target"] = ((frame["y"] > 0) ^ (frame["code"] == "07")).astype(int)
    path = tmp_path / "mixed.csv"
    text = frame.to_csv(index=False)
    lines = text.splitlines()
    # the first 20 rows' x as bare integers ("3", not "3.0"): that chunk alone reads as int64
    for i in range(1, 21):
        head, _, rest = lines[i].partition(",")
        lines[i] = f"{int(float(head))},{rest}"
    path.write_text("\n".join(lines) + "\n")
    whole_frame = pd.read_csv(path)
    assert whole_frame["code"].dtype == "str" and whole_frame["x"].dtype == "float64"
    run = kampai.load_run(kampai.train(
        data=whole_frame, task="classification", target="target", output={"runs_dir": str(tmp_path / "runs")},
        model="RandomForestClassifier", params={"n_estimators": 10}, verbose=False).run_dir)
    whole = run.predict(str(path))
    chunked = pd.concat(list(predict_stream.predict_chunks(run, path, rows=20, progress=False)), ignore_index=True)
    pd.testing.assert_frame_equal(chunked, whole)  # same values, same dtypes
    for chunk in predict_stream.read_chunks(path, 20, ["code", "colour"]):
        assert chunk["code"].dtype == whole_frame["code"].dtype  # "07" stays "07", never 7
        assert chunk["colour"].dtype == whole_frame["colour"].dtype  # all empty: NaN text, not float
    assert (pd.concat(predict_stream.read_chunks(path, 20, ["code"]))["code"] == whole_frame["code"]).all()
