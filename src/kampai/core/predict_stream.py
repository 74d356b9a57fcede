"""``runner predict`` on files larger than memory: the input is read in chunks (pyarrow record
batches for Parquet, pandas ``chunksize`` for CSV/TSV, the next one read in a thread while
this one is predicted), each chunk predicted through the
verified model and appended to the output, so memory stays flat in the input size and the
output is in the input's order.

The output is written whole or not at all (a temporary file renamed into place, as
:func:`kampai.core.engine.write_predictions` does); ``.json`` (one JSON array) is written
at once from the whole table, every other format streams.  Tasks that predict ahead in
time or take their own predict options (forecasting, recommendation, graphs) predict from
the whole input as before: their rows are not independent.

The same chunks feed Ray workers in :mod:`kampai.core.scaleout.batch` (``--ray``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kampai.core.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

#: rows per chunk: large enough that per-chunk costs vanish, small enough to stay flat
CHUNK_ROWS = 100_000
#: input formats read in chunks
STREAMED_INPUTS = {".csv": "csv", ".tsv": "csv", ".parquet": "parquet", ".pq": "parquet"}
#: output formats written chunk by chunk
STREAMED_OUTPUTS = {".csv", ".parquet", ".pq", ".jsonl"}


def streams(run: Any, data: Any, output: Path | None) -> bool:
    """Whether ``runner predict`` of ``run`` on ``data`` into ``output`` goes in chunks: a
    CSV/TSV/Parquet file, a task whose rows are predicted independently, a format that appends."""
    from kampai.core.host import get_host

    if not isinstance(data, (str, Path)) or Path(str(data)).suffix.lower() not in STREAMED_INPUTS:
        return False
    if not Path(str(data)).is_file():
        return False
    if output is not None and output.suffix.lower() not in STREAMED_OUTPUTS:
        return False
    task = get_host().task(run.config["task"])
    return not ({"ahead", "predict_options"} & set(task.capabilities))


def read_chunks(path: str | Path, rows: int = CHUNK_ROWS,
                text: Iterable[str] = ()) -> Iterator[pd.DataFrame]:
    """The file's rows, ``rows`` at a time, in order (each chunk knows its file, as
    :func:`kampai.core.data.read_frame`'s frame does).

    A CSV chunk infers its dtypes from its own rows, so the columns named in ``text`` (text
    in training) are read as text: a chunk whose codes all look like numbers (``12``, ``07``)
    or whose cells are all empty gives the model the strings and NaNs the whole file gives,
    never numbers."""
    import pandas as pd

    file = Path(path)
    kind = STREAMED_INPUTS[file.suffix.lower()]
    empty = True
    try:
        if kind == "parquet":
            import pyarrow.parquet as pq

            # pre_buffer=False: with it (pyarrow's default) the reader keeps every row group's
            # bytes it has read until the end, and memory grows with the file (10M rows: 1.8 GiB)
            chunks: Iterable[pd.DataFrame] = (batch.to_pandas() for batch in
                                              pq.ParquetFile(file, pre_buffer=False).iter_batches(batch_size=rows))
        else:
            from kampai.core.checks import check_header

            check_header(file)
            sep = "\t" if file.suffix.lower() == ".tsv" else ","
            wanted = set(text)
            header = pd.read_csv(file, sep=sep, nrows=0).columns if wanted else []
            dtype = {name: "str" for name in header if name in wanted}
            chunks = pd.read_csv(file, sep=sep, chunksize=rows, dtype=dtype or None)
        for chunk in chunks:
            if chunk.empty:
                continue
            empty = False
            chunk.attrs["path"] = str(file)
            yield chunk
    except DataError:
        raise
    except (OSError, ValueError) as exc:
        raise DataError(f"Cannot read '{file}': {exc}") from None
    if empty:
        raise DataError(f"Data file '{file}' holds no rows.")


class _Writer:
    """Appends prediction tables to one file in the format its suffix names."""

    def __init__(self, tmp: Path, suffix: str) -> None:
        self.tmp, self.suffix = tmp, suffix.lower()
        self.parquet: Any = None
        self.schema: Any = None
        self.first = True
        self.rows = 0

    def add(self, table: pd.DataFrame) -> None:
        if self.suffix in (".parquet", ".pq"):
            import pyarrow as pa
            import pyarrow.parquet as pq

            if self.parquet is None:
                arrow = pa.Table.from_pandas(table, preserve_index=False)
                self.schema = arrow.schema
                self.parquet = pq.ParquetWriter(self.tmp, self.schema)
            else:  # later chunks take the first chunk's column types
                arrow = pa.Table.from_pandas(table, schema=self.schema, preserve_index=False)
            self.parquet.write_table(arrow)
        elif self.suffix == ".jsonl":
            with self.tmp.open("a", encoding="utf-8") as f:
                table.to_json(f, orient="records", lines=True, date_format="iso")
        else:
            table.to_csv(self.tmp, mode="w" if self.first else "a", header=self.first, index=False)
        self.first = False
        self.rows += len(table)

    def close(self) -> None:
        if self.parquet is not None:
            self.parquet.close()


def write_stream(tables: Iterable[pd.DataFrame], output: str | Path) -> int:
    """Write every table of ``tables`` into ``output``, in order, whole or not at all; the
    number of rows written."""
    from kampai.core.engine import check_predictions_output
    from kampai.core.outputs import atomic_write

    out = check_predictions_output(output)
    rows = 0

    def write(tmp: Path) -> None:
        nonlocal rows
        writer = _Writer(tmp, out.suffix)
        try:
            for table in tables:
                writer.add(table)
        finally:
            writer.close()
        rows = writer.rows

    atomic_write(out, write, "predictions file")
    return rows


def read_ahead(chunks: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """``chunks`` in order, the next one read in a thread while the caller works on this one
    (pyarrow decodes Parquet without the GIL: reading overlaps predicting); at most two chunks
    in memory, and an error of the reader is raised here, in its place."""
    from concurrent.futures import ThreadPoolExecutor

    source = iter(chunks)
    end = object()
    with ThreadPoolExecutor(1, thread_name_prefix="kampai-read") as pool:
        pending = pool.submit(next, source, end)
        while True:
            chunk = pending.result()
            if chunk is end:
                return
            pending = pool.submit(next, source, end)
            yield chunk


def predict_chunks(run: Any, path: str | Path, rows: int = CHUNK_ROWS, *,
                   progress: bool = True) -> Iterator[pd.DataFrame]:
    """The run's predictions for ``path``, chunk by chunk (this process); with ``progress``,
    a line on stderr at least every ``output.progress_seconds`` of the run's config (rows
    predicted so far and their rate)."""
    import time

    from kampai.core import engine
    from kampai.core.progress import Heartbeat
    from kampai.core.progress import every as progress_every

    done, started = 0, time.perf_counter()

    def probe() -> str:
        rate = done / max(time.perf_counter() - started, 1e-9)
        return f"{done:,} rows predicted ({rate:,.0f} rows/s)"

    def say(line: str) -> None:
        from kampai.core.console import console

        console().print(line, soft_wrap=True)

    seconds = progress_every(run.config) if progress else 0
    # pyarrow decodes Parquet without the GIL, and pandas (3.1) tokenizes and converts CSV
    # without it: the next chunk is read while this one is predicted (2M CSV rows, 3 pairs
    # in one process at load 3.6: 9.4-14.0 s vs 9.9-16.5 s, CPU 9.5-11.0 s vs 10.0-11.0 s)
    chunks = read_ahead(run_chunks(run, path, rows))
    with Heartbeat(f"predict {Path(path).name}", probe, seconds, say):
        for chunk in chunks:
            table = engine.predict(run, chunk)
            done += len(table)
            yield table


def run_chunks(run: Any, path: str | Path, rows: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    """The file's chunks with the column types the run was trained on (what reading the whole
    file gives): its text inputs read as text, never guessed per chunk (``07`` stays text),
    and a float input whose chunk holds no empty cell or decimal back to float64."""
    text, floats = _training_kinds(run)
    for chunk in read_chunks(path, rows, text):
        ints = [c for c in floats if c in chunk.columns and chunk[c].dtype.kind in "iu"]
        yield chunk.astype(dict.fromkeys(ints, "float64")) if ints else chunk


def _training_kinds(run: Any) -> tuple[list[str], list[str]]:
    """The inputs of the run's signature that were text and that were float64 in training."""
    from kampai.core.signature import SIGNATURE

    try:
        inputs = json.loads(run.record(SIGNATURE) or b"{}").get("inputs") or []
    except (ValueError, AttributeError):
        return [], []
    text = [str(i.get("name")) for i in inputs if str(i.get("dtype", "")).startswith(("str", "object"))]
    floats = [str(i.get("name")) for i in inputs if str(i.get("dtype", "")) == "float64"]
    return text, floats


def echo_csv(tables: Iterable[pd.DataFrame], echo: Callable[[str], None]) -> int:
    """Print the tables as one CSV (stdout: ``runner predict`` without ``-o``)."""
    rows = 0
    for table in tables:
        echo(table.to_csv(index=False, header=rows == 0))
        rows += len(table)
    return rows
