"""The texts ``runner init`` writes (filled with :meth:`str.format`; ``{{``/``}}`` are braces)."""

from __future__ import annotations

#: (task, framework) -> estimator, params, search space, split, metrics, sample data
EXPERIMENTS = {
    ("classification", "sklearn"): {
        "estimator": "RandomForestClassifier",
        "params": "    n_estimators: 100\n    max_depth: 5",
        "search": "    n_estimators: {type: int, low: 20, high: 300, log: true}\n"
                  "    max_depth: {type: int, low: 2, high: 12}",
        "split": "  method: stratified_kfold   # holdout | stratified | kfold | stratified_kfold | group | time ...\n"
                 "  folds: 5",
        "metrics": "[accuracy, f1_macro, roc_auc]",
        "dataset": "iris", "target": "species", "floor": "accuracy",
    },
    ("regression", "sklearn"): {
        "estimator": "HistGradientBoostingRegressor",
        "params": "    learning_rate: 0.1\n    max_iter: 100",
        "search": "    learning_rate: {type: float, low: 0.01, high: 0.3, log: true}\n"
                  "    max_leaf_nodes: {type: int, low: 8, high: 64, log: true}",
        "split": "  method: kfold             # holdout | random | kfold | group | time ...\n  folds: 5",
        "metrics": "[r2, mae, rmse]",
        "dataset": "diabetes", "target": "progression", "floor": "r2",
    },
}
# the deep-learning frameworks on the same tables (docs/deep-learning.md of kampai)
for _task, _base in (("classification", EXPERIMENTS[("classification", "sklearn")]),
                     ("regression", EXPERIMENTS[("regression", "sklearn")])):
    EXPERIMENTS[(_task, "torch")] = {
        **_base, "estimator": "MLP",
        "params": "    hidden: [64, 32]\n    dropout: 0.1\n    epochs: 30\n    lr: 0.01",
        "search": "    lr: {type: float, low: 0.0005, high: 0.05, log: true}\n"
                  "    dropout: {type: float, low: 0.0, high: 0.4}",
    }
    EXPERIMENTS[(_task, "fastai")] = {
        **_base, "estimator": "tabular",
        "params": "    epochs: 10\n    lr: 0.01",
        "search": "    lr: {type: float, low: 0.001, high: 0.1, log: true}\n    ps: {type: float, low: 0.0, high: 0.5}",
    }

EXPERIMENT = """\
# The experiment: everything about one model in one place (runner config show -c THIS prints
# it fully resolved, every default included; docs: docs/config.md of kampai).
# Train:  runner train -c conf/experiment.yaml      Tune:  runner tune -c conf/experiment.yaml

# A name for the runs of this experiment (runs/<date>-<name>-<id>/).
name: {name}

# What is learned (runner tasks list) and by which framework (runner frameworks list).
task: {task}
framework: {framework}
seed: 0                      # one seed for the split, the model and the tuning sampler

# The data: a CSV/Parquet file (or a bundled dataset such as sklearn:iris) and its target column.
data:
  path: data/sample.csv
  target: {target}

# How rows are split into training and evaluation (runner splits list).
split:
{split}

# The estimator (runner estimators list), its params (pipeline steps with sklearn's a__b
# syntax, e.g. preprocess__num__imputer__strategy: median) and the search space of runner tune.
model:
  estimator: {estimator}
  params:
{params}
  search:
{search}

# The metrics computed on every evaluation; the first ranks runs and drives tuning (runner metrics list).
metrics: {metrics}

# Tuning (runner tune): how many trials, which sampler; trials go to studies/<name>/.
tune:
  trials: 20
  sampler: tpe

# Where runs are written.
output:
  runs_dir: runs
"""

GITIGNORE = """\
# kampai: runs, studies, reports and caches are recomputed; keys are secrets
runs/
studies/
reports/
.kampai/
.kampai-cache/
*.key
.env
# Python
.venv/
__pycache__/
.ipynb_checkpoints/
"""

README = """\
# {name}

A kampai project: one experiment config (`conf/experiment.yaml`), a data sample (`data/`), a DVC
pipeline (`dvc.yaml`), a notebook (`notebooks/explore.ipynb`), tests and a CI workflow.

```bash
pip install 'kampai=={version}'              # 1. set up (or: python -m venv .venv && .venv/bin/pip install ...)
runner train -c conf/experiment.yaml         # 2. train, evaluate and save a run under runs/
```

Then: `runner runs list`, `runner tune -c conf/experiment.yaml`, `dvc repro`, `runner doctor`
(checks this environment), `pytest -q tests` (what CI runs).
"""

TEST = """\
\"\"\"The model of conf/experiment.yaml trains and beats a trivial floor (CI runs this).\"\"\"

import kampai


def test_the_experiment_trains_and_scores() -> None:
    run = kampai.train("conf/experiment.yaml", quiet=True, tracking={{"enabled": False}})
    assert run.metrics["{floor}"] > {threshold}
    assert len(run.predict("data/sample.csv")) > 0
"""

WORKFLOW = """\
# Train the experiment and run the tests on every push (GitHub Actions).
name: train
on: [push, pull_request]
jobs:
  train:
    runs-on: ubuntu-latest
    env:
      KAMPAI_NO_TRACK: "1"
      KAMPAI_SECRET_KEY: ${{{{ secrets.KAMPAI_SECRET_KEY || 'ci-only-key-not-secret-0123456789abcdef' }}}}
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
      - run: pip install 'kampai=={version}' pytest
      - run: runner doctor
      - run: runner train -c conf/experiment.yaml
      - run: pytest -q tests
"""
