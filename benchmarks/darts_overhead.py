"""kampai's Darts framework vs a plain Darts script, on statsmodels' monthly co2.

Both do the whole job: load co2 (monthly means, the 5 empty months interpolated), hold out
the last 24 months, fit, forecast 24 steps, score MAE/RMSE/MASE, refit on all months,
save the model with Darts' ``save`` and a PNG plot.  kampai also writes its run folder
(config, metrics, predictions, meta, manifest).  Models: ExponentialSmoothing (kampai's
default for forecasting) and a small NBEATS (standardized series, like kampai scales
global models).  Runs alternate; the median wall time of each is compared; target:
kampai / plain <= 1.10.  Also checked: the default model beats the seasonal naive
forecast on the holdout (MASE < 1).

    .venv/bin/python benchmarks/darts_overhead.py [--repeats 3] [--epochs 5] [--cli]

``--cli`` also times ``runner train`` against ``python plain_script.py`` as processes
(imports included).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HORIZON, SEED = 24, 42
NBEATS = {"input_chunk_length": 48, "output_chunk_length": 24, "num_stacks": 4, "num_blocks": 1,
          "num_layers": 2, "layer_widths": 64, "batch_size": 32}
TRAINER = {"enable_progress_bar": False, "enable_model_summary": False, "logger": False,
           "enable_checkpointing": False, "accelerator": "cpu"}


def plain(model_name: str, epochs: int, out: str, csv: str | None = None, season: int = 12) -> float:
    """What a user writes by hand with Darts + statsmodels + matplotlib; returns MASE.
    ``csv``: a ``time,value`` file (a regular series of seasonal period ``season``) instead of co2."""
    import logging
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from darts import TimeSeries
    from darts.metrics import mae, mase, rmse

    if model_name == "ExponentialSmoothing":
        from darts.models import ExponentialSmoothing
    else:  # only the torch model pays for torch and the scaler
        from darts.dataprocessing.transformers import Scaler
        from darts.models import NBEATSModel
        from sklearn.preprocessing import StandardScaler

    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore")
    if csv:
        import pandas as pd

        frame = pd.read_csv(csv, parse_dates=["time"])
        series = TimeSeries.from_dataframe(frame, time_col="time", value_cols="value")
    else:
        from statsmodels.datasets import co2

        monthly = co2.load_pandas().data["co2"].resample("MS").mean().interpolate()
        series = TimeSeries.from_series(monthly)
    train, test = series[:-HORIZON], series[-HORIZON:]

    def make():
        if model_name == "ExponentialSmoothing":
            return ExponentialSmoothing(seasonal_periods=season, random_state=SEED)
        return NBEATSModel(**NBEATS, n_epochs=epochs, random_state=SEED, pl_trainer_kwargs=TRAINER,
                           work_dir=out)

    if model_name != "ExponentialSmoothing":  # torch: float32 and standardized, as kampai does
        series = series.astype(np.float32)
        train, test = series[:-HORIZON], series[-HORIZON:]
    scaler = Scaler(StandardScaler()) if model_name != "ExponentialSmoothing" else None
    model = make()
    fit_on = scaler.fit_transform(train) if scaler else train
    model.fit(fit_on)
    forecast = model.predict(HORIZON)
    forecast = scaler.inverse_transform(forecast) if scaler else forecast
    scores = {"mae": mae(test, forecast), "rmse": rmse(test, forecast),
              "mase": mase(test, forecast, train, m=season)}
    final = make()
    final_scaler = Scaler(StandardScaler()) if scaler else None
    final.fit(final_scaler.fit_transform(series) if final_scaler else series)
    final.save(os.path.join(out, "model.darts"))
    fig, ax = plt.subplots(figsize=(10, 3.2))
    series[-150:-HORIZON].plot(ax=ax, label="history")
    test.plot(ax=ax, label="test")
    forecast.plot(ax=ax, label="forecast")
    fig.savefig(os.path.join(out, "forecast.png"), dpi=90)
    plt.close(fig)
    np.savetxt(os.path.join(out, "forecast.csv"), forecast.values())
    return float(scores["mase"])


def with_kampai(model_name: str, epochs: int, out: str, csv: str | None = None) -> float:
    import kampai

    params = {k: v for k, v in NBEATS.items() if k != "batch_size"} if model_name == "NBEATS" else {}
    overrides = ["device=cpu", f"model.epochs={epochs}", f"model.batch_size={NBEATS['batch_size']}"] \
        if model_name == "NBEATS" else []
    run = kampai.train(task="forecasting", framework="darts", data=csv or "statsmodels:co2", model=model_name,
                       params=params, verbose=False, seed=SEED, output={"runs_dir": out},
                       split={"method": "holdout", "horizon": HORIZON},
                       overrides=overrides + (["data.target=value", "data.time=time"] if csv else []))
    return float(run.metrics["mase"])


PLAIN_SCRIPT = """
import sys, tempfile
sys.path.insert(0, {bench!r})
from darts_overhead import plain
print(plain({model!r}, {epochs}, tempfile.mkdtemp()))
"""


def cli_times(model_name: str, epochs: int, repeats: int) -> dict[str, list[float]]:
    bench = str(Path(__file__).parent)
    runner = str(Path(sys.executable).parent / "runner")
    extra = ([f"--model={model_name}", "--device=cpu", f"model.epochs={epochs}",
              f"model.batch_size={NBEATS['batch_size']}"]
             + [f"model.params.{k}={v}" for k, v in NBEATS.items() if k != "batch_size"]
             if model_name == "NBEATS" else [f"--model={model_name}"])
    times: dict[str, list[float]] = {"plain": [], "kampai": []}
    for _ in range(repeats):
        out = tempfile.mkdtemp()
        cmds = {
            "plain": [sys.executable, "-c", PLAIN_SCRIPT.format(bench=bench, model=model_name, epochs=epochs)],
            "kampai": [runner, "train", "--task", "forecasting", "--framework", "darts", "--data",
                       "statsmodels:co2", "--runs-dir", out, "-q", "split.horizon=24", *extra],
        }
        for name, cmd in cmds.items():
            start = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True, cwd=out)
            times[name].append(time.perf_counter() - start)
        shutil.rmtree(out)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--models", default="ExponentialSmoothing,NBEATS")
    parser.add_argument("--cli", action="store_true", help="also time runner train vs a plain script, as processes")
    opts = parser.parse_args()
    os.environ.setdefault("KAMPAI_BLOCK_PLUGINS", "mlflow")  # no tracker: compare the training path
    import torch

    torch.set_num_threads(opts.threads)
    print(f"co2 monthly (526 months), holdout {HORIZON}, threads={opts.threads}, torch={torch.__version__}, "
          f"repeats={opts.repeats}")
    for model_name in opts.models.split(","):
        times: dict[str, list[float]] = {"plain": [], "kampai": []}
        cpu: dict[str, list[float]] = {"plain": [], "kampai": []}  # less sensitive to a busy machine
        mase: dict[str, float] = {}
        for fn in (plain, with_kampai):  # warm-up: imports, first-call allocations
            out = tempfile.mkdtemp()
            fn(model_name, 1, out)
            shutil.rmtree(out)
        for _ in range(opts.repeats):
            for name, fn in (("plain", plain), ("kampai", with_kampai)):
                out = tempfile.mkdtemp()
                start, start_cpu = time.perf_counter(), time.process_time()
                mase[name] = fn(model_name, opts.epochs, out)
                times[name].append(time.perf_counter() - start)
                cpu[name].append(time.process_time() - start_cpu)
                shutil.rmtree(out)
        med = {k: statistics.median(v) for k, v in times.items()}
        label = model_name + (f" ({opts.epochs} epochs)" if model_name == "NBEATS" else "")
        print(f"\n{label}, in process:")
        for name in ("plain", "kampai"):
            print(f"  {name:7s} median {med[name]:.2f}s  runs {', '.join(f'{t:.2f}' for t in times[name])}  "
                  f"MASE {mase[name]:.4f}")
        print(f"  ratio kampai/plain = {med['kampai'] / med['plain']:.3f} (target <= 1.10)")
        cmed = {k: statistics.median(v) for k, v in cpu.items()}
        print(f"  CPU time: plain {cmed['plain']:.2f}s, kampai {cmed['kampai']:.2f}s, "
              f"ratio {cmed['kampai'] / cmed['plain']:.3f}")
        if model_name == "ExponentialSmoothing":
            print(f"  default model beats seasonal naive on the holdout: MASE {mase['kampai']:.4f} < 1: "
                  f"{mase['kampai'] < 1}")
        if opts.cli:
            cli = cli_times(model_name, opts.epochs, opts.repeats)
            cmed = {k: statistics.median(v) for k, v in cli.items()}
            print(f"{label}, as processes (runner train vs python script):")
            for name in ("plain", "kampai"):
                print(f"  {name:7s} median {cmed[name]:.2f}s  runs {', '.join(f'{t:.2f}' for t in cli[name])}")
            print(f"  ratio kampai/plain = {cmed['kampai'] / cmed['plain']:.3f} (target <= 1.10)")


if __name__ == "__main__":
    main()
