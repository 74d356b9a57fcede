"""The implicit framework adapter: collaborative filtering on the recommendation task's
:class:`kampai.plugin.Interactions`, saved with implicit's own ``save``/``load`` (npz,
loaded with ``allow_pickle=False``) plus the training matrix (scipy npz) and the id maps
(JSON): nothing that can execute code.

The model the engine handles is a :class:`~.models.Recommender` (:mod:`.models` holds the
models kampai knows): the implicit model (None for the ``popular`` baseline) plus what
recommending needs later (id maps, the training matrix for "already seen" filtering and the
item-item models' user histories, item popularity for unknown users).  Every ranking goes
through implicit's batch ``recommend`` (all users of a request at once), never a Python
loop per user.
"""

from __future__ import annotations

import inspect
import json
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kampai.plugin import (
    BuildContext,
    ConfigError,
    DataError,
    Framework,
    Prediction,
    RunError,
    TaskData,
    check_params,
)
from kampai.plugin.runs import file_sha256, open_checked
from kampai.plugins.implicit.models import (
    DEFAULT_MODEL,
    DEFAULT_PARAMS,
    GPU_MODELS,
    MODELS,
    OWNED,
    POPULAR,
    SEARCH_SPACES,
    Recommender,
    canonical,
    import_model,
    model_params,
    wants_gpu,
)

if TYPE_CHECKING:
    import numpy as np

MODEL_FILE = "model.npz"
MATRIX_FILE = "user_items.npz"
IDS_FILE = "ids.json"
INFO_FILE = "recommender.json"
#: scores at or below this are items implicit filtered out (it gives them -FLT_MAX)
FILTERED = -1e37


