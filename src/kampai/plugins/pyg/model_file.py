"""Saving a PyG model (a ``state_dict``, a JSON config with the sha256 of each file, the
training graph as ``.npz``) and loading it from verified bytes (``weights_only=True``).
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from kampai.plugin import Device, RunError
from kampai.plugin.io import to_python
from kampai.plugin.runs import file_sha256, open_checked
from kampai.plugins.pyg.features import Encoder
from kampai.plugins.pyg.graph_model import GraphModel, _pyg_models, make_net

WEIGHTS, CONFIG, GRAPH = "weights.pt", "model.json", "graph.npz"


class ModelFile:
    """The PyG adapter's ``save`` and ``load``."""

    def save(self, model: GraphModel, path: Path) -> None:
        import numpy as np
        import torch

        state = {k: v.detach().cpu() for k, v in model.net.state_dict().items()}
        torch.save(state, path / WEIGHTS)
        if model.graph is not None:
            g = model.graph
            arrays = {"x": g["x"], "edge_index": g["edge_index"], "ids": np.asarray(g["ids"]).astype(str),
                      "labelled": g["labelled"]}
            if g["edge_weight"] is not None:
                arrays["edge_weight"] = g["edge_weight"]
            np.savez(path / GRAPH, **arrays)
        config = {"format": "kampai-pyg", "version": 1, "task": model.task, "estimator": model.estimator,
                  "params": model.params, "train": model.train, "seed": model.seed, "classes": model.classes,
                  "node_encoder": model.node_encoder.spec, "graph_encoder": model.graph_encoder.spec,
                  "in_channels": model.in_channels, "graph_channels": model.graph_channels,
                  "best_epoch": model.best_epoch, "history": model.history,
                  "node_id": (model.graph or {}).get("node_id"), "structural": model.structural,
                  "pe_steps": model.pe_steps,
                  "sha256": {name: file_sha256(path / name) for name in (WEIGHTS, GRAPH) if (path / name).exists()}}
        (path / CONFIG).write_text(json.dumps(config, indent=2, default=to_python))

    def load(self, path: Path) -> GraphModel:
        import numpy as np

        _pyg_models()
        import torch

        try:
            config = json.loads((Path(path) / CONFIG).read_text())
        except (OSError, ValueError) as exc:
            raise RunError(f"Cannot read the PyG model in {path}: {exc}") from None
        if config.get("format") != "kampai-pyg":
            raise RunError(f"{path / CONFIG} is not a kampai PyG model.")
        digests = config.get("sha256") or {}
        with contextlib.ExitStack() as files:  # each file hashed as read, before anything is built
            weights = files.enter_context(open_checked(path / WEIGHTS, digests.get(WEIGHTS)))
            graph = files.enter_context(open_checked(path / GRAPH, digests[GRAPH])) if GRAPH in digests else None
            model = GraphModel(task=config["task"], estimator=config["estimator"], params=config["params"],
                               train=config["train"], seed=config["seed"], device=Device.parse("auto").torch(),
                               classes=config["classes"], node_encoder=Encoder(config["node_encoder"]),
                               graph_encoder=Encoder(config["graph_encoder"]), in_channels=config["in_channels"],
                               graph_channels=config["graph_channels"], history=config.get("history") or [],
                               best_epoch=config.get("best_epoch"), structural=config.get("structural"),
                               pe_steps=int(config.get("pe_steps") or 0))
            model.net = make_net(model)
            try:  # from the handle that was hashed, not the path opened again
                model.net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
            except Exception as exc:
                raise RunError(f"Cannot load the PyG weights {path / WEIGHTS}: {exc}") from None
            model.net.eval()
            if graph is not None:
                with np.load(graph, allow_pickle=False) as z:
                    model.graph = {"x": z["x"], "edge_index": z["edge_index"], "ids": z["ids"],
                                   "labelled": z["labelled"], "edge_weight": z.get("edge_weight"),
                                   "node_id": config.get("node_id")}
        return model
