"""fast.ai ``vision_learner`` on an image set (``image-classification``).

The architecture is a torchvision model by name (``resnet18``, the default; any name in
``torchvision.models``), built with random weights (no download).  ``model.params.weights``
names a local torchvision ``state_dict`` file (e.g. ``resnet18-f37072fd.pth``) or, online,
a torchvision weights name (``DEFAULT``, ``IMAGENET1K_V1``: downloaded once into torch's
hub cache, hash-checked, loaded with ``weights_only=True``): its body weights are loaded,
inputs are normalised with ImageNet statistics, and training is ``fine_tune`` (frozen body
for ``freeze_epochs``, then all layers).  Without weights it is
``fit_one_cycle`` from scratch.  Images are squished to ``size`` x ``size`` RGB (grey,
RGBA and mixed sizes all work); ``augment: true`` adds fast.ai's ``aug_transforms``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kampai.plugin import ConfigError, DataError
from kampai.plugins.fastai import common

PARAMS: dict[str, Any] = {
    "size": 64, "bs": 64, "epochs": 5, "lr": 1e-3, "wd": None, "patience": None, "valid_frac": 0.1,
    "augment": False, "weights": None, "freeze_epochs": 1, "ps": 0.5, "amp": "auto",
}
IMAGENET = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])


def architecture(name: str) -> Any:
    import torchvision.models as tvm

    # only torchvision's registered model builders: a config names an architecture, never
    # any callable of the module (docs/security.md, "a config is data")
    fn = getattr(tvm, name, None) if name in tvm.list_models() else None
    if fn is None or not callable(fn):
        from kampai.plugin import did_you_mean

        raise ConfigError(f"Unknown torchvision architecture '{name}'.{did_you_mean(name, tvm.list_models())}")
    return fn


def hub_weights(arch: str, name: str) -> Path:
    """The file of torchvision's pretrained weights ``name`` (``DEFAULT``, ``IMAGENET1K_V1``
    ...) for ``arch``: from torch's hub cache, downloaded there (hash-checked) when missing."""
    import re

    import torchvision.models as tvm
    from torch.hub import download_url_to_file, get_dir

    try:
        enum = tvm.get_model_weights(arch)
        names = ["DEFAULT", *(w.name for w in enum)]
    except (ValueError, KeyError):
        enum, names = None, []
    if enum is None or name not in names:
        if Path(name).suffix or "/" in name or "\\" in name:
            raise ConfigError(f"model.params.weights: '{name}' does not exist.")
        known = f" (torchvision's names for {arch}: {', '.join(names)})" if names else ""
        raise ConfigError(f"model.params.weights={name!r} is neither a state_dict file nor a torchvision "
                          f"weights name{known}.")
    weights = enum[name]
    target = Path(get_dir()) / "checkpoints" / Path(weights.url).name
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        found = re.search(r"-([a-f0-9]+)\.", target.name)
        try:
            download_url_to_file(weights.url, str(target), hash_prefix=found.group(1) if found else None,
                                 progress=False)
        except Exception as exc:
            raise ConfigError(f"Cannot download the {arch} weights {name} ({weights.url}): {exc}. Offline, "
                              "give model.params.weights a local state_dict file.") from None
    return target


