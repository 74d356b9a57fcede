"""The README's first experiment, end to end through the real CLI."""

from __future__ import annotations

import json

from conftest import ROOT


def test_train_iris_config_from_cli(cli) -> None:
    result = cli("train", "-c", str(ROOT / "conf/experiments/iris.yaml"), "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert set(payload) == {"run_id", "run_dir", "metrics"}
    assert payload["metrics"]["accuracy"] > 0.9
    assert "accuracy_std" in payload["metrics"]  # 5-fold CV gives mean and std
