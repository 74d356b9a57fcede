"""benchmarks/gpu_suite.py --dry-run: the GPU suite's code paths (every torch framework,
kampai beside the plain framework) on CPU with tiny sizes, so the script cannot rot
between GPU loans (docs/benchmarks.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

for module in ("torch", "transformers", "fastai", "skorch", "torch_geometric", "darts"):
    pytest.importorskip(module)

SCRIPT = Path(__file__).parent.parent / "benchmarks" / "gpu_suite.py"


@pytest.mark.slow
def test_gpu_suite_dry_run_runs_every_workload(tmp_path: Path) -> None:
    out = tmp_path / "rows.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "KAMPAI_BLOCK_PLUGINS": "mlflow"}
    result = subprocess.run([sys.executable, str(SCRIPT), "--dry-run", "--json", str(out)], capture_output=True,
                            text=True, env=env, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["dry_run"] is True
    names = [r["workload"] for r in report["rows"]]
    for part in ("transformers", "fast.ai tabular", "skorch", "fast.ai vision", "PyG", "Darts NBEATS", "DDP"):
        assert any(part in n for n in names), names
    measured = [r for r in report["rows"] if "ratio" in r]
    assert len(measured) == 6 and all(r["kampai_samples_per_s"] > 0 and r["plain_samples_per_s"] > 0
                                      for r in measured)
    assert "| workload | kampai samples/s |" in result.stdout
