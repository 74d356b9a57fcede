"""Reading data: CSV and Parquet files, or bundled datasets by name (``sklearn:iris``)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from kampai.core.errors import DataError, did_you_mean, unknown

if TYPE_CHECKING:
    import pandas as pd

READERS = {".csv": "read_csv", ".tsv": "read_csv", ".parquet": "read_parquet", ".pq": "read_parquet"}


def is_dataset_name(path: str) -> bool:
    """``sklearn:iris`` is a bundled name; ``C:\\x.csv`` and ``data/x.csv`` are files."""
    head, sep, _ = path.partition(":")
    return bool(sep) and len(head) > 1 and "/" not in head and "\\" not in head


def read_frame(path: str | Path) -> pd.DataFrame:
    """Read a CSV/Parquet file or a bundled dataset into a DataFrame."""
    import pandas as pd

    text = str(path)
    if is_dataset_name(text):
        from kampai.core.host import get_host

        datasets = get_host().datasets()
        if text not in datasets:
            raise unknown("dataset", text, list(datasets), "List them with 'runner datasets list'.")
        return datasets.get(text).loader()
    file = Path(text)
    if not file.exists():
        raise DataError(f"Data file '{file}' does not exist.")
    if not file.is_dir() and not file.is_file():  # /dev/zero behind x.csv would be read until memory runs out
        raise DataError(f"Data file '{file}' is not a regular file (a device, a pipe or a socket): give a "
                        "CSV/Parquet file (or copy the stream to one first).")
    reader = READERS.get(file.suffix.lower())
    if reader is None or file.is_dir():
        from kampai.core.host import get_host

        frame = get_host().hook.kampai_read_data(path=text)  # a plugin's format (image folders)
        if frame is not None:
            frame.attrs.setdefault("path", str(file))
            return frame
        raise DataError(f"Cannot read '{file}': use a .csv, .tsv or .parquet file.")
    if reader == "read_csv":
        from kampai.core.checks import check_header

        check_header(file)
    try:
        kwargs = {"sep": "\t"} if file.suffix.lower() == ".tsv" else {}
        # through a handle this module can see: read_progress() tells how far the reader is
        with _reading(file) as handle:
            frame = getattr(pd, reader)(handle, **kwargs)
    except Exception as exc:
        raise DataError(f"Cannot read '{file}': {exc}") from None
    if frame.empty:
        raise DataError(f"Data file '{file}' holds no rows.")
    frame.attrs["path"] = str(file)  # tasks resolve paths inside the table against its folder
    return frame


class _Counted:
    """A binary file that counts the bytes read through it (:func:`read_progress`)."""

    def __init__(self, handle: BinaryIO, size: int) -> None:
        self._handle, self.size, self.done = handle, size, 0

    def read(self, n: int = -1) -> bytes:
        chunk = self._handle.read(n)
        self.done += len(chunk)
        return chunk

    def read1(self, n: int = -1) -> bytes:
        chunk = self._handle.read1(n)  # type: ignore[attr-defined]
        self.done += len(chunk)
        return chunk

    def readinto(self, buffer: Any) -> int:
        n = self._handle.readinto(buffer)  # type: ignore[attr-defined]
        self.done += n or 0
        return n

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._handle)

    def __getattr__(self, name: str) -> Any:  # seek, tell, closed, mode, name ...
        return getattr(self._handle, name)


#: the file :func:`read_frame` is reading now, for :func:`read_progress` (another thread)
_current: _Counted | None = None


@contextmanager
def _reading(file: Path) -> Iterator[_Counted]:
    global _current
    with file.open("rb") as handle:
        _current = _Counted(handle, file.stat().st_size)
        try:
            yield _current
        finally:
            _current = None


def read_progress() -> str | None:
    """How much of the file :func:`read_frame` is reading now has been read (``"412 MiB of
    1.2 GiB read (33%)"``); None when no file is being read.  Called from another thread (the
    progress line of a long read)."""
    current = _current
    if current is None:
        return None
    from kampai.core.console import human_size

    done, size = min(current.done, current.size), current.size
    if done >= size:
        return f"all {human_size(size)} read, building the table"
    return f"{human_size(done)} of {human_size(size)} read ({100 * done / size:.0f}%)"


def load(data_cfg: dict[str, Any], frame: pd.DataFrame | None = None) -> pd.DataFrame:
    """The frame for ``data_cfg`` (or the DataFrame given to the Python API)."""
    if frame is not None:
        return frame
    if not data_cfg.get("path"):
        raise DataError("No data given: set data.path in the config or pass --data FILE.")
    return read_frame(data_cfg["path"])


def default_target(path: str | None) -> str | None:
    """A bundled dataset's own target column, if ``path`` names one."""
    if path and is_dataset_name(str(path)):
        from kampai.core.host import get_host

        datasets = get_host().datasets()
        if path in datasets:
            return datasets.get(path).target
    return None


def fingerprint(frame: pd.DataFrame) -> str:
    """A stable content hash of a DataFrame (values, columns and dtypes)."""
    import pandas as pd

    digest = hashlib.sha256()
    digest.update(repr(list(map(str, frame.columns))).encode())
    digest.update(repr([str(t) for t in frame.dtypes]).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).values.tobytes())
    return digest.hexdigest()[:16]


def check_columns(frame: pd.DataFrame, names: list[str], role: str) -> None:
    """DataError naming the first of ``names`` that is not a column of ``frame`` (its ``role``
    in the message), with a did-you-mean and the columns there are."""
    for name in names:
        if name not in frame.columns:
            columns = [str(c) for c in frame.columns]
            raise DataError(
                f"Column '{name}' ({role}) is not in the data.{did_you_mean(name, columns)} "
                f"Columns: {', '.join(columns[:30])}{' ...' if len(columns) > 30 else ''}."
            )
