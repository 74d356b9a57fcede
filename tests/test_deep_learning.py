"""fast.ai and plain PyTorch (skorch) frameworks, the image-classification task, on real
small data (scikit-learn's iris/diabetes/breast cancer, its digits written as PNGs)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastai")
pytest.importorskip("skorch")

import kampai
from helpers import invoke
from kampai.plugin import hookimpl
from kampai.plugins.fastai.framework import FastaiFramework
from kampai.plugins.torch.framework import TorchFramework
from kampai.tasks.images import ImageClassification
from kampai.testing import check_task, parametrize_with_checks

torch = pytest.importorskip("torch")

TINY_VISION = {"epochs": 1, "size": 16, "bs": 32}


@parametrize_with_checks(FastaiFramework(), params={"epochs": 2}, tasks=("classification", "regression"))
def test_fastai_tabular_conformance(check) -> None:
    check()


@parametrize_with_checks(FastaiFramework(), params=TINY_VISION, tasks=("image-classification",))
def test_fastai_vision_conformance(check) -> None:
    check()


@parametrize_with_checks(TorchFramework(), params={"epochs": 3})
def test_torch_conformance(check) -> None:
    check()


class UserNet(torch.nn.Module):
    """A user's module, importable by path (``test_deep_learning:UserNet``) in a fresh process."""

    def __init__(self, in_features: int, out_features: int, width: int = 8) -> None:
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(in_features, width), torch.nn.ReLU(),
                                        torch.nn.Linear(width, out_features))

    def forward(self, X):
        return self.body(X)


@parametrize_with_checks(TorchFramework(), params={"epochs": 3, "width": 4}, estimator="test_deep_learning:UserNet")
def test_torch_user_module_conformance(check) -> None:
    check()


def test_image_task_conformance() -> None:
    check_task(ImageClassification())


def _digit_folder(root: Path, classes=("0", "1", "2"), per_class: int = 12) -> Path:
    from kampai.plugin.io import read_frame

    frame = read_frame("sklearn:digits-images")
    for label in classes:
        (root / label).mkdir(parents=True)
        for path in frame.loc[frame["label"] == label, "image"].head(per_class):
            shutil.copy(path, root / label / Path(path).name)
    return root


def test_digits_images_are_real_pngs() -> None:
    from PIL import Image
    from sklearn.datasets import load_digits

    from kampai.plugin.io import read_frame

    frame = read_frame("sklearn:digits-images")
    assert len(frame) == 1797 and sorted(frame["label"].unique()) == [str(i) for i in range(10)]
    first = np.asarray(Image.open(frame["image"][0]))
    expected = (load_digits().images[0] * 255 / 16).round()
    assert first.shape == (8, 8) and np.allclose(first, expected)


def test_hook_kampai_read_data(tmp_path: Path) -> None:
    """The image task answers kampai_read_data for a folder; another plugin's answer wins
    for its own format."""
    from kampai.core.host import get_host
    from kampai.plugin.io import read_frame

    folder = _digit_folder(tmp_path / "imgs", per_class=3)
    frame = read_frame(str(folder))
    assert sorted(frame["label"].unique()) == ["0", "1", "2"] and len(frame) == 9

    class Other:
        @hookimpl
        def kampai_read_data(self, path):
            import pandas as pd

            return pd.DataFrame({"x": [1, 2], "y": [0, 1]}) if path.endswith(".weird") else None

    get_host().register(Other(), "other-reader")
    (tmp_path / "a.weird").write_text("?")
    assert list(read_frame(str(tmp_path / "a.weird")).columns) == ["x", "y"]
    assert list(read_frame(str(folder)).columns) == ["image", "label"]


def test_folder_and_table_layouts_train_and_predict(tmp_path: Path) -> None:
    folder = _digit_folder(tmp_path / "imgs")
    rows = ["file,digit"] + [f"imgs/{p.parent.name}/{p.name},{p.parent.name}" for p in sorted(folder.rglob("*.png"))]
    (tmp_path / "table.csv").write_text("\n".join(rows) + "\n")
    code, _out, err = invoke("train", "--task", "image-classification", "--framework", "sklearn", "--data",
                            str(folder), "--runs-dir", "runs")
    assert code == 0, err
    run = kampai.train(task="image-classification", framework="sklearn", data=str(tmp_path / "table.csv"),
                       target="digit", output={"runs_dir": "runs"}, verbose=False)
    assert run.metrics["accuracy"] > 0.8  # grey pixels of 0/1/2 separate well
    code, _out, err = invoke("predict", str(run.run_dir), "--data", str(folder / "1"), "--output", "p.csv")
    assert code == 0, err
    import pandas as pd

    table = pd.read_csv("p.csv")
    assert list(table.columns[:2]) == ["image", "prediction"] and {"proba_0", "proba_1", "proba_2"} <= set(table)
    assert np.allclose(table[["proba_0", "proba_1", "proba_2"]].sum(axis=1), 1)


