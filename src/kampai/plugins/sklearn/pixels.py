"""The scikit-learn framework's default preprocessing on ``image-classification``: image paths
become resized, flattened pixels (:class:`Pixels`), standardized, then RBF-kernel features
(:class:`RBFFeatures`) for the logistic regression (``sklearn-images.yaml``).

Models saved before this class moved here name it ``kampai.kinds.images:Pixels`` in their
pickle (or skops file): that path still resolves to this class (``kampai.kinds.images``'s
module ``__getattr__``), so they keep loading; new models record this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.kernel_approximation import Nystroem

from kampai.plugin import Images

if TYPE_CHECKING:
    import numpy as np

IMAGE = "image"  # the column image-classification gives its frameworks


class Pixels(TransformerMixin, BaseEstimator):
    """A scikit-learn transformer: an ``image`` column of paths -> flat pixels (resized).

    The scikit-learn framework's default preprocessing on ``image-classification`` (a pixel
    baseline to compare deep models with); ``size`` and ``mode`` (``L`` grey, ``RGB``) are
    its parameters (``model.preprocess.pixels.steps.pixels.size: 8``).
    """

    def __init__(self, size: int = 16, mode: str = "L") -> None:
        self.size = size
        self.mode = mode

    def fit(self, X: Any, y: Any = None) -> Pixels:
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return True  # stateless

    def transform(self, X: Any) -> np.ndarray:
        column = X[IMAGE] if hasattr(X, "columns") else X
        return Images.pixels(column, int(self.size), str(self.mode))


class RBFFeatures(Nystroem):
    """scikit-learn's Nystroem RBF feature map (``gamma`` 1 / features by default) that takes
    at most as many components as it has training rows, without Nystroem's warning about it:
    the image default's second step (``sklearn-images.yaml``), which a small image folder
    (tens of images) would otherwise warn about on every run."""

    def fit(self, X: Any, y: Any = None) -> RBFFeatures:
        import warnings

        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="n_components > n_samples")
            return super().fit(X, y)
