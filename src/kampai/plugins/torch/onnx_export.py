"""``--serializer onnx`` for the torch framework: the trained module exported with
``torch.onnx`` (a softmax appended for classification), run by ONNX Runtime after loading.

The inputs' preprocessing (:class:`~kampai.plugins.torch.framework.Prep`: impute, scale,
one-hot) stays the JSON it is in the framework's own format, so a saved model is an ONNX
graph plus JSON: nothing is unpickled and no module class is imported at load (the
framework's own format rebuilds the user's ``nn.Module`` from its import path).

Checked at save as the scikit-learn export is (``kampai.plugins.sklearn.onnx_format``): the
exported graph runs on the training rows it is given (up to 1,000) and must give the same
labels and probabilities (regression: values, relative to their scale) within 1e-5 of the
torch module's; otherwise the save stops naming the largest difference.

The exporter is torch's TorchScript-based one (``dynamo=False``: no extra package); where a
torch release no longer has it, the ``torch.export``-based one (it needs ``onnxscript``).
"""

from __future__ import annotations

import copy
import io
import warnings
from typing import Any

from kampai.plugin import KampaiError, RunError

TOLERANCE = 1e-5
INPUT, OUTPUT = "features", "output"


class OnnxNet:
    """An exported module run by ONNX Runtime: what :meth:`TorchModel.forward` calls in
    place of the torch module (float32 features in, scores out)."""

    def __init__(self, data: bytes) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # one request, one thread: a server runs many side by side
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name

    def __call__(self, features: Any) -> Any:
        return self.session.run(None, {self.input: features})[0]


def _export_bytes(net: Any, sample: Any) -> bytes:
    import torch

    buffer = io.BytesIO()
    common = {"input_names": [INPUT], "output_names": [OUTPUT],
              "dynamic_axes": {INPUT: {0: "rows"}, OUTPUT: {0: "rows"}}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        try:
            torch.onnx.export(net, (sample,), buffer, dynamo=False, **common)
        except (TypeError, RuntimeError, NotImplementedError) as first:
            try:
                buffer = io.BytesIO()
                torch.onnx.export(net, (sample,), buffer, dynamo=True, **common)
            except Exception as exc:
                raise KampaiError(f"torch.onnx cannot export this module ({type(first).__name__}: "
                                  f"{str(first).strip()[:200]}; {type(exc).__name__}: {str(exc).strip()[:200]}). "
                                  "Drop --serializer to use the framework's own format.") from None
    return buffer.getvalue()


def export(model: Any, X: Any) -> tuple[bytes, dict[str, Any]]:
    """``(graph bytes, model.json)`` of a trained :class:`TorchModel`, checked on ``X``."""
    import numpy as np
    import torch

    module = copy.deepcopy(model.module).cpu().eval()  # the trained model stays where it is
    net = torch.nn.Sequential(module, torch.nn.Softmax(-1)) if model.kind == "classification" else module
    features = model.prep.transform(X)
    data = _export_bytes(net, torch.from_numpy(features[: min(2, len(features))]))
    try:
        exported = OnnxNet(data)(features).astype(float)
    except Exception as exc:
        raise KampaiError(f"ONNX Runtime cannot run the exported module: {str(exc).strip()[:300]}") from None
    expected = model.forward(X)
    if exported.shape != expected.shape:
        raise KampaiError(f"the exported module gives shape {exported.shape}, the torch module {expected.shape}")
    if model.kind == "classification":
        wrong = int((exported.argmax(axis=1) != expected.argmax(axis=1)).sum())
        if wrong:
            raise KampaiError(f"--serializer onnx: the exported module labels {wrong} of {len(X)} training rows "
                              "differently from torch. Drop --serializer to use the framework's own format.")
        difference = float(np.abs(exported - expected).max()) if len(X) else 0.0
    else:
        scale = max(1.0, float(np.abs(expected).max())) if len(X) else 1.0
        difference = float(np.abs(exported - expected).max()) / scale if len(X) else 0.0
    if difference > TOLERANCE:
        raise KampaiError(f"--serializer onnx: the exported module differs from torch by {difference:.3g} "
                          f"(more than {TOLERANCE:g}). Drop --serializer to use the framework's own format.")
    info = {"format": "onnx", "framework": "torch", "torch": torch.__version__, **model.config(),
            "checked": {"rows": len(X), "max_difference": difference}}
    return data, info


def load(data: bytes, info: dict[str, Any]) -> Any:
    """The :class:`TorchModel` of an export: its preprocessing from ``info``, the graph run
    by ONNX Runtime."""
    from kampai.plugins.torch.framework import Prep, TorchModel

    try:
        net = OnnxNet(data)
        return TorchModel(kind=info["kind"], module_path=info["module"], module_kwargs=info["module_kwargs"],
                          train=info["train"], passthrough={}, prep=Prep(**info["prep"]), classes=info["classes"],
                          module=net, info=info.get("info", {}))
    except (KeyError, TypeError) as exc:
        raise RunError(f"The torch ONNX model's metadata is incomplete ({exc}).") from None