def test_image_pixels_of_models_saved_under_the_old_class_path_still_load(tmp_path: Path) -> None:
    """The scikit-learn Pixels step moved from kampai.kinds.images to the sklearn plugin: a model
    saved now names the new path; one pickled under the old path loads and predicts the same."""
    import pickle

    import pandas as pd

    folder = _digit_folder(tmp_path / "imgs", per_class=6)
    run = kampai.train(task="image-classification", framework="sklearn", data=str(folder),
                       output={"runs_dir": str(tmp_path / "runs")}, verbose=False)
    saved = b"".join(p.read_bytes() for p in (run.run_dir / "model").rglob("*") if p.is_file())
    assert b"kampai.plugins.sklearn.pixels" in saved and b"kampai.kinds.images" not in saved
    # only Pixels lived at the old path (RBFFeatures, the default's later step, never did)
    old = pickle.dumps(run.model, protocol=0).replace(b"kampai.plugins.sklearn.pixels\nPixels",
                                                      b"kampai.kinds.images\nPixels")
    assert b"kampai.kinds.images\nPixels" in old
    images = pd.DataFrame({"image": sorted(str(p) for p in folder.rglob("*.png"))})
    assert (pickle.loads(old).predict(images) == run.model.predict(images)).all()


def test_image_kfold_and_predict_from_a_table(tmp_path: Path) -> None:
    """Stratified k-fold on an image folder (one run, fold metrics, a refit), then
    ``runner predict`` on a table of relative image paths."""
    import pandas as pd

    folder = _digit_folder(tmp_path / "imgs", per_class=9)
    code, _out, err = invoke("train", "--task", "image-classification", "--framework", "sklearn", "--data",
                            str(folder), "split.method=stratified_kfold", "split.folds=3", "--runs-dir", "runs")
    assert code == 0, err
    (run_dir,) = Path("runs").iterdir()
    meta = json.loads((run_dir / "meta.json").read_text())
    assert meta["folds"] == 3 and len(meta["fold_metrics"]) == 3
    files = sorted(folder.rglob("*.png"))[::4]
    (tmp_path / "new.csv").write_text("path\n" + "".join(f"imgs/{p.parent.name}/{p.name}\n" for p in files))
    code, _out, err = invoke("predict", str(run_dir), "--data", str(tmp_path / "new.csv"), "--output", "p.csv")
    assert code == 0, err
    table = pd.read_csv("p.csv")
    assert len(table) == len(files) and table["image"].tolist() == [str(p.resolve()) for p in files]
    assert set(table["prediction"].astype(str)) <= {"0", "1", "2"}


def test_bad_images_stop_or_skip(tmp_path: Path) -> None:
    folder = _digit_folder(tmp_path / "imgs", per_class=5)
    (folder / "1" / "notes.png").write_text("not an image")
    code, out, err = invoke("train", "--task", "image-classification", "--framework", "sklearn", "--data",
                            str(folder), "--runs-dir", "runs")
    assert code == 2 and "notes.png" in err and "bad_images=skip" in err and not list(Path("runs").glob("*/meta.json"))
    code, out, err = invoke("train", "--task", "image-classification", "--framework", "sklearn", "--data",
                            str(folder), "data.bad_images=skip", "--runs-dir", "runs")
    assert code == 0, err
    assert "Skipping 1 file" in out + err
    (folder / "7").mkdir()
    code, out, err = invoke("train", "--task", "image-classification", "--framework", "sklearn", "--data",
                            str(folder), "--runs-dir", "runs2")
    assert code == 2 and "'" in err and "7" in err and "no images" in err


def test_mixed_sizes_and_channels(tmp_path: Path) -> None:
    from PIL import Image

    from kampai.plugin import Images

    for i, (mode, size) in enumerate([("L", (8, 8)), ("RGB", (20, 12)), ("RGBA", (5, 9))]):
        Image.new(mode, size, color=(i * 60) if mode == "L" else (i * 60,) * len(mode)).save(tmp_path / f"{i}.png")
    pixels = Images.pixels([str(tmp_path / f"{i}.png") for i in range(3)], size=4, mode="RGB")
    assert pixels.shape == (3, 4 * 4 * 3) and 0 <= pixels.min() <= pixels.max() <= 1


