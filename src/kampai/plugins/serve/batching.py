"""Micro-batching of ``runner serve``: concurrent row requests become one model call."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from kampai.plugins.serve.model import RequestError, ServedModel
from kampai.plugins.serve.rows import Columns


class Batcher:
    """Concurrent row requests (same kind, no options) become one model call.

    Requests queue while the model is busy, and the next call takes all of them (up to
    ``max_batch_size`` rows): no wait at all when a request is alone (concurrency 1).  The
    batch waits at most ``max_latency_ms`` more only while other requests are still being
    read and parsed.  Each request gets its own rows back as JSON text."""

    def __init__(self, state: Any, max_size: int, max_latency_ms: float) -> None:
        self.state, self.max_size, self.max_wait = state, max_size, max_latency_ms / 1000
        self.queue: asyncio.Queue = asyncio.Queue()
        self.task: asyncio.Task | None = None

    async def submit(self, frame: Any) -> str:
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._loop())
        future = asyncio.get_running_loop().create_future()
        self.queue.put_nowait((frame, future))
        return await future

    def _drain(self, items: list, rows: int) -> int:
        while rows < self.max_size and not self.queue.empty():
            item = self.queue.get_nowait()
            items.append(item)
            rows += len(item[0])
        return rows

    async def _collect(self) -> list:
        items = [await self.queue.get()]
        rows = self._drain(items, len(items[0][0]))
        if rows < self.max_size and self.state.parsing > 0:
            deadline = time.perf_counter() + self.max_wait
            while rows < self.max_size and self.state.parsing > 0:
                left = deadline - time.perf_counter()
                if left <= 0:
                    break
                try:
                    item = await asyncio.wait_for(self.queue.get(), left)
                except TimeoutError:
                    break
                items.append(item)
                rows = self._drain(items, rows + len(item[0]))
        return items

    async def _loop(self) -> None:
        while True:
            items = await self._collect()
            model = self.state.model
            try:
                frames = [f for f, _ in items]
                if inline(model, frames):
                    texts = _predict_parts(model, frames)
                else:
                    texts = await asyncio.to_thread(_predict_parts, model, frames)
                self.state.metrics.batch(sum(len(f) for f, _ in items))
                for (_, future), text in zip(items, texts, strict=True):
                    if not future.done():
                        future.set_result(text)
            except Exception as exc:
                if len(items) > 1 and isinstance(exc, RequestError):  # find whose rows broke it
                    for part, future in items:
                        try:
                            future.set_result(await asyncio.to_thread(model.predict_json, part))
                        except Exception as one:
                            future.set_exception(one)
                    continue
                for _, future in items:
                    if not future.done():
                        future.set_exception(exc)


#: a row-path call expected to take less than this runs on the event loop: less than the
#: hop to a worker thread and back (an ONNX forest answers a row in tens of microseconds)
INLINE_SECONDS = 0.0005
#: ... and only for a batch of at most this many rows (a busy server's batches take the thread)
INLINE_ROWS = 8


def inline(model: ServedModel, frames: list[Any]) -> bool:
    """Whether the batch of ``frames`` is predicted on the event loop (see :data:`INLINE_SECONDS`)."""
    return (model.row_seconds < INLINE_SECONDS and sum(len(f) for f in frames) <= INLINE_ROWS
            and all(isinstance(f, Columns) for f in frames))


def _predict_parts(model: ServedModel, frames: list[Any]) -> list[str]:
    """One model call for several requests' frames; each request's rows back as JSON text
    (in a worker thread: concatenating and splitting cost as much as the rows)."""
    if len(frames) == 1:
        return [model.predict_json(frames[0])]
    if all(isinstance(f, Columns) for f in frames):  # the row path: arrays joined, records split
        return model.rows_json(Columns.concat(frames), [len(f) for f in frames])
    import pandas as pd

    rows, start, texts = json.loads(model.predict_json(pd.concat(frames, ignore_index=True))), 0, []
    for part in frames:
        texts.append(json.dumps(rows[start:start + len(part)]))
        start += len(part)
    return texts
