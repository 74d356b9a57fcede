"""The implicit models kampai trains: their names, short names, search spaces and
parameters, the CPU/GPU choice, and :class:`Recommender`, the model the engine handles (the
implicit model plus the id maps, training matrix and popularity it recommends from)."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kampai.plugin import ConfigError, did_you_mean

if TYPE_CHECKING:
    import numpy as np

DEFAULT_MODEL = "AlternatingLeastSquares"


POPULAR = "popular"


#: name -> (factory/class for building, CPU class for loading, family)
MODELS: dict[str, tuple[str, str, str]] = {
    "AlternatingLeastSquares": ("implicit.als:AlternatingLeastSquares",
                                "implicit.cpu.als:AlternatingLeastSquares", "mf"),
    "BayesianPersonalizedRanking": ("implicit.bpr:BayesianPersonalizedRanking",
                                    "implicit.cpu.bpr:BayesianPersonalizedRanking", "mf"),
    "LogisticMatrixFactorization": ("implicit.lmf:LogisticMatrixFactorization",
                                    "implicit.cpu.lmf:LogisticMatrixFactorization", "mf"),
    "CosineRecommender": ("implicit.nearest_neighbours:CosineRecommender",
                          "implicit.nearest_neighbours:CosineRecommender", "knn"),
    "BM25Recommender": ("implicit.nearest_neighbours:BM25Recommender",
                        "implicit.nearest_neighbours:BM25Recommender", "knn"),
    "TFIDFRecommender": ("implicit.nearest_neighbours:TFIDFRecommender",
                         "implicit.nearest_neighbours:TFIDFRecommender", "knn"),
}


ALIASES = {"als": "AlternatingLeastSquares", "bpr": "BayesianPersonalizedRanking",
           "lmf": "LogisticMatrixFactorization", "cosine": "CosineRecommender", "bm25": "BM25Recommender",
           "tfidf": "TFIDFRecommender"}


GPU_MODELS = ("AlternatingLeastSquares", "BayesianPersonalizedRanking")


#: factory arguments kampai sets itself
OWNED = ("use_gpu", "dtype")


#: kampai's defaults where they differ from implicit's (``model.params`` overrides them).
#: ALS with implicit's regularization of 0.01 lost to the popularity ranking on Seattle's pet
#: breeds by zip code (NDCG@10 0.59 vs 0.84) and scored 0.53 on nycflights13's planes x
#: destinations: the interaction counts (up to hundreds per pair) make each confidence
#: weight large, and 0.01 barely regularizes against them.  30 scored 0.85, 0.85 and, on the
#: bundled MovieLens, 0.069 vs 0.060 (docs/baselines.md).
DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "AlternatingLeastSquares": {"regularization": 30.0},
}


SEARCH_SPACES: dict[str, dict[str, Any]] = {
    "AlternatingLeastSquares": {
        "factors": {"type": "int", "low": 16, "high": 256, "log": True},
        "regularization": {"type": "float", "low": 1e-2, "high": 100.0, "log": True},
        "alpha": {"type": "float", "low": 0.1, "high": 50.0, "log": True},
        "iterations": {"type": "int", "low": 5, "high": 30},
    },
    "BayesianPersonalizedRanking": {
        "factors": {"type": "int", "low": 16, "high": 256, "log": True},
        "learning_rate": {"type": "float", "low": 1e-3, "high": 0.1, "log": True},
        "regularization": {"type": "float", "low": 1e-4, "high": 0.1, "log": True},
        "iterations": {"type": "int", "low": 50, "high": 300},
    },
    "LogisticMatrixFactorization": {
        "factors": {"type": "int", "low": 16, "high": 128, "log": True},
        "learning_rate": {"type": "float", "low": 0.1, "high": 2.0, "log": True},
        "regularization": {"type": "float", "low": 0.1, "high": 10.0, "log": True},
        "iterations": {"type": "int", "low": 10, "high": 60},
    },
    "CosineRecommender": {"K": {"type": "int", "low": 10, "high": 500, "log": True}},
    "TFIDFRecommender": {"K": {"type": "int", "low": 10, "high": 500, "log": True}},
    "BM25Recommender": {"K": {"type": "int", "low": 10, "high": 500, "log": True},
                        "K1": {"type": "float", "low": 0.5, "high": 3.0},
                        "B": {"type": "float", "low": 0.0, "high": 1.0}},
}


@dataclass
class Recommender:
    """An implicit model with the id maps and training matrix it recommends from."""

    estimator: str
    params: dict[str, Any]
    model: Any = None                      # the implicit model; None for 'popular'
    user_ids: Any = None                   # code -> user id
    item_ids: Any = None                   # code -> item id
    user_items: Any = None                 # CSR (n_users, n_items): the training interactions
    popularity: Any = None                 # interactions per item in training
    device: str = "cpu"
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def family(self) -> str:
        return POPULAR if self.estimator == POPULAR else MODELS[self.estimator][2]

    def known_users(self) -> np.ndarray:
        """Users with at least one training interaction."""
        import numpy as np

        return np.diff(self.user_items.indptr) > 0

    def codes(self, id_map: Any, ids: Any) -> np.ndarray:
        from kampai.plugin import Interactions

        probe = Interactions(users=None, items=None, weights=None, user_ids=id_map, item_ids=id_map)
        return probe.user_codes(ids)


def import_model(path: str) -> Any:
    import importlib

    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def canonical(estimator: str) -> str:
    name = ALIASES.get(str(estimator).lower(), str(estimator))
    name = name.rsplit(".", 1)[-1].rsplit(":", 1)[-1]
    if name != POPULAR and name not in MODELS:
        known = [*MODELS, POPULAR]
        hint = did_you_mean(name, known) or did_you_mean(name.lower(), list(ALIASES))
        raise ConfigError(f"Unknown implicit model '{estimator}'.{hint} "
                          f"Known: {', '.join(known)} (or their short names {', '.join(ALIASES)}).")
    return name


def model_params(name: str) -> dict[str, inspect.Parameter]:
    """The parameters of a model's factory (minus those kampai sets: use_gpu, dtype)."""
    if name == POPULAR:
        return {}
    target = import_model(MODELS[name][0])
    signature = inspect.signature(target if inspect.isfunction(target) else target.__init__)
    return {n: p for n, p in signature.parameters.items() if n != "self" and n not in OWNED
            and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}


def wants_gpu(name: str, device: str) -> bool:
    import implicit.gpu

    device = (device or "auto").lower()
    if device.startswith("cuda"):
        if not implicit.gpu.HAS_CUDA:
            raise ConfigError(f"device={device!r}, but implicit was built without CUDA or no GPU is visible "
                              "(implicit.gpu.HAS_CUDA is False): use --device cpu or auto.")
        if name not in GPU_MODELS:
            raise ConfigError(f"implicit has no GPU version of {name} (GPU models: {', '.join(GPU_MODELS)}): "
                              "use --device cpu or auto.")
        return True
    if device == "mps":
        raise ConfigError("implicit has no MPS support: use --device cpu or auto.")
    return device == "auto" and name in GPU_MODELS and bool(implicit.gpu.HAS_CUDA)