def _iris_run(**params):
    return kampai.train(task="classification", framework="fastai", data="sklearn:iris",
                        params={"epochs": 8, **params}, output={"runs_dir": "runs"}, verbose=False)


def test_fastai_tabular_defaults_and_best_epoch() -> None:
    run = _iris_run()
    assert run.metrics["accuracy"] > 0.8
    model = run.model
    assert model.info["layers"] == [200, 100] and model.info["batch_size"] == 32  # 2^(3+log10(120 rows))
    assert 0 <= model.info["best_epoch"] < model.info["epochs_run"] <= 8


def test_fastai_direct_predict_matches_fastai_own_path() -> None:
    """kampai's prediction (the saved preprocessing state replayed with pandas/numpy, the
    network called directly) gives fast.ai's own TabularPandas codes and normalised values
    (Categorify, FillMissing with its _na column, Normalize) and the probabilities of
    fast.ai's ``get_preds(test_dl)`` and one-row ``Learner.predict``, unknown categories
    and missing values included."""
    import pandas as pd
    import torch
    from fastai.tabular.all import (
        Categorify,
        CategoryBlock,
        CrossEntropyLossFlat,
        FillMissing,
        Normalize,
        TabularLearner,
        TabularPandas,
    )

    from kampai.plugin import TaskData
    from kampai.plugin.io import read_frame
    from kampai.plugins.fastai.tabular import PARAMS, TabularNet

    frame = read_frame("sklearn:iris")
    frame["kind"] = np.where(frame["sepal length (cm)"] > 5.8, "long", "short")
    frame["flag"] = frame["petal length (cm)"] > 4  # a boolean column is a category
    frame.loc[::7, "petal width (cm)"] = np.nan
    frame.loc[::11, "kind"] = None
    X, y = frame.drop(columns="target"), frame["target"]
    net = TabularNet(kind="classification", settings={**PARAMS, "epochs": 2, "valid_frac": 0}).fit(X, y)
    cat_names, cont_names = net.state["cat_names"], net.state["cont_names"]
    assert cat_names == ["kind", "flag"] and len(cont_names) == 4

    # fast.ai by hand, on the same rows, with kampai's trained network
    table = TabularNet.fastai_frame(X, cat_names, cont_names).assign(target=y.astype(str).to_numpy())
    to = TabularPandas(table, procs=[Categorify, FillMissing, Normalize], cat_names=list(cat_names),
                       cont_names=list(cont_names), y_names="target", y_block=CategoryBlock())
    cats, conts = net.encode(X)
    assert list(to.cat_names) == net.state["model_cats"] == ["kind", "flag", "petal width (cm)_na"]
    assert np.array_equal(cats, to.cats.to_numpy())
    assert np.allclose(conts, to.conts.to_numpy(), atol=1e-5)

    learn = TabularLearner(to.dataloaders(bs=32), net.module, loss_func=CrossEntropyLossFlat())
    new = X.copy()
    new.loc[:4, "kind"] = "never seen"  # unknown category -> #na#, as fast.ai does
    new.loc[5:9, "petal width (cm)"] = np.nan  # filled with the training median, _na = True
    with learn.no_bar(), learn.no_logging():
        theirs, _ = learn.get_preds(dl=learn.dls.test_dl(TabularNet.fastai_frame(new, cat_names, cont_names)))
        one = learn.predict(TabularNet.fastai_frame(new, cat_names, cont_names).iloc[5])[2]
    ours = FastaiFramework().predict(net, TaskData(X=new), None)
    assert (net.encode(new)[0][:5, 0] == 0).all()
    big = pd.concat([new] * 7)  # over 1,000 rows: categories coded by pandas, not a dict
    assert np.array_equal(net.encode(big)[0], np.tile(net.encode(new)[0], (7, 1)))
    assert np.allclose(ours.proba, theirs.numpy(), atol=1e-5)
    assert np.allclose(ours.proba[5], one.numpy(), atol=1e-5)
    assert list(ours.classes) == list(learn.dls.vocab)
    assert torch.is_grad_enabled()  # inference_mode is scoped to the call


def test_fastai_lr_auto_records_the_suggestion() -> None:
    run = _iris_run(lr="auto", epochs=2)
    assert run.model.info["lr"] == run.model.info["lr_find"] > 0
    assert not Path("models").exists()  # lr_find's scratch copy of the weights went to a temporary folder