@contextmanager
def _blas_single() -> Iterator[None]:
    """implicit's own advice: OpenBLAS/MKL threads off while it runs its thread pool."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, "blas"):
        yield


def _pad(array: np.ndarray, k: int, fill: Any) -> np.ndarray:
    import numpy as np

    array = np.atleast_2d(array)
    if array.shape[1] >= k:
        return array[:, :k]
    pad = np.full((array.shape[0], k - array.shape[1]), fill, dtype=array.dtype)
    return np.concatenate([array, pad], axis=1)


class ImplicitFramework(Framework):
    name = "implicit"
    description = "collaborative filtering: ALS, BPR, LMF and item-item kNN (implicit), popularity baseline"
    tasks = ("recommendation",)
    extra = "implicit"
    requires = ("implicit", "scipy", "threadpoolctl")
    packages = ("implicit", "numpy", "scipy")
    capabilities = frozenset({"device", "search_space", "incremental"})
    device_backend = "implicit"  # implicit.gpu.HAS_CUDA decides, not torch (checked in build)

    # -- building ----------------------------------------------------------------------

    def default_estimator(self, task: Any) -> str:
        return DEFAULT_MODEL

    def describe(self, estimator: str, ctx: BuildContext) -> dict[str, Any]:
        name = canonical(estimator)
        defaults = DEFAULT_PARAMS.get(name, {})
        return {n: defaults.get(n, None if p.default is inspect.Parameter.empty else p.default)
                for n, p in model_params(name).items()}

    def build(self, task: Any, model_cfg: dict[str, Any], data: TaskData, ctx: BuildContext) -> Recommender:
        name = canonical(model_cfg.get("estimator") or DEFAULT_MODEL)
        params = dict(model_cfg.get("params") or {})
        valid = model_params(name)
        for key in params:
            if key in OWNED:
                raise ConfigError(f"model.params.{key} is set by kampai: use --device cpu|cuda|auto instead "
                                  f"of use_gpu (dtype is float32).")
            check_params([key], valid, f"implicit {name}", prefix="")
        use_gpu = False if name == POPULAR else wants_gpu(name, ctx.device)
        if name == POPULAR:
            return Recommender(estimator=name, params=params)
        kwargs = {**DEFAULT_PARAMS.get(name, {}), **params}
        if "random_state" in valid and kwargs.get("random_state") is None:
            kwargs["random_state"] = int(ctx.seed)
        if name in GPU_MODELS:
            kwargs["use_gpu"] = use_gpu
        model_class = import_model(MODELS[name][0])  # before the limit: its import loads the BLAS library
        with _blas_single():
            try:
                model = model_class(**kwargs)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"Bad parameters for implicit {name}: {exc}") from None
        return Recommender(estimator=name, params=params, model=model, device="cuda" if use_gpu else "cpu")

    # -- fitting -----------------------------------------------------------------------

    def _attach(self, model: Recommender, data: TaskData) -> Any:
        import numpy as np

        inter = data.X
        if not hasattr(inter, "matrix"):
            raise DataError("The implicit framework trains on the recommendation task's interactions.")
        model.user_ids, model.item_ids = inter.user_ids, inter.item_ids
        model.user_items = inter.matrix()
        model.popularity = np.bincount(inter.items, minlength=inter.n_items).astype(np.float32)
        model.info = {k: v for k, v in inter.info.items() if isinstance(v, (str, int, float, type(None)))}
        return model.user_items

    def fit(self, model: Recommender, data: TaskData, task: Any) -> Recommender:
        return self.fit_incremental(model, data, task, None)

    def fit_incremental(self, model: Recommender, data: TaskData, task: Any,
                        report: Callable[[int, Any], None] | None) -> Recommender:
        user_items = self._attach(model, data)
        if model.model is None:
            if report is not None:
                report(0, model)
            return model
        calls: list[int] = []

        def callback(iteration: int, *_: Any) -> None:
            calls.append(int(iteration))
            if report is not None:
                report(len(calls) - 1, model)

        with _blas_single():
            if model.family == "mf":
                model.model.fit(user_items, show_progress=False, callback=callback)
            else:
                with warnings.catch_warnings():  # implicit's own normalize() hands itself a COO matrix
                    warnings.filterwarnings("ignore", message="Method expects CSR input")
                    model.model.fit(user_items, show_progress=False)
        if report is not None and not calls:  # models without per-iteration callbacks: one report
            report(0, model)
        return model

    # -- recommending ------------------------------------------------------------------

    def _recommend(self, model: Recommender, codes: np.ndarray, history: Any, k: int,
                   filter_seen: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Top ``k`` (model item codes, scores, scored mask) for model user ``codes`` (-1:
        unknown) with ``history`` (CSR, one row per code) left out when ``filter_seen``."""
        import numpy as np

        from kampai.plugin import rank_popular

        n = len(codes)
        items = np.full((n, k), -1, dtype=np.int64)
        scores = np.full((n, k), -np.inf, dtype=np.float32)
        if model.family == "knn":  # item-item: scored from the user's history itself
            scored = np.diff(history.indptr) > 0
        else:  # factor models (and the popular baseline) know the users they were trained on
            scored = (codes >= 0) & model.known_users()[np.maximum(codes, 0)]
        rows = np.flatnonzero(scored) if model.model is not None else np.zeros(0, np.int64)
        if len(rows):
            userids = codes[rows] if model.family == "mf" else np.arange(len(rows))
            with _blas_single():
                ids, vals = model.model.recommend(userids, history[rows], N=min(k, history.shape[1]),
                                                  filter_already_liked_items=filter_seen)
            ids, vals = _pad(np.asarray(ids), k, -1), _pad(np.asarray(vals, dtype=np.float32), k, -np.inf)
            bad = (ids < 0) | ~np.isfinite(vals) | (vals <= FILTERED)  # implicit scores left-out items -FLT_MAX
            items[rows] = np.where(bad, -1, ids)
            scores[rows] = np.where(bad, -np.inf, vals)
        rest = np.flatnonzero(~scored) if model.model is not None else np.arange(n)
        if len(rest):
            exclude = history[rest] if filter_seen else None
            pop_items, pop_scores = rank_popular(model.popularity, k, exclude, n_rows=len(rest))
            items[rest], scores[rest] = pop_items, pop_scores
        return items, scores, scored

    def predict(self, model: Recommender, data: TaskData, task: Any) -> Prediction:
        from kampai.plugin import RecommendQuery

        if isinstance(data.X, RecommendQuery):
            query = data.X
            if query.similar_to:
                return self._similar(model, query)
            return self._for_users(model, query)
        if data.y is None:
            raise DataError("Nothing to rank: the recommendation task's test side holds the held-out "
                            "interactions in y.")
        return self._evaluate(model, data)

    def _evaluate(self, model: Recommender, data: TaskData) -> Prediction:
        """Rank for every test user of ``data.y`` (codes in its id maps), leaving out the
        history ``data.X`` (the split's train side)."""
        import numpy as np
        import scipy.sparse as sp

        truth, history = data.y, data.X
        k = int(data.info.get("k") or 10)
        users = np.unique(truth.users)
        same_users = len(truth.user_ids) == len(model.user_ids) and np.array_equal(truth.user_ids, model.user_ids)
        same_items = len(truth.item_ids) == len(model.item_ids) and np.array_equal(truth.item_ids, model.item_ids)
        codes = users.astype(np.int64) if same_users else model.codes(model.user_ids, truth.user_ids[users])
        if history is None:
            hist = model.user_items[np.maximum(codes, 0)]
            hist = sp.diags((codes >= 0).astype(np.float32)) @ hist
            hist = sp.csr_matrix(hist)
        elif same_users and same_items:
            hist = history.matrix()[users]
        else:  # new data: its train side in the model's item codes
            item_map = model.codes(model.item_ids, history.item_ids)
            keep = item_map[history.items] >= 0
            rows = np.searchsorted(users, history.users[keep])
            inside = (rows < len(users)) & (users[np.minimum(rows, len(users) - 1)] == history.users[keep])
            hist = sp.csr_matrix((history.weights[keep][inside],
                                  (rows[inside], item_map[history.items[keep]][inside])),
                                 shape=(len(users), len(model.item_ids)), dtype=np.float32)
        items, scores, scored = self._recommend(model, codes, sp.csr_matrix(hist), k, True)
        if not same_items:  # model item codes -> the data's item codes
            mapped = model.codes(truth.item_ids, model.item_ids[np.maximum(items, 0)].ravel()).reshape(items.shape)
            items = np.where(items >= 0, mapped, -1)
        return Prediction(y=items, extra={"users": users, "scores": scores, "scored": scored})

    def _for_users(self, model: Recommender, query: Any) -> Prediction:
        import numpy as np

        raw = list(dict.fromkeys(query.users))  # unique, in the order given
        codes = model.codes(model.user_ids, raw)
        known = np.zeros(len(codes), bool)
        ok = codes >= 0
        known[ok] = model.known_users()[codes[ok]]
        if not query.fallback and not known.all():
            missing = [str(u) for u, good in zip(raw, known, strict=True) if not good]
            raise DataError(f"{len(missing)} user(s) unknown at training time: {', '.join(missing[:10])}"
                            f"{' ...' if len(missing) > 10 else ''} (drop --no-fallback to give them the most "
                            "popular items).")
        codes = np.where(known, codes, -1)
        import scipy.sparse as sp

        hist = model.user_items[np.maximum(codes, 0)]
        hist = sp.csr_matrix(sp.diags(known.astype(np.float32)) @ hist)
        items, scores, scored = self._recommend(model, codes, hist, int(query.k), bool(query.filter_seen))
        ids = np.asarray(model.item_ids, dtype=object)[np.maximum(items, 0)]
        ids[items < 0] = None
        return Prediction(y=ids, extra={"users": raw, "scores": scores, "scored": scored})

    def _similar(self, model: Recommender, query: Any) -> Prediction:
        import numpy as np

        if model.model is None:
            raise DataError("The popular baseline has no item similarities: --similar-to needs a trained "
                            "model (AlternatingLeastSquares, CosineRecommender ...).")
        raw = list(dict.fromkeys(query.similar_to))
        codes = model.codes(model.item_ids, raw)
        if (codes < 0).any():
            missing = [str(i) for i, c in zip(raw, codes, strict=True) if c < 0]
            raise DataError(f"Item(s) unknown at training time: {', '.join(missing[:10])}.")
        k = int(query.k)
        with _blas_single():
            ids, vals = model.model.similar_items(codes, N=min(k + 1, len(model.item_ids)))
        ids, vals = np.atleast_2d(ids).astype(np.int64), np.atleast_2d(vals).astype(np.float32)
        vals = np.where(ids == codes[:, None], -np.inf, vals)  # an item is not similar to itself
        order = np.argsort(-vals, axis=1, kind="stable")
        ids, vals = np.take_along_axis(ids, order, 1)[:, :k], np.take_along_axis(vals, order, 1)[:, :k]
        bad = (ids < 0) | ~np.isfinite(vals) | (vals <= FILTERED)
        out = np.asarray(model.item_ids, dtype=object)[np.maximum(ids, 0)]
        out[bad] = None
        return Prediction(y=out, extra={"query_items": raw, "scores": np.where(bad, np.nan, vals)})

    # -- saving ------------------------------------------------------------------------

    def save(self, model: Recommender, path: Path) -> None:
        import scipy.sparse as sp

        files = [MATRIX_FILE, IDS_FILE]
        if model.model is not None:
            inner = model.model.to_cpu() if hasattr(model.model, "to_cpu") and model.device == "cuda" else model.model
            inner.save(str(path / MODEL_FILE))
            files.insert(0, MODEL_FILE)
        sp.save_npz(path / MATRIX_FILE, model.user_items, compressed=False)  # compressing costs more than it saves
        (path / IDS_FILE).write_text(json.dumps({"user_ids": _listed(model.user_ids),
                                                 "item_ids": _listed(model.item_ids)}))
        info = {"format": 1, "estimator": model.estimator, "params": model.params, "trained_on": model.device,
                "info": model.info, "sha256": {f: file_sha256(path / f) for f in files}}
        (path / INFO_FILE).write_text(json.dumps(info, indent=2, default=str) + "\n")

    def load(self, path: Path) -> Recommender:
        import numpy as np
        import scipy.sparse as sp

        path = Path(path)
        try:
            info = json.loads((path / INFO_FILE).read_text())
            estimator = canonical(info["estimator"])
        except (OSError, ValueError, KeyError, ConfigError):
            raise RunError(f"Model metadata '{path / INFO_FILE}' is missing or corrupt.") from None
        digests = info.get("sha256") or {}
        try:  # each file opened once, hashed, and read from that same handle
            with open_checked(path / IDS_FILE, digests.get(IDS_FILE)) as handle:
                ids = json.loads(handle.read())
            with open_checked(path / MATRIX_FILE, digests.get(MATRIX_FILE)) as handle:
                user_items = sp.load_npz(handle).tocsr()
            inner = None
            if estimator != POPULAR:
                # imported before the limit: the import loads the BLAS library it must cover
                # (else implicit warns about OpenBLAS threads on every `runner predict`)
                model_class = import_model(MODELS[estimator][1])
                with open_checked(path / MODEL_FILE, digests.get(MODEL_FILE)) as handle, _blas_single():
                    inner = model_class.load(handle)
        except RunError:
            raise
        except Exception as exc:
            raise RunError(f"Cannot load the implicit model in '{path}': {exc}") from None
        popularity = np.asarray((user_items > 0).sum(axis=0)).ravel().astype(np.float32)
        return Recommender(estimator=estimator, params=info.get("params") or {}, model=inner,
                           user_ids=_array(ids["user_ids"]), item_ids=_array(ids["item_ids"]),
                           user_items=user_items, popularity=popularity, device="cpu", info=info.get("info") or {})

    # -- tuning ------------------------------------------------------------------------

    def default_search_space(self, estimator: str, task: Any) -> dict[str, Any]:
        return {k: dict(v) for k, v in SEARCH_SPACES.get(canonical(estimator), {}).items()}


def _listed(ids: Any) -> list[Any]:
    return ids.tolist() if hasattr(ids, "tolist") else list(ids)


def _array(values: list[Any]) -> Any:
    import numpy as np

    out = np.asarray(values)
    return out if out.dtype.kind in "iu" else out.astype(str)
