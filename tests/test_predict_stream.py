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