def test_fastai_regression_with_set_column_roles() -> None:
    run = kampai.train(task="regression", framework="fastai", data="sklearn:diabetes",
                       params={"epochs": 15, "cat_names": ["sex"]}, output={"runs_dir": "runs"}, verbose=False)
    assert run.metrics["r2"] > 0.2
    state = run.model.state
    assert state["cat_names"] == ["sex"] and "sex" not in state["cont_names"] and len(state["cont_names"]) == 9
    assert len(state["classes"]["sex"]) == 3  # #na# + the two values, embedded
    code, _out, err = invoke("train", "--task", "regression", "--framework", "fastai", "--data", "sklearn:diabetes",
                            "model.params.cat_names=[gender]", "--runs-dir", "r2")
    assert code == 2 and "gender" in err and not list(Path("r2").iterdir())  # nothing written


_FRESH = textwrap.dedent("""
    import json, sys
    import numpy as np
    import pandas as pd
    from kampai.plugin.io import read_frame
    from kampai.plugin.runs import load_run
    run = load_run(sys.argv[1])
    data = read_frame(sys.argv[2])
    out = run.predict(data.drop(columns=[c for c in ("target",) if c in data]))
    cols = [c for c in out.columns if c.startswith("proba_")]
    print(json.dumps(out[cols].to_numpy().tolist()))
    print("fastai" in sys.modules, file=sys.stderr)
""")


def _fresh_process_proba(run_dir: Path, data: str) -> np.ndarray:
    result = subprocess.run([sys.executable, "-c", _FRESH, str(run_dir), data], capture_output=True, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300)
    assert result.returncode == 0, result.stderr
    return np.asarray(json.loads(result.stdout.strip().splitlines()[-1]))


def test_fastai_tabular_fresh_process_predicts_the_same() -> None:
    from kampai.plugin.io import read_frame

    run = _iris_run(epochs=3)
    here = run.predict(read_frame("sklearn:iris").drop(columns="target"))
    there = _fresh_process_proba(run.run_dir, "sklearn:iris")
    assert np.allclose(here[[c for c in here if c.startswith("proba_")]].to_numpy(), there, atol=1e-6)
    config = json.loads((Path(run.run_dir) / "model" / "model.json").read_text())
    assert config["format"] == "fastai-tabular" and not list((Path(run.run_dir) / "model").glob("*.pkl"))


@pytest.mark.slow
def test_fastai_vision_trains_tunes_saves_and_predicts_in_a_fresh_process(tmp_path: Path) -> None:
    folder = _digit_folder(tmp_path / "imgs", per_class=10)
    run = kampai.train(task="image-classification", framework="fastai", data=str(folder),
                       params={**TINY_VISION, "epochs": 2}, output={"runs_dir": "runs"}, verbose=False)
    assert set(run.metrics) >= {"accuracy", "log_loss"}
    here = run.predict(str(folder))
    there = _fresh_process_proba(run.run_dir, str(folder))
    assert np.allclose(here[[c for c in here if c.startswith("proba_")]].to_numpy(), there, atol=1e-5)
    pytest.importorskip("optuna")  # the rest tunes (the tune extra)
    code, _out, err = invoke("tune", "--task", "image-classification", "--framework", "fastai", "--data", str(folder),
                            "model.params.size=16", "model.params.epochs=1", "--trials", "2", "--runs-dir", "runs")
    assert code == 0, err


def test_fastai_vision_local_weights_fine_tune(tmp_path: Path) -> None:
    import torch
    import torchvision

    torch.manual_seed(0)
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), tmp_path / "resnet18.pth")
    folder = _digit_folder(tmp_path / "imgs", per_class=6)
    run = kampai.train(task="image-classification", framework="fastai", data=str(folder),
                       params={**TINY_VISION, "weights": str(tmp_path / "resnet18.pth")},
                       output={"runs_dir": "runs"}, verbose=False)
    assert run.model.normalize and run.model.info["epochs_run"] >= 1
    code, _out, err = invoke("train", "--task", "image-classification", "--framework", "fastai", "--data",
                            str(folder), f"model.params.weights={tmp_path / 'none.pth'}", "--runs-dir", "r2")
    assert code == 2 and "does not exist" in err


