"""The predictions file ``runner predict -o`` writes: its format from the suffix, checked
before anything is predicted, written whole or not at all."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from kampai.core.errors import KampaiError

if TYPE_CHECKING:
    import pandas as pd


#: the formats ``predict -o`` writes, by the file's suffix
PREDICTION_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".json": "json", ".jsonl": "jsonl"}


def check_predictions_output(output: str | Path) -> Path:
    """Refuse, before anything is predicted, an output whose suffix names no format kampai
    writes, or that lies inside a run folder (its files are signed)."""
    from kampai.core.outputs import check_output

    out = check_output(output, "predictions file")  # a folder, or inside a run: refused first
    if out.suffix.lower() not in PREDICTION_FORMATS:
        raise KampaiError(f"Cannot write predictions as '{out.suffix or out.name}' ({out}): use one of "
                          f"{', '.join(PREDICTION_FORMATS)}.")
    return out


def write_predictions(table: pd.DataFrame, output: str | Path) -> Path:
    """Write ``table`` in the format its suffix names (:data:`PREDICTION_FORMATS`), whole or
    not at all (a temporary file renamed into place)."""
    from kampai.core.outputs import atomic_write

    out = check_predictions_output(output)
    kind = PREDICTION_FORMATS[out.suffix.lower()]

    def write(tmp: Path) -> None:
        if kind == "parquet":
            table.to_parquet(tmp)
        elif kind == "json":
            table.to_json(tmp, orient="records", indent=2, date_format="iso")
        elif kind == "jsonl":
            table.to_json(tmp, orient="records", lines=True, date_format="iso")
        else:
            table.to_csv(tmp, index=False)

    return atomic_write(out, write, "predictions file")

