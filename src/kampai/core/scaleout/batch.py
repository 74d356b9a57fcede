"""``runner predict RUN --data big.parquet -o out.parquet --ray ADDRESS``: batch prediction
on every node of a Ray cluster.

This process opens the run and loads its model *verified* (the signed manifest, checked
here with this machine's key), then puts that loaded run into Ray's object store once:
the nodes never read the run folder, so they need neither its files nor the key.  A pool of
Ray actors (one CPU each, spread over the nodes) predicts the input's chunks
(:func:`kampai.core.predict_stream.read_chunks`: read here, so the input need only exist on
this machine); at most two chunks per actor are in flight and results are taken back in
input order, so memory stays flat in the input size and the output is in order.  The
output is written here, whole or not at all.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kampai.core.scaleout.cluster import RayError, cluster_cpus, connect

if TYPE_CHECKING:
    import pandas as pd

#: chunks in flight per actor (one running, one queued)
IN_FLIGHT = 2


class _Predictor:
    """A Ray actor: holds the driver's verified run, predicts chunks."""

    def __init__(self, run: Any) -> None:
        self.run = run

    def predict(self, chunk: pd.DataFrame) -> pd.DataFrame:
        from kampai.core import engine

        return engine.predict(self.run, chunk)

    def node(self) -> str:
        from kampai.core.scaleout.cluster import node_label

        return node_label()


def predict_on_ray(run: Any, path: str | Path, address: str | None, *, actors: int | None = None,
                   rows: int | None = None) -> Iterator[pd.DataFrame]:
    """The run's predictions for the file at ``path``, chunk by chunk in input order,
    computed by actors on the Ray cluster at ``address``."""
    from kampai.core.predict_stream import CHUNK_ROWS, run_chunks
    from kampai.core.trained_run import _signature

    run.model  # noqa: B018 - loaded and verified here, before anything is shipped
    _signature(run)  # the signed signature, read with the model's bytes
    ray = connect(address)
    try:
        count = actors or cluster_cpus(ray)
        cls = ray.remote(_Predictor).options(num_cpus=1, scheduling_strategy="SPREAD")
        run_ref = ray.put(run)
        pool = [cls.remote(run_ref) for _ in range(count)]
        inflight: deque[Any] = deque()
        for i, chunk in enumerate(run_chunks(run, path, rows or CHUNK_ROWS)):
            inflight.append(pool[i % count].predict.remote(chunk))
            if len(inflight) >= count * IN_FLIGHT:
                yield _get(ray, inflight.popleft())
        while inflight:
            yield _get(ray, inflight.popleft())
    finally:
        with contextlib.suppress(Exception):
            ray.shutdown()


def _get(ray: Any, ref: Any) -> pd.DataFrame:
    from kampai.core.errors import KampaiError

    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        cause = getattr(exc, "cause", None)
        if isinstance(cause, KampaiError):
            raise cause from None
        raise RayError(f"Batch prediction failed on the Ray cluster: {cause or exc}") from None
    except ray.exceptions.RayError as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise RayError(f"Batch prediction lost a Ray worker: {first}") from None