def test_fastai_vision_weights_name_is_checked_before_training(tmp_path: Path) -> None:
    folder = _digit_folder(tmp_path / "imgs", per_class=5)
    code, _out, err = invoke("train", "--task", "image-classification", "--framework", "fastai", "--data",
                            str(folder), "model.params.weights=IMAGENET_NOPE", "--runs-dir", "runs")
    assert code == 2 and "IMAGENET1K_V1" in err and "Traceback" not in err
    assert not Path("runs").exists() or not list(Path("runs").iterdir())  # nothing written


def test_fastai_vision_mixed_sizes_and_channels(tmp_path: Path) -> None:
    """Grey, RGB and RGBA images of different sizes in one folder train and predict."""
    from PIL import Image

    rng = np.random.default_rng(0)
    root = tmp_path / "imgs"
    for label, modes in (("a", ("L", "RGB", "RGBA")), ("b", ("RGBA", "L", "RGB"))):
        (root / label).mkdir(parents=True)
        for i in range(6):
            mode = modes[i % 3]
            size = (8 + 5 * i, 20 - i)
            pixels = rng.integers(0, 255 if label == "a" else 80, size=(size[1], size[0], len(mode)), dtype=np.uint8)
            Image.fromarray(pixels[:, :, 0] if mode == "L" else pixels, mode=mode).save(root / label / f"{i}.png")
    run = kampai.train(task="image-classification", framework="fastai", data=str(root),
                       params={**TINY_VISION, "epochs": 1, "valid_frac": 0.2}, output={"runs_dir": "runs"},
                       verbose=False)
    out = run.predict(str(root / "a"))
    assert len(out) == 6 and np.allclose(out[["proba_a", "proba_b"]].sum(axis=1), 1)
    # kampai's direct batched predict gives the probabilities of fast.ai's own test_dl + get_preds
    from fastai.vision.all import (
        CategoryBlock,
        ColReader,
        CrossEntropyLossFlat,
        DataBlock,
        ImageBlock,
        IndexSplitter,
        Learner,
        Resize,
        ResizeMethod,
    )

    size = TINY_VISION["size"]
    block = DataBlock(blocks=(ImageBlock, CategoryBlock), get_x=ColReader("image"), get_y=ColReader("label"),
                      splitter=IndexSplitter([]), item_tfms=Resize(size, method=ResizeMethod.Squish))
    table = out[["image"]].assign(label="a")
    learn = Learner(block.dataloaders(table, bs=4, num_workers=0), run.model.module, loss_func=CrossEntropyLossFlat())
    with learn.no_bar(), learn.no_logging():
        theirs, _ = learn.get_preds(dl=learn.dls.test_dl(table))
    assert np.allclose(out[["proba_a", "proba_b"]].to_numpy(), theirs.numpy(), atol=1e-5)


def test_fastai_tune_prunes_per_epoch() -> None:
    optuna = pytest.importorskip("optuna")
    # Successive halving compares a trial at epoch 1 with the trials before it once one has
    # completed.  The grid (seed 42) runs lr=0.02, then 0.05, then 1e-7, which cannot learn in
    # 4 epochs: the pruner must stop it after an epoch's report, before its last epoch.
    code, _out, err = invoke("tune", "--task", "classification", "--framework", "fastai", "--data", "sklearn:iris",
                             "model.params.epochs=4", "model.search.lr=[0.05, 0.02, 1e-7]", "seed=42",
                             "--sampler", "grid", "--pruner", "halving", "--trials", "3", "--no-refit",
                             "--storage", "s.db", "--runs-dir", "runs")
    assert code == 0, err
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name="classification-tabular", storage="sqlite:///s.db")
    pruned = [t for t in study.trials if t.state.name == "PRUNED"]
    assert [t.params["lr"] for t in pruned] == [1e-7], [(t.params, t.state.name) for t in study.trials]
    assert all(t.state.name == "COMPLETE" and t.last_step == 3 for t in study.trials if t not in pruned)
    assert pruned[0].last_step < 3 and sorted(pruned[0].intermediate_values) == list(range(pruned[0].last_step + 1))


def test_fastai_unknown_param_and_bad_lr() -> None:
    code, _out, err = invoke("train", "--task", "classification", "--framework", "fastai", "--data", "sklearn:iris",
                            "model.params.epoch=3", "--runs-dir", "runs")
    assert code == 2 and "epochs" in err and not list(Path("runs").glob("*/meta.json"))
    code, _out, err = invoke("train", "--task", "classification", "--framework", "fastai", "--data", "sklearn:iris",
                            "model.params.lr=fast", "--runs-dir", "runs")
    assert code == 2 and "lr_find" in err


