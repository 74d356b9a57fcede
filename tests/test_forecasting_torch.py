"""Darts' torch models through kampai: tiny networks, one or two epochs, on real series.

The CUDA test runs only where torch sees a GPU; everywhere else it is skipped.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kampai import api, load_run
from kampai.core.errors import ConfigError

pytest.importorskip("darts")
torch = pytest.importorskip("torch")
pytest.importorskip("pytorch_lightning")

FC = {"task": "forecasting", "framework": "darts"}  # tracking is off for tests (conftest)
TINY_NBEATS = {"num_stacks": 2, "num_blocks": 1, "num_layers": 1, "layer_widths": 16}


def test_nbeats_trains_saves_and_a_loaded_run_predicts_the_same(tmp_path) -> None:
    run = api.train(data="statsmodels:nile", model="NBEATS", params=TINY_NBEATS, verbose=False,
                    overrides=["model.epochs=2", "model.batch_size=16", "split.horizon=10", "device=cpu"], **FC)
    model = run.model.model
    assert model.n_epochs == 2 and model.batch_size == 16
    assert model.trainer_params["accelerator"] == "cpu"
    assert np.isfinite(run.metrics["mase"])
    assert (run.run_dir / "model" / "model.darts.ckpt").exists()  # Darts' own torch checkpoint
    ahead = run.predict(horizon=8)
    assert len(ahead) == 8 and str(ahead["year"].iloc[0].date()) == "1971-01-01"
    reloaded = load_run(run.run_dir)
    np.testing.assert_allclose(reloaded.predict(horizon=8)["forecast"], ahead["forecast"], rtol=1e-5)
    assert not list(tmp_path.glob("darts_logs")) and not list(tmp_path.glob("lightning_logs"))


@pytest.mark.parametrize("model, params", [
    ("TiDE", {"hidden_size": 8, "decoder_output_dim": 4, "temporal_decoder_hidden": 8}),
    ("TFT", {"hidden_size": 8, "lstm_layers": 1, "num_attention_heads": 1, "likelihood": "quantile"}),
    ("BlockRNN", {"hidden_dim": 8}),
    ("RNN", {"hidden_dim": 8, "model": "LSTM"}),
    ("TCN", {"num_filters": 2, "kernel_size": 3}),
])
def test_torch_models_by_name(model: str, params: dict) -> None:
    run = api.train(data="statsmodels:nile", model=model, params=params, verbose=False,
                    overrides=["model.epochs=1", "split.horizon=6"], **FC)
    assert np.isfinite(run.metrics["mae"])
    if "likelihood" in params:  # probabilistic: quantile columns and interval metrics
        assert "coverage" in run.metrics and "q0.9" in run.predict(horizon=3).columns


def test_early_stopping_on_a_validation_tail() -> None:
    run = api.train(data="statsmodels:nile", model="NBEATS", params=TINY_NBEATS, verbose=False,
                    overrides=["model.epochs=30", "model.early_stopping.patience=1",
                               "model.early_stopping.val_size=10", "split.horizon=5"], **FC)
    assert run.model.model.epochs_trained < 30


def test_device_cuda_without_a_gpu_is_a_clear_error() -> None:
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ConfigError, match="no CUDA device"):
        api.train(data="statsmodels:nile", model="NBEATS", verbose=False, overrides=["device=cuda"], **FC)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_nbeats_on_cuda() -> None:
    run = api.train(data="statsmodels:co2", model="NBEATS", params=TINY_NBEATS, verbose=False,
                    overrides=["model.epochs=2", "device=cuda"], **FC)
    assert run.model.model.trainer_params["accelerator"] == "gpu"
    assert np.isfinite(run.metrics["mase"])
    assert len(load_run(run.run_dir).predict(horizon=5)) == 5


def test_tuning_with_a_backtest_objective_and_epoch_pruning() -> None:
    pytest.importorskip("optuna")
    from kampai.core import tuning

    cfg = api.config(data="statsmodels:nile", model="NBEATS", params=TINY_NBEATS,
                     overrides=["model.epochs=2", "split.method=backtest", "split.horizon=5", "split.stride=10",
                                "split.start=0.8", "split.retrain=false", "tune.trials=3", "tune.metric=mae",
                                "tune.pruner=median", "tune.startup_trials=1",
                                "model.search.layer_widths=[8, 16]"], **FC)
    result = tuning.tune(cfg, verbose=False)
    # the space holds two points: once both are scored the study stops (no refit of a known point)
    assert result.ran == 2 and np.isfinite(result.best_value)
    assert set(result.best_params) == {"layer_widths"}
    trials = result.trials
    assert isinstance(trials, pd.DataFrame) and (trials["state"] != "FAIL").all()
    steps = [len(t.intermediate_values) for t in result.study.trials]
    assert max(steps) == 2  # one intermediate score per epoch


def test_torch_training_shows_each_epoch_unless_quiet() -> None:
    # issue 11 item 5: NBEATS trained 105 s without a line
    from helpers import invoke

    args = ("train", "--task", "forecasting", "--framework", "darts", "--data", "statsmodels:nile", "--model",
            "NBEATS", "model.params.num_stacks=1", "model.params.num_blocks=1", "model.params.layer_widths=16",
            "model.epochs=2", "split.horizon=10", "split.refit=false", "device=cpu",
            "model.early_stopping={val_size: 10, patience: 5}")
    code, _, err = invoke(*args)
    assert code == 0, err
    assert "epoch 1/2  loss" in err and "val_loss" in err and "ETA" in err and "epoch 2/2" in err, err
    code, out, err = invoke(*args, "--json")
    assert code == 0 and "epoch 1/2" not in err + out