@dataclass
class VisionNet:
    arch: str
    settings: dict[str, Any]
    device: str = "cpu"
    seed: int = 0
    module: Any = None
    classes: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    #: the torch.distributed process group fit trains in (``ctx.distributed``), or None
    distributed: Any = None

    @property
    def normalize(self) -> bool:
        return bool(self.settings.get("weights"))

    def fit(self, X: Any, y: Any, report: Any = None) -> VisionNet:
        import numpy as np
        import pandas as pd
        import torch
        from fastai.torch_core import set_seed
        from fastai.vision.all import (
            CategoryBlock,
            ColReader,
            DataBlock,
            ImageBlock,
            IndexSplitter,
            Normalize,
            Resize,
            ResizeMethod,
            aug_transforms,
            vision_learner,
        )

        s = self.settings
        frame = pd.DataFrame({"image": X["image"].to_numpy(), "label": y.astype(str).to_numpy()})
        n = len(frame)
        n_valid = max(1, round(n * float(s["valid_frac"]))) if s["valid_frac"] else 0
        valid = np.sort(np.random.default_rng(self.seed).permutation(n)[:n_valid]).tolist()
        set_seed(self.seed, reproducible=True)
        size = int(s["size"])
        batch_tfms = list(aug_transforms(size=size)) if s["augment"] else []
        if self.normalize:
            batch_tfms.append(Normalize.from_stats(*IMAGENET))
        block = DataBlock(blocks=(ImageBlock, CategoryBlock), get_x=ColReader("image"), get_y=ColReader("label"),
                          splitter=IndexSplitter(valid), item_tfms=Resize(size, method=ResizeMethod.Squish),
                          batch_tfms=batch_tfms)
        dls = block.dataloaders(frame, bs=min(int(s["bs"]), max(2, n - n_valid)), device=self.device,
                                num_workers=0)
        self.classes = [str(c) for c in dls.vocab]
        learn = vision_learner(dls, architecture(self.arch), pretrained=False, normalize=False, ps=float(s["ps"]),
                               wd=s["wd"])
        if s["weights"]:
            self._load_body(learn, str(s["weights"]))
        amp = s["amp"]
        if amp is True or (amp == "auto" and self.device.startswith("cuda")):
            learn = learn.to_fp16() if not torch.cuda.is_bf16_supported() else learn.to_bf16()
        self.module = learn.model
        keep = common.best_epoch_callback(int(s["patience"]) if s["patience"] and n_valid else None, report, report,
                                          self.distributed)
        cbs = [keep] if n_valid else []
        with learn.no_logging(), learn.no_bar(), common.distributed_fit(learn, self.distributed):
            if s["weights"]:
                learn.fine_tune(int(s["epochs"]), float(s["lr"]), freeze_epochs=int(s["freeze_epochs"]), cbs=cbs)
            else:
                learn.fit_one_cycle(int(s["epochs"]), float(s["lr"]), cbs=cbs)
        if keep.error is not None:
            raise keep.error
        self.info.update(best_epoch=int(keep.best_epoch), epochs_run=len(learn.recorder.values))
        self.module = learn.model.float().eval()
        self.distributed = None  # a process group is not part of the model
        return self

    def _load_body(self, learn: Any, spec: str) -> None:
        import torch

        file = Path(spec)
        if not file.is_file():
            file = hub_weights(self.arch, spec)
        net = architecture(self.arch)(weights=None)
        try:
            net.load_state_dict(torch.load(file, map_location="cpu", weights_only=True))
        except Exception as exc:
            raise ConfigError(f"model.params.weights: '{file}' is not a {self.arch} state_dict ({exc}).") from None
        body = torch.nn.Sequential(*list(net.children())[:-2])
        learn.model[0].load_state_dict(body.state_dict())
        learn.freeze()

    def forward(self, X: Any, batch: int = 256) -> Any:
        import numpy as np
        import torch

        from kampai.plugin import Images

        load_image = Images.load_image

        size = int(self.settings["size"])
        self.module.eval()
        device = next(self.module.parameters()).device
        mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in IMAGENET)
        paths = list(X["image"])
        out = []
        with torch.inference_mode():
            for start in range(0, len(paths), batch):
                arrays = np.stack([load_image(p, size, "RGB") for p in paths[start:start + batch]])
                x = torch.from_numpy(arrays).permute(0, 3, 1, 2).float() / 255.0
                if self.normalize:
                    x = (x - mean) / std
                out.append(self.module(x.to(device)).float().softmax(-1).cpu().numpy())
        if not out:
            raise DataError("No images to predict.")
        return np.concatenate(out)

    def save(self, path: Path) -> None:
        common.save_state(path, self.module, {"format": "fastai-vision", "arch": self.arch, "classes": self.classes,
                                              "settings": self.settings, "info": self.info})

    @classmethod
    def load(cls, config: dict[str, Any], weights: Any) -> VisionNet:
        from fastai.vision.learner import create_vision_model

        s = config["settings"]
        module = create_vision_model(architecture(config["arch"]), len(config["classes"]), pretrained=False,
                                     ps=float(s["ps"]))
        module.load_state_dict(weights)
        return cls(arch=config["arch"], settings=s, module=module.eval(), classes=config["classes"],
                   info=config.get("info", {}))