NET = textwrap.dedent("""
    from torch import nn

    class Net(nn.Module):
        def __init__(self, in_features, out_features, width=16):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(in_features, width), nn.Tanh(), nn.Linear(width, out_features))

        def forward(self, X):
            return self.body(X)

    class NeedsDepth(nn.Module):
        def __init__(self, in_features, out_features, depth):
            super().__init__()
            self.body = nn.Linear(in_features, out_features)

        def forward(self, X):
            return self.body(X)

    class NotAModule:
        pass
""")


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "usernets_kampai.py").write_text(NET)
    (tmp_path / "usernets_kampai_broken.py").write_text("from torch import nn\nthis is not python\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return "usernets_kampai"


def test_torch_user_module_trains_saves_and_loads(user_module: str) -> None:
    run = kampai.train(task="classification", framework="torch", data="sklearn:breast_cancer",
                       model=f"{user_module}:Net", params={"width": 8, "epochs": 15, "lr": 0.01},
                       output={"runs_dir": "runs"}, verbose=False)
    assert run.metrics["accuracy"] > 0.85
    config = json.loads((Path(run.run_dir) / "model" / "model.json").read_text())
    assert config["module_kwargs"] == {"width": 8, "in_features": 30, "out_features": 2}
    from kampai.plugin.io import read_frame

    here = run.predict(read_frame("sklearn:breast_cancer").drop(columns="target"))
    there = _fresh_process_proba(run.run_dir, "sklearn:breast_cancer")
    assert np.allclose(here[[c for c in here if c.startswith("proba_")]].to_numpy(), there, atol=1e-6)


def test_torch_bad_modules(user_module: str) -> None:
    base = ["train", "--task", "classification", "--framework", "torch", "--data", "sklearn:iris", "--runs-dir", "runs"]
    for model, message in [("nosuchpkg_kampai.x:Net", "Cannot import"), (f"{user_module}:NotAModule", "nn.Module"),
                           ("Net", "package.module:Class")]:
        code, _out, err = invoke(*base, "--model", model)
        assert code == 2 and message in err, (model, err)
    code, _out, err = invoke(*base, "--model", f"{user_module}:Net", "model.params.widht=3")
    assert code == 2 and "width" in err and not list(Path("runs").glob("*/meta.json"))
    for params, message in [(["model.params.width=abc"], "Cannot create"), ([], "depth")]:
        model = f"{user_module}:Net" if params else f"{user_module}:NeedsDepth"
        code, _out, err = invoke(*base, "--model", model, *params)
        assert code == 2 and message in err and "Traceback" not in err, err
        assert [line for line in err.splitlines() if line.startswith("Error")] == [err.strip().splitlines()[-1]]
    code, _out, err = invoke(*base, "--model", f"{user_module}_broken:Net")
    assert code == 2 and "Cannot import" in err and "Traceback" not in err
    assert not Path("runs").exists() or not list(Path("runs").iterdir())


def test_torch_regression_and_device() -> None:
    run = kampai.train(task="regression", framework="torch", data="sklearn:diabetes", params={"epochs": 40},
                       output={"runs_dir": "runs"}, verbose=False, device="cpu")
    assert run.metrics["r2"] > 0.2
    assert {p.device.type for p in run.model.module.parameters()} == {"cpu"}
    if torch.cuda.is_available():
        on_gpu = kampai.train(task="regression", framework="torch", data="sklearn:diabetes", params={"epochs": 2},
                              output={"runs_dir": "runs"}, verbose=False, device="cuda")
        assert {p.device.type for p in on_gpu.model.module.parameters()} == {"cuda"}
        return
    # no GPU: one clear line and exit 2, before anything is trained or written
    code, _out, err = invoke("train", "--task", "regression", "--framework", "torch", "--data", "sklearn:diabetes",
                             "--device", "cuda", "model.params.epochs=2", "--runs-dir", "cuda-runs")
    errors = [line for line in err.splitlines() if line.startswith("Error")]
    assert code == 2 and "Traceback" not in err and len(errors) == 1 and "CUDA" in errors[0], err
    assert not Path("cuda-runs").exists() or not list(Path("cuda-runs").iterdir())


@pytest.mark.gpu
def test_fastai_vision_on_cuda_with_bf16(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    folder = _digit_folder(tmp_path / "imgs", per_class=20)
    run = kampai.train(task="image-classification", framework="fastai", data=str(folder),
                       params={**TINY_VISION, "size": 32}, output={"runs_dir": "runs"}, verbose=False, device="cuda")
    assert next(run.model.module.parameters()).is_cuda and run.metrics["accuracy"] > 0
