"""Run ``runner ARGS`` in this process and stop at the first import of a framework, saying
whether the command had written anything by then (``python startup_probe.py RESULT ARGS``).

stdout and stderr must be regular files (the caller's): their sizes at that moment are
what reached them, unflushed buffers not counted.  The finder wraps the loader of the
first heavy package, so a lookup without import (``importlib.util.find_spec``) is not
counted.  RESULT gets JSON: ``{"heavy": module or null, "written": bytes, "seconds": s}``.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time

START = time.perf_counter()
#: what counts as a framework (test_imports.HEAVY and the libraries of every plugin)
HEAVY = {"numpy", "pandas", "scipy", "sklearn", "sklego", "torch", "torchvision", "lightning",
         "pytorch_lightning", "darts", "statsmodels", "transformers", "accelerate", "fastai",
         "torch_geometric", "implicit", "skorch", "mlflow", "mlem", "optuna", "ray", "pyarrow", "joblib",
         "matplotlib", "onnx", "onnxruntime", "skl2onnx", "fastapi", "starlette", "uvicorn", "streamlit"}


def _report(result: str, heavy: str | None) -> None:
    written = sum(os.fstat(fd).st_size for fd in (1, 2))
    with open(result, "w") as f:
        json.dump({"heavy": heavy, "written": written, "seconds": round(time.perf_counter() - START, 3)}, f)


class _Stop:
    """The loader of the first heavy package: reports, then ends the process."""

    def __init__(self, result: str, name: str, inner: object) -> None:
        self.result, self.name, self.inner = result, name, inner

    def create_module(self, spec: object) -> object:
        return self.inner.create_module(spec)

    def exec_module(self, module: object) -> None:
        _report(self.result, self.name)
        os._exit(0)


class _Watch:
    def __init__(self, result: str) -> None:
        self.result = result

    def find_spec(self, name: str, path: object = None, target: object = None) -> object:
        if name not in HEAVY:
            return None
        for finder in list(sys.meta_path):
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _Stop(self.result, name, spec.loader)
                return spec
        return None


def main() -> None:
    result, argv = sys.argv[1], sys.argv[2:]
    sys.meta_path.insert(0, _Watch(result))  # main() puts the CLI's own finder before it
    from kampai.core.cli import main as runner

    sys.argv = ["runner", *argv]  # main() reading sys.argv: the command line, as the console script
    with contextlib.suppress(SystemExit):
        runner()
    _report(result, None)


if __name__ == "__main__":
    main()
